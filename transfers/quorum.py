"""Which approvals count toward a request's quorum — one rule for the decision (transfers.services.
decisions) and for the worker's re-check before sending (transfers.execution.checks)."""

from __future__ import annotations

from django.db.models import QuerySet

from transfers.approval_proof import passkey_required
from transfers.models import Approval, Decision, StepUpMethod, TransferRequest


def approvals_counted(*, req: TransferRequest) -> QuerySet[Approval]:
    """Approvals of the current payload hash by people other than the requester. Above the policy
    rule's passkey threshold only passkey-signed ones count: `passkey_approvals_only`."""
    approvals = (
        Approval.objects.filter(request=req, decision=Decision.APPROVE, payload_sha256=req.payload_sha256)
        .exclude(approver_id=req.requested_by_id)
        .select_related("approver")
        .order_by("pk")
    )
    return approvals


def passkey_approvals_only(*, req: TransferRequest, approvals: QuerySet[Approval]) -> QuerySet[Approval]:
    """Above the rule's threshold TOTP and recovery-code approvals do not count."""
    return approvals.filter(stepup_method=StepUpMethod.WEBAUTHN) if passkey_required(req=req) else approvals
