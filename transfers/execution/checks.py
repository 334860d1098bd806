"""What execution re-checks after the claim and before anything is sent."""

from __future__ import annotations

from accounts.models import KeySetStatus
from transfers.models import Approval, Decision, TransferRequest
from transfers.payload import payload_verify
from transfers.policy import policy_version_current


def refusal_reason(req: TransferRequest) -> str | None:
    """Why this request must not be sent now, or None. Runs after the claim, before any call."""
    if not payload_verify(request=req):
        return "The payload no longer matches its approved SHA-256; nothing was sent."
    approvals = Approval.objects.filter(
        request=req, decision=Decision.APPROVE, payload_sha256=req.payload_sha256
    ).exclude(approver_id=req.requested_by_id)
    if approvals.count() < req.required_approvals:
        return (
            f"Only {approvals.count()} of {req.required_approvals} required approvals match the payload; "
            "nothing was sent."
        )
    if req.key_set.status != KeySetStatus.ACTIVE:
        return f"Key set “{req.key_set.label}” is not active; nothing was sent."
    current = policy_version_current()
    if current != req.policy_version:
        return (
            f"The approval policy changed after this request was approved (v{req.policy_version} → "
            f"v{current}); nothing was sent. Submit a new request."
        )
    return None
