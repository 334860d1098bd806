"""What execution re-checks after the claim and before anything is sent.

Everything approval relied on must still hold when the worker is about to send (shared/DESIGN.md §4).
Two lists of small named checks; each returns a sentence for people (ending "nothing was sent") or None:

- REQUEST_CHECKS: the request as a whole (payload hash, key set, base URL, policy version, maximum
  age, recipient, quorum). The first refusal wins and the request ends FAILED.
- APPROVAL_CHECKS: why one approval no longer counts (approver deactivated, approve grant revoked).
  `approvals_still_count` counts the approvals passing all of them the way the approval quorum does
  (transfers.services.decisions `_decided_status`: approvals of the current payload hash by people
  other than the requester); short of the quorum, the request fails naming who was dropped and why.

Another check is one more function appended to either list.
"""

from __future__ import annotations

from contextvars import ContextVar
from datetime import timedelta
from typing import Protocol

from django.conf import settings
from django.utils import timezone

from accounts.access import Capability, user_can, users_holding
from accounts.models import KeySetStatus, User
from exchange.base_urls import base_url_refusal
from transfers.approval_proof import approval_proof_problem, passkey_required, passkey_threshold
from transfers.models import Approval, RecipientType, StepUpMethod, TransferKind, TransferRequest
from transfers.payload import payload_verify
from transfers.policy import policy_version_current
from transfers.policy_scope import policy_version_holds, request_facts
from transfers.quorum import approvals_counted
from transfers.recipients import (
    RecipientRefused,
    family_uids,
    own_uid_known,
    recipient_check,
    recipient_clean,
)

NOTHING_SENT = "nothing was sent"


class RequestCheck(Protocol):
    def __call__(self, *, req: TransferRequest) -> str | None: ...


class ApprovalCheck(Protocol):
    def __call__(self, *, req: TransferRequest, approval: Approval) -> str | None: ...


def _person(user: User) -> str:
    return user.get_full_name() or user.get_username()


# --- why one approval no longer counts ------------------------------------------------------------


def approver_active(*, req: TransferRequest, approval: Approval) -> str | None:
    if not approval.approver.is_active:
        return f"{_person(approval.approver)} has been deactivated"
    return None


# Who among a request's approvers holds approve, read once per re-check by `approvals_still_count`
# (one query for every approver rather than one per approver).
_approve_holders: ContextVar[set[int] | None] = ContextVar("approve_holders", default=None)


def approver_holds_approve(*, req: TransferRequest, approval: Approval) -> str | None:
    holders = _approve_holders.get()
    if holders is not None:
        holds = approval.approver_id in holders
    else:
        holds = user_can(user=approval.approver, key_set=req.key_set, capability=Capability.APPROVE)
    if not holds:
        return f"{_person(approval.approver)} no longer holds approve on “{req.key_set.label}”"
    return None


def approval_second_factor_holds(*, req: TransferRequest, approval: Approval) -> str | None:
    """The desk's seal, and a passkey approval's signature over this request, decision and payload hash
    (transfers.approval_proof); above the rule's threshold only passkey-signed approvals count."""
    problem = approval_proof_problem(approval=approval)
    if problem is not None:
        return f"the approval by {_person(approval.approver)} {problem}"
    if passkey_required(req=req) and approval.stepup_method != StepUpMethod.WEBAUTHN:
        return (
            f"the approval by {_person(approval.approver)} is not passkey-signed, and above "
            f"{passkey_threshold(req=req)} {req.asset} only passkey-signed approvals count"
        )
    return None


APPROVAL_CHECKS: list[ApprovalCheck] = [approver_active, approver_holds_approve, approval_second_factor_holds]


# --- the request as a whole ----------------------------------------------------------------------


def payload_intact(*, req: TransferRequest) -> str | None:
    if not payload_verify(request=req):
        return f"The payload no longer matches its approved SHA-256; {NOTHING_SENT}."
    return None


def key_set_active(*, req: TransferRequest) -> str | None:
    if req.key_set.status != KeySetStatus.ACTIVE:
        return f"Key set “{req.key_set.label}” is not active; {NOTHING_SENT}."
    return None


def key_set_base_url_allowed(*, req: TransferRequest) -> str | None:
    ks = req.key_set
    reason = base_url_refusal(environment=ks.environment, base_url=ks.base_url)
    if reason is not None:
        return f"Key set “{ks.label}” may not call {ks.base_url}: {reason} {NOTHING_SENT.capitalize()}."
    return None


def policy_unchanged(*, req: TransferRequest) -> str | None:
    """None while no policy change applied since submission can affect the request (policy_scope)."""
    current = policy_version_current()
    if not policy_version_holds(version=req.policy_version, facts=request_facts(req), current=current):
        return (
            f"The approval policy changed after this request was approved (v{req.policy_version} → "
            f"v{current}); {NOTHING_SENT}. Submit a new request."
        )
    return None


def younger_than_max_age(*, req: TransferRequest) -> str | None:
    hours = settings.TRANSFER_MAX_AGE_HOURS
    if timezone.now() - req.created_at > timedelta(hours=hours):
        return (
            f"This request is older than the maximum age of {hours} hours (submitted "
            f"{req.created_at:%Y-%m-%d %H:%M} UTC); {NOTHING_SENT}. Submit a new request."
        )
    return None


def recipient_still_allowed(*, req: TransferRequest) -> str | None:
    """Inner transfers: still one of our own accounts or an active address-book entry. Family moves:
    both sides still the main account or a sub-account discovered from it."""
    p = req.payload
    if req.kind in (TransferKind.INNER, TransferKind.SUB_INNER):
        what = f"{RecipientType(int(p['recipient_type'])).label} {p['recipient_account']}"
        try:
            clean = recipient_clean(
                recipient_type=p["recipient_type"],
                account=str(p["recipient_account"]),
                calling_code=str(p.get("calling_code") or ""),
            )
            own = (
                clean.recipient_type == RecipientType.UID
                and not (req.key_set.uid and int(clean.account) == int(req.key_set.uid))
                and own_uid_known(key_set=req.key_set, uid=int(clean.account))
            )
            if not own:  # the address book, or the refusal, as at submission
                recipient_check(key_set=req.key_set, recipient=clean)
        except RecipientRefused:
            return (
                f"The recipient {what} is no longer allowed: it has no active address-book entry and is not "
                f"one of the team's own accounts; {NOTHING_SENT}."
            )
    elif req.kind == TransferKind.FAMILY:
        family = family_uids(key_set=req.key_set)
        main_uid = int(req.key_set.uid) if req.key_set.uid is not None else None
        for side in ("from", "to"):
            uid = int(p[f"{side}_uid"])
            known = uid == main_uid if int(p[f"{side}_type"]) == 1 else uid in family
            if not known:
                return (
                    f"UID {uid} is no longer this key set's main account or a sub-account discovered from "
                    f"it; {NOTHING_SENT}."
                )
    return None


def approvals_still_count(*, req: TransferRequest) -> str | None:
    counted = 0
    dropped: list[str] = []
    approvals = list(approvals_counted(req=req))
    holders = users_holding(
        user_ids=[a.approver_id for a in approvals], key_set=req.key_set, capability=Capability.APPROVE
    )
    token = _approve_holders.set(holders)
    try:
        for approval in approvals:
            reasons = [r for check in APPROVAL_CHECKS if (r := check(req=req, approval=approval)) is not None]
            if reasons:
                dropped.append(reasons[0])
            else:
                counted += 1
    finally:
        _approve_holders.reset(token)
    if counted >= req.required_approvals:
        return None
    if dropped:
        return (
            f"{'; '.join(dropped)}: only {counted} of {req.required_approvals} required approvals still "
            f"count; {NOTHING_SENT}."
        )
    return f"Only {counted} of {req.required_approvals} required approvals match the payload; {NOTHING_SENT}."


REQUEST_CHECKS: list[RequestCheck] = [
    payload_intact,
    key_set_active,
    key_set_base_url_allowed,
    policy_unchanged,
    younger_than_max_age,
    recipient_still_allowed,
    approvals_still_count,
]


def refusal_reason(req: TransferRequest) -> str | None:
    """Why this request must not be sent now, or None. Runs after the claim, before any call."""
    for check in REQUEST_CHECKS:
        try:
            reason = check(req=req)
        except (KeyError, TypeError, ValueError) as exc:  # a payload that cannot be checked is not sent
            name = getattr(check, "__name__", "a check")
            reason = f"The request cannot be re-checked ({name}: {exc!r}); {NOTHING_SENT}."
        if reason is not None:
            return reason
    return None
