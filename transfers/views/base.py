"""What every transfers page shares: domain refusals and missing objects become 403/404 pages."""

from accounts.web import denied_as_http
from transfers.models import TransferRequest

guarded = denied_as_http(not_found=TransferRequest.DoesNotExist, what="transfer request")
