"""Which approvals count toward a request's quorum — one rule for the decision (transfers.services.
decisions) and for the worker's re-check before sending (transfers.execution.checks)."""

from __future__ import annotations

from collections.abc import Sequence

from django.db.models import Count, F, Q, QuerySet

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


def approvals_counted_per_request(*, requests: Sequence[TransferRequest]) -> dict[int, int]:
    """How many approvals count on each request, by id, in one query: what
    `passkey_approvals_only(req=r, approvals=approvals_counted(req=r)).count()` answers for each
    (a batch's approval counts every leg; tests/transfers/test_batches.py compares the two)."""
    passkey_only = [r.pk for r in requests if passkey_required(req=r)]
    rows = (
        Approval.objects.filter(
            request__in=[r.pk for r in requests],
            decision=Decision.APPROVE,
            payload_sha256=F("request__payload_sha256"),
        )
        .exclude(approver_id=F("request__requested_by_id"))
        .filter(~Q(request_id__in=passkey_only) | Q(stepup_method=StepUpMethod.WEBAUTHN))
        .values("request_id")
        .annotate(n=Count("pk"))
        .values_list("request_id", "n")
    )
    counts = {r.pk: 0 for r in requests}
    counts.update({int(request_id): int(n) for request_id, n in rows})
    return counts
