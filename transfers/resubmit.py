""" "Submit again" for a stale, expired or failed request: who is offered it, and what it became.

The new request is made by transfers.services.requests.transfer_request_create(resubmit_of=...):
a new payload, hash and client id, new approvals under the current policy; the audit trail links
the two both ways ("transfer.request" with resubmit_of, "transfer.resubmitted" on the old one).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.urls import reverse

from accounts.access import Capability, user_can
from accounts.models import AuditEvent, User
from transfers.models import Status, TransferRequest

RESUBMITTABLE = (Status.STALE, Status.EXPIRED, Status.FAILED)


@dataclass(frozen=True)
class SubmitAgain:
    offered: bool
    url: str = ""
    resubmitted_as: list[int] = field(default_factory=list)


def submit_again_for(*, user: User, req: TransferRequest) -> SubmitAgain:
    """The button for people who may request on the key set (a batch leg is retried with its batch)."""
    if req.status not in RESUBMITTABLE:
        return SubmitAgain(offered=False)
    later = AuditEvent.objects.filter(
        verb="transfer.resubmitted", object_type=req._meta.label_lower, object_id=str(req.pk)
    ).values_list("after", flat=True)
    resubmitted = [int(a["resubmitted_as"]) for a in later if isinstance(a, dict) and a.get("resubmitted_as")]
    offered = req.batch_id is None and user_can(user=user, key_set=req.key_set, capability=Capability.REQUEST)
    url = reverse("transfers:request_new") + f"?kind={req.kind}&again={req.pk}" if offered else ""
    return SubmitAgain(offered=offered, url=url, resubmitted_as=sorted(resubmitted))
