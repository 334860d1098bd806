"""Approve and reject, each confirmed with a second factor (accounts.stepup) bound to the decision; quorum
reached → APPROVED and execution enqueued."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.access import Capability, user_can
from accounts.audit import audit_record
from accounts.models import KeySetStatus, User
from accounts.stepup import ASSERTION_FIELD, StepUpProof, StepUpRefused, stepup_verify
from transfers import dispatch, notifications
from transfers.approval_proof import (
    approval_binding,
    approval_purpose,
    approval_seal,
    passkey_required,
    passkey_threshold,
)
from transfers.lifecycle import transition
from transfers.models import (
    Approval,
    Decision,
    Status,
    TransferRequest,
)
from transfers.payload import (
    payload_verify,
)
from transfers.policy_scope import request_policy_holds
from transfers.quorum import approvals_counted, passkey_approvals_only
from transfers.refusals import DecisionRefused
from transfers.services.requests import request_state


def _decision_refusal(*, req: TransferRequest, user: User) -> None:
    """Raise DecisionRefused for anything that makes this user's decision impossible (nothing changes)."""
    if not user.is_active or not user_can(user=user, key_set=req.key_set, capability=Capability.APPROVE):
        raise DecisionRefused(
            f"You do not have the approve grant on key set “{req.key_set.label}”.", code="no_grant"
        )
    if req.requested_by_id == user.pk:
        raise DecisionRefused(
            "You cannot approve or reject your own request; someone else must.", code="own_request"
        )
    if req.batch_id is not None:  # one decision covers every leg (transfers.services.batches)
        raise DecisionRefused(
            f"This is a leg of batch #{req.batch_id}; approve or reject the batch as a whole.",
            code="batch_leg",
        )
    if req.approvals.filter(approver=user).exists():
        raise DecisionRefused("You have already decided this request.", code="already_decided")
    if req.status != Status.PENDING:
        raise DecisionRefused(
            f"This request is no longer waiting for approval (it is {req.get_status_display().lower()}).",
            code="not_pending",
        )


def _lapse_reason(*, req: TransferRequest, now: datetime) -> tuple[str, str, str] | None:
    """(new status, verb, message) when a pending request can no longer be decided, else None."""
    if req.expires_at <= now:
        return Status.EXPIRED, "transfer.expire", "This request has expired; submit a new one."
    if req.key_set.status != KeySetStatus.ACTIVE:
        return (
            Status.STALE,
            "transfer.stale",
            f"Key set “{req.key_set.label}” is no longer active; this request is now stale.",
        )
    if not request_policy_holds(req):  # a change since that can affect it (transfers.policy_scope)
        return (
            Status.STALE,
            "transfer.stale",
            "The approval policy changed after this request was submitted; it is now stale. "
            "Submit a new one.",
        )
    if not payload_verify(request=req):
        return (
            Status.STALE,
            "transfer.tampered",
            "The stored payload no longer matches its SHA-256; this request cannot be approved.",
        )
    return None


def _lapse(
    *, req: TransferRequest, status: str, verb: str, message: str, actor: User, ip: str | None
) -> None:
    changes: dict[str, Any] = {"attention_reason": message}
    if verb == "transfer.tampered":
        changes["needs_attention"] = True
    transition(
        request=req,
        from_statuses=(Status.PENDING,),
        to_status=status,
        verb=verb,
        actor=actor,
        changes=changes,
        after={"status": status, "reason": message},
        ip=ip,
    )


def _step_up(
    *, req: TransferRequest, user: User, decision: str, stepup: Mapping[str, str], ip: str | None
) -> StepUpProof:
    """The second factor, checked before the decision's transaction (its failures must stay committed).
    A passkey must sign the challenge derived from this request, decision and payload hash."""
    if decision == Decision.APPROVE and passkey_required(req=req) and not stepup.get(ASSERTION_FIELD):
        raise DecisionRefused(
            f"Above {passkey_threshold(req=req)} {req.asset} the policy counts only passkey-signed "
            "approvals: approve with your passkey. Nothing was changed.",
            code="passkey_required",
        )
    binding = approval_binding(request_id=req.pk, decision=decision, payload_sha256=req.payload_sha256)
    try:
        return stepup_verify(
            user=user, data=stepup, purpose=approval_purpose(decision=decision), binding=binding, ip=ip
        )
    except StepUpRefused as exc:
        code = "locked" if exc.code == "locked" else "second_factor"
        raise DecisionRefused(f"{exc} Nothing was changed.", code=code) from None


def _decide(
    *,
    request_id: int,
    user: User,
    decision: str,
    stepup: Mapping[str, str],
    comment: str,
    ip: str | None,
    user_agent: str,
) -> TransferRequest:
    """Refusals that need no second factor come first (nothing is spent); then the step-up (throttled
    per person, accounts.stepup); then the decision under the request's row lock, checked again."""
    req = TransferRequest.objects.select_related("key_set", "policy_rule").filter(pk=request_id).first()
    if req is None:
        raise DecisionRefused("No such request.", code="not_found")
    _decision_refusal(req=req, user=user)
    if decision == Decision.REJECT and not (comment or "").strip():  # before a second factor is spent
        raise DecisionRefused(
            "Say why you reject this request: the requester reads your reason. Nothing was changed.",
            code="reason_required",
        )
    proof = _step_up(req=req, user=user, decision=decision, stepup=stepup, ip=ip)
    return _decide_locked(
        request_id=request_id,
        user=user,
        decision=decision,
        proof=proof,
        comment=comment,
        ip=ip,
        user_agent=user_agent,
    )


def _decided_status(*, req: TransferRequest, decision: str) -> str | None:
    """REJECTED on a reject; APPROVED once approvals of this payload by others reach the quorum."""
    if decision == Decision.REJECT:
        return Status.REJECTED
    approvals = passkey_approvals_only(req=req, approvals=approvals_counted(req=req))
    return Status.APPROVED if approvals.count() >= req.required_approvals else None


def _decide_locked(
    *,
    request_id: int,
    user: User,
    decision: str,
    proof: StepUpProof,
    comment: str,
    ip: str | None,
    user_agent: str,
) -> TransferRequest:
    comment = (comment or "").strip()[:500]
    lapsed: str | None = None
    with transaction.atomic():
        req = (
            TransferRequest.objects.select_for_update(of=("self",))
            .select_related("key_set", "policy_rule")
            .filter(pk=request_id)
            .first()
        )
        if req is None:
            raise DecisionRefused("No such request.", code="not_found")
        _decision_refusal(req=req, user=user)
        lapse = _lapse_reason(req=req, now=timezone.now())
        if lapse is not None:
            status, verb, lapsed = lapse
            _lapse(req=req, status=status, verb=verb, message=lapsed, actor=user, ip=ip)
        else:
            before = request_state(req)
            try:
                with transaction.atomic():
                    Approval.objects.create(
                        request=req,
                        approver=user,
                        decision=decision,
                        payload_sha256=req.payload_sha256,
                        comment=comment,
                        ip=ip,
                        user_agent=(user_agent or "")[:300],
                        stepup_method=proof.method,
                        stepup_assertion=proof.detail,
                        stepup_seal=approval_seal(
                            request_id=req.pk,
                            decision=decision,
                            payload_sha256=req.payload_sha256,
                            approver_id=user.pk,
                            method=proof.method,
                            assertion=proof.detail,
                        ),
                    )
            except IntegrityError:  # the unique constraint backs the check above
                raise DecisionRefused(
                    "You have already decided this request.", code="already_decided"
                ) from None
            to_status = _decided_status(req=req, decision=decision)
            after = {
                **request_state(req),
                "comment": comment,
                "payload_sha256": req.payload_sha256,
                "second_factor": proof.method,
            }
            pk = req.pk
            if to_status is None:  # an approval short of the quorum: recorded, the request waits
                audit_record(
                    actor=user, verb=f"transfer.{decision}", obj=req, before=before, after=after, ip=ip
                )
            else:
                transition(
                    request=req,
                    from_statuses=(Status.PENDING,),
                    to_status=to_status,
                    verb=f"transfer.{decision}",
                    actor=user,
                    changes={"decided_at": timezone.now()},
                    before=before,
                    after={**after, "status": to_status},
                    ip=ip,
                    on_commit=(
                        (lambda: dispatch.transfer_execute_enqueue(request_id=pk))
                        if to_status == Status.APPROVED
                        else None
                    ),
                )
            if req.status in (Status.APPROVED, Status.REJECTED):
                transaction.on_commit(
                    lambda: notifications.notify_requester_decided(request_id=pk), robust=True
                )
    if lapsed is not None:
        code = "expired" if req.status == Status.EXPIRED else "stale"
        raise DecisionRefused(lapsed, code=code)
    return req


def transfer_request_approve(
    *,
    request_id: int,
    approver: User,
    stepup: Mapping[str, str],
    comment: str = "",
    ip: str | None = None,
    user_agent: str = "",
) -> TransferRequest:
    """Approve, confirmed by the second factor in `stepup` (request.POST: stepup_code or
    stepup_assertion). Quorum reached → APPROVED and execution is enqueued on commit.

    Refusals raise DecisionRefused; a request found expired, stale or tampered is marked so (committed)
    before the refusal is raised.
    """
    return _decide(
        request_id=request_id,
        user=approver,
        decision=Decision.APPROVE,
        stepup=stepup,
        comment=comment,
        ip=ip,
        user_agent=user_agent,
    )


def transfer_request_reject(
    *,
    request_id: int,
    approver: User,
    stepup: Mapping[str, str],
    comment: str = "",
    ip: str | None = None,
    user_agent: str = "",
) -> TransferRequest:
    """Reject, confirmed by a second factor, with a reason (`comment`, required): one eligible
    approver's reject ends the request."""
    return _decide(
        request_id=request_id,
        user=approver,
        decision=Decision.REJECT,
        stepup=stepup,
        comment=comment,
        ip=ip,
        user_agent=user_agent,
    )
