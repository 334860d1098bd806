"""Approve and reject a batch, confirmed by one second factor bound to the batch's hash over every leg.

The decision is recorded as one Approval per leg, bound to that leg's own payload hash and sealed for
that leg (transfers.approval_proof), in one transaction after one step-up verification. So the
worker's re-checks (transfers.execution.checks) count a batch approval on each leg exactly as they
count a single request's, and a leg whose payload changed after approval finds no approval of its
hash. A passkey signs the batch binding; the leg's proof check verifies it against the batch.
When the quorum is reached every leg goes APPROVED in the same transaction and is enqueued on commit.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import partial

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.access import Capability, user_can
from accounts.audit import audit_record
from accounts.models import KeySetStatus, User
from accounts.stepup import ASSERTION_FIELD, StepUpProof, StepUpRefused, stepup_verify
from transfers import dispatch, notifications
from transfers.approval_proof import approval_purpose, approval_seal, batch_approval_binding, passkey_required
from transfers.lifecycle import transition
from transfers.models import Approval, BatchStatus, Decision, Status, TransferBatch, TransferRequest
from transfers.payload import batch_payload_sha256, payload_verify
from transfers.policy import policy_version_current
from transfers.policy_scope import policy_version_holds, request_facts
from transfers.quorum import approvals_counted_per_request
from transfers.refusals import DecisionRefused
from transfers.services.batches import batch_close


def _legs(batch: TransferBatch) -> list[TransferRequest]:
    return list(batch.legs.select_related("key_set", "policy_rule", "batch").order_by("leg_index"))


def batch_decision_refusal(*, batch: TransferBatch, legs: list[TransferRequest], user: User) -> None:
    """Raise DecisionRefused for anything that makes this user's decision on the batch impossible."""
    if not user.is_active:
        raise DecisionRefused("Your account is not active.", code="no_grant")
    for key_set in {leg.key_set for leg in legs}:
        if not user_can(user=user, key_set=key_set, capability=Capability.APPROVE):
            raise DecisionRefused(
                f"You do not have the approve grant on key set “{key_set.label}”, which this batch uses.",
                code="no_grant",
            )
    if batch.requested_by_id == user.pk:
        raise DecisionRefused(
            "You cannot approve or reject your own batch; someone else must.", code="own_request"
        )
    if Approval.objects.filter(request__batch=batch, approver=user).exists():
        raise DecisionRefused("You have already decided this batch.", code="already_decided")
    if batch.status != BatchStatus.PENDING:
        raise DecisionRefused(
            f"This batch is no longer waiting for approval (it is {batch.get_status_display().lower()}).",
            code="not_pending",
        )


def batch_passkey_required(legs: list[TransferRequest]) -> bool:
    return any(passkey_required(req=leg) for leg in legs)


def _lapse_reason(
    *, batch: TransferBatch, legs: list[TransferRequest], now: datetime
) -> tuple[str, str] | None:
    """(batch status, message) when a pending batch can no longer be decided, else None."""
    if batch.expires_at <= now:
        return BatchStatus.EXPIRED, "This batch has expired; submit a new one."
    for leg in legs:
        if leg.key_set.status != KeySetStatus.ACTIVE:
            return (
                BatchStatus.STALE,
                f"Key set “{leg.key_set.label}” is no longer active; the batch is stale.",
            )
    current = policy_version_current()  # once for every leg, not once per leg
    if not all(
        policy_version_holds(version=batch.policy_version, facts=request_facts(leg), current=current)
        for leg in legs
    ):
        return BatchStatus.STALE, "The approval policy changed after this batch was submitted; it is stale."
    payload = batch.payload
    intact = (
        isinstance(payload, list)
        and batch_payload_sha256(payload) == batch.payload_sha256
        and len(payload) == len(legs)
        and all(
            leg.leg_index == i and leg.payload == payload[i] and payload_verify(request=leg)
            for i, leg in enumerate(legs)
        )
    )
    if not intact:
        return (
            BatchStatus.STALE,
            "The stored legs no longer match the batch's SHA-256; it cannot be approved.",
        )
    lapsed = [leg for leg in legs if leg.status != Status.PENDING]
    if lapsed:
        leg = lapsed[0]
        return (
            BatchStatus.STALE,
            f"Leg {leg.leg_index} (request #{leg.pk}) is {leg.get_status_display().lower()}; "
            "the batch can no longer be decided. Submit a new one.",
        )
    return None


def _step_up(
    *,
    batch: TransferBatch,
    legs: list[TransferRequest],
    user: User,
    decision: str,
    stepup: Mapping[str, str],
    ip: str | None,
) -> StepUpProof:
    if decision == Decision.APPROVE and batch_passkey_required(legs) and not stepup.get(ASSERTION_FIELD):
        raise DecisionRefused(
            "A leg of this batch is above its rule's passkey threshold: approve with your passkey. "
            "Nothing was changed.",
            code="passkey_required",
        )
    binding = batch_approval_binding(
        batch_id=batch.pk, decision=decision, payload_sha256=batch.payload_sha256
    )
    try:
        return stepup_verify(
            user=user, data=stepup, purpose=approval_purpose(decision=decision), binding=binding, ip=ip
        )
    except StepUpRefused as exc:
        code = "locked" if exc.code == "locked" else "second_factor"
        raise DecisionRefused(f"{exc} Nothing was changed.", code=code) from None


def _batch_approvals(*, legs: list[TransferRequest]) -> int:
    """Approvals that count on the batch: the fewest any leg has (each leg counts as a single request)."""
    counts = approvals_counted_per_request(requests=legs)
    return min(counts[leg.pk] for leg in legs)


def _decide(
    *,
    batch_id: int,
    user: User,
    decision: str,
    stepup: Mapping[str, str],
    comment: str,
    ip: str | None,
    user_agent: str,
) -> TransferBatch:
    batch = TransferBatch.objects.filter(pk=batch_id).first()
    if batch is None:
        raise DecisionRefused("No such batch.", code="not_found")
    legs = _legs(batch)
    batch_decision_refusal(batch=batch, legs=legs, user=user)
    proof = _step_up(batch=batch, legs=legs, user=user, decision=decision, stepup=stepup, ip=ip)
    comment = (comment or "").strip()[:500]
    lapsed: str | None = None
    with transaction.atomic():
        batch = TransferBatch.objects.select_for_update().get(pk=batch_id)
        list(batch.legs.select_for_update().order_by("leg_index").values_list("pk", flat=True))
        legs = _legs(batch)
        batch_decision_refusal(batch=batch, legs=legs, user=user)
        lapse = _lapse_reason(batch=batch, legs=legs, now=timezone.now())
        if lapse is not None:
            status, lapsed = lapse
            verb = "transfer.batch.expire" if status == BatchStatus.EXPIRED else "transfer.batch.stale"
            batch_close(batch=batch, status=status, verb=verb, actor=user, ip=ip, reason=lapsed)
        else:
            _record(
                batch=batch,
                legs=legs,
                user=user,
                decision=decision,
                proof=proof,
                comment=comment,
                ip=ip,
                user_agent=user_agent,
            )
    if lapsed is not None:
        raise DecisionRefused(lapsed, code="expired" if batch.status == BatchStatus.EXPIRED else "stale")
    return batch


def _record(
    *,
    batch: TransferBatch,
    legs: list[TransferRequest],
    user: User,
    decision: str,
    proof: StepUpProof,
    comment: str,
    ip: str | None,
    user_agent: str,
) -> None:
    try:
        with transaction.atomic():
            Approval.objects.bulk_create(
                Approval(
                    request=leg,
                    approver=user,
                    decision=decision,
                    payload_sha256=leg.payload_sha256,
                    comment=comment,
                    ip=ip,
                    user_agent=(user_agent or "")[:300],
                    stepup_method=proof.method,
                    stepup_assertion=proof.detail,
                    stepup_seal=approval_seal(
                        request_id=leg.pk,
                        decision=decision,
                        payload_sha256=leg.payload_sha256,
                        approver_id=user.pk,
                        method=proof.method,
                        assertion=proof.detail,
                    ),
                )
                for leg in legs
            )
    except IntegrityError:  # the unique constraint backs the check above
        raise DecisionRefused("You have already decided this batch.", code="already_decided") from None
    after = {"comment": comment, "payload_sha256": batch.payload_sha256, "second_factor": proof.method}
    if decision == Decision.REJECT:
        batch_close(batch=batch, status=BatchStatus.REJECTED, verb="transfer.batch.reject", actor=user, ip=ip)
        return
    approvals = _batch_approvals(legs=legs)
    if approvals < batch.required_approvals:
        audit_record(
            actor=user,
            verb="transfer.batch.approve",
            obj=batch,
            after={**after, "status": batch.status, "approvals": approvals},
            ip=ip,
        )
        return
    now = timezone.now()
    approved = [
        leg
        for leg in legs
        if transition(
            request=leg,
            from_statuses=(Status.PENDING,),
            to_status=Status.APPROVED,
            verb="transfer.approve",
            actor=user,
            changes={"decided_at": now},
            after={"status": Status.APPROVED, "batch": batch.pk, "payload_sha256": leg.payload_sha256},
            ip=ip,
        )
    ]
    # robust: a broker outage must not undo the approval; the sweeper enqueues what was not sent.
    transaction.on_commit(
        partial(dispatch.transfer_execute_enqueue_many, requests=legs_interleaved_by_account(approved)),
        robust=True,
    )
    batch.status = BatchStatus.APPROVED
    batch.decided_at = now
    batch.save(update_fields=["status", "decided_at", "updated_at"])
    batch_id = batch.pk
    transaction.on_commit(
        lambda: notifications.notify_requester_batch_decided(batch_id=batch_id), robust=True
    )
    audit_record(
        actor=user,
        verb="transfer.batch.approve",
        obj=batch,
        after={**after, "status": batch.status, "approvals": approvals},
        ip=ip,
    )


def legs_interleaved_by_account(legs: list[TransferRequest]) -> list[TransferRequest]:
    """The legs round-robin over their key sets (BingX limits per account UID), each key set's legs
    in batch order. Enqueueing books each leg's rate-limit slot: in this order every account's first
    slot is booked within the first few bookings, so no account's run starts late because the legs
    of the accounts before it (a batch grouped by account) were booked first."""
    by_key_set: dict[int, list[TransferRequest]] = {}
    for leg in legs:
        by_key_set.setdefault(leg.key_set_id, []).append(leg)
    queues = list(by_key_set.values())
    return [queue[n] for n in range(max(map(len, queues), default=0)) for queue in queues if n < len(queue)]


def transfer_batch_approve(
    *,
    batch_id: int,
    approver: User,
    stepup: Mapping[str, str],
    comment: str = "",
    ip: str | None = None,
    user_agent: str = "",
) -> TransferBatch:
    """Approve every leg at once, confirmed by one second factor bound to the batch's hash. Quorum
    reached → every leg APPROVED and enqueued on commit. A lapsed batch is closed (committed) and refused."""
    return _decide(
        batch_id=batch_id,
        user=approver,
        decision=Decision.APPROVE,
        stepup=stepup,
        comment=comment,
        ip=ip,
        user_agent=user_agent,
    )


def transfer_batch_reject(
    *,
    batch_id: int,
    approver: User,
    stepup: Mapping[str, str],
    comment: str = "",
    ip: str | None = None,
    user_agent: str = "",
) -> TransferBatch:
    """Reject the whole batch: one eligible approver's reject ends every leg."""
    return _decide(
        batch_id=batch_id,
        user=approver,
        decision=Decision.REJECT,
        stepup=stepup,
        comment=comment,
        ip=ip,
        user_agent=user_agent,
    )
