"""Writes of the two-person workflow: each is one transaction, locks what it changes, writes one audit event.

Requests: `transfer_request_create`, `transfer_request_approve`, `transfer_request_reject`,
`transfer_request_cancel`, `transfer_requests_expire`. Policy (four-eyes): `policy_change_propose`
stores a pending change, `policy_change_approve` (a second administrator) applies it through the
private rule/limit services, which bump the policy version and make pending requests stale;
`policy_change_reject`, `policy_change_cancel`. The address book lives in transfers.recipients.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts.access import Capability, ensure_admin, user_can
from accounts.audit import audit_record
from accounts.models import AccountKind, ApiKeySet, AuditEvent, KeySetStatus, User
from transfers import notifications
from transfers.models import (
    Approval,
    DailyLimit,
    Decision,
    PolicyChangeAction,
    PolicyChangeRequest,
    PolicyChangeStatus,
    PolicyRule,
    Status,
    TransferKind,
    TransferRequest,
)
from transfers.payload import (
    FAMILY_ACCOUNT_TYPES,
    FAMILY_MEMBER_TYPES,
    WALLET_TYPES,
    WALLETS,
    PayloadError,
    amount_clean,
    asset_clean,
    new_client_id,
    payload_build,
    payload_sha256,
    payload_verify,
)
from transfers.policy import (
    daily_limit_for,
    daily_used,
    eligible_approvers,
    policy_state_lock,
    policy_version_current,
    quorum_for,
)
from transfers.recipients import RecipientRefused, family_uids, recipient_check, recipient_clean


class TransferRefused(Exception):
    """A workflow action was refused; the message is for people and safe to show."""


class RequestRefused(TransferRefused):
    """A new request was refused at submission; nothing was stored."""


class DecisionRefused(TransferRefused):
    """An approve, reject or cancel was refused. `code` says why, for views and tests."""

    def __init__(self, message: str, *, code: str = "refused") -> None:
        super().__init__(message)
        self.code = code


class PolicyRefused(TransferRefused):
    """A policy change was refused; nothing changed."""


@dataclass(frozen=True)
class KindNeeds:
    permission: int
    permission_name: str
    account_kinds: tuple[str, ...]


# BingX API-key permission codes a kind needs, and which key sets can pay with it.
KIND_NEEDS: dict[str, KindNeeds] = {
    TransferKind.WALLET: KindNeeds(4, "Universal transfer", (AccountKind.MAIN, AccountKind.SUB)),
    TransferKind.INNER: KindNeeds(5, "Internal transfer (withdraw)", (AccountKind.MAIN,)),
    TransferKind.SUB_INNER: KindNeeds(7, "Sub-account internal transfer", (AccountKind.SUB,)),
    TransferKind.FAMILY: KindNeeds(4, "Universal transfer", (AccountKind.MAIN,)),
}


def key_set_usable_for(*, key_set: ApiKeySet, kind: str) -> str | None:
    """Why the key set cannot pay a transfer of this kind, or None when it can."""
    needs = KIND_NEEDS[kind]
    if key_set.status != KeySetStatus.ACTIVE:
        return f"Key set “{key_set.label}” is not active."
    if key_set.account_kind not in needs.account_kinds:
        kinds = " or ".join(AccountKind(k).label.lower() for k in needs.account_kinds)
        return f"A {TransferKind(kind).label.lower()} transfer needs a {kinds} key set."
    perms = {int(p) for p in (key_set.permissions or []) if str(p).isdigit()}
    if needs.permission not in perms:
        return (
            f"Key set “{key_set.label}” lacks BingX permission {needs.permission} "
            f"({needs.permission_name}), which this kind of transfer needs."
        )
    return None


# --- helpers -------------------------------------------------------------------------------------


def _state(req: TransferRequest) -> dict[str, Any]:
    return {
        "status": req.status,
        "approvals": req.approvals.filter(decision=Decision.APPROVE).count(),
        "required_approvals": req.required_approvals,
    }


def requests_mark_stale(
    *, requests: QuerySet[TransferRequest], actor: User | None, reason: str, ip: str | None = None
) -> int:
    """Mark pending requests STALE (one audit event each). Call inside the caller's transaction."""
    count = 0
    for req in requests.select_for_update().filter(status=Status.PENDING):
        before = {"status": req.status}
        req.status = Status.STALE
        req.attention_reason = reason
        req.save(update_fields=["status", "attention_reason", "updated_at"])
        audit_record(
            actor=actor,
            verb="transfer.stale",
            obj=req,
            before=before,
            after={"status": req.status, "reason": reason},
            ip=ip,
        )
        count += 1
    return count


def _fields_clean(*, kind: str, key_set: ApiKeySet, fields: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    """Check and normalise the kind-specific fields. Returns (fields, address-book entry or None)."""
    allowed_entry = None
    if kind == TransferKind.WALLET:
        src, dst = str(fields.get("from_wallet") or ""), str(fields.get("to_wallet") or "")
        if src not in WALLETS or dst not in WALLETS:
            raise RequestRefused("Choose both wallets.")
        if src == dst:
            raise RequestRefused("Source and destination wallets must differ.")
        return {"from_wallet": src, "to_wallet": dst}, None
    if kind in (TransferKind.INNER, TransferKind.SUB_INNER):
        try:
            wallet_type = int(fields.get("wallet_type") or 0)
        except (TypeError, ValueError):
            wallet_type = 0
        if wallet_type not in WALLET_TYPES:
            raise RequestRefused("Choose the wallet the amount is paid from.")
        try:
            clean = recipient_clean(
                recipient_type=fields.get("recipient_type") or 0,
                account=str(fields.get("recipient_account") or ""),
                calling_code=str(fields.get("calling_code") or ""),
            )
            check = recipient_check(key_set=key_set, recipient=clean)
        except RecipientRefused as exc:
            raise RequestRefused(str(exc)) from None
        if kind == TransferKind.SUB_INNER and check.own_label is None and check.allowed is None:
            raise RequestRefused("A sub-account can pay only its own family or an address-book entry.")
        allowed_entry = check.allowed
        return {
            "recipient_type": clean.recipient_type,
            "recipient_account": clean.account,
            "calling_code": clean.calling_code,
            "wallet_type": wallet_type,
        }, allowed_entry
    if kind == TransferKind.FAMILY:
        try:
            out = {
                name: int(fields.get(name) or 0)
                for name in (
                    "from_uid",
                    "from_type",
                    "from_account_type",
                    "to_uid",
                    "to_type",
                    "to_account_type",
                )
            }
        except (TypeError, ValueError):
            raise RequestRefused("UIDs and account types are whole numbers.") from None
        remark = str(fields.get("remark") or "").strip()
        if len(remark) > 100:
            raise RequestRefused("Keep the remark under 100 characters.")
        for side in ("from", "to"):
            if out[f"{side}_type"] not in FAMILY_MEMBER_TYPES:
                raise RequestRefused(
                    f"Choose whether the {side} account is the main account or a sub-account."
                )
            if out[f"{side}_account_type"] not in FAMILY_ACCOUNT_TYPES:
                raise RequestRefused(f"Choose the {side} wallet.")
            uid = out[f"{side}_uid"]
            if uid <= 0:
                raise RequestRefused(f"Enter the {side} UID.")
            is_main = key_set.uid is not None and uid == int(key_set.uid)
            if out[f"{side}_type"] == 1 and not is_main:
                raise RequestRefused(
                    f"The {side} UID is not this key set's main account ({key_set.uid or 'unknown'})."
                )
            if out[f"{side}_type"] == 2 and uid not in family_uids(key_set=key_set):
                raise RequestRefused(
                    f"The {side} UID {uid} is not a known sub-account of this main account "
                    "(discover sub-accounts on the key set page first)."
                )
            if out[f"{side}_type"] == 2 and is_main:
                raise RequestRefused(f"The {side} UID is the main account, not a sub-account.")
        if (out["from_uid"], out["from_account_type"]) == (out["to_uid"], out["to_account_type"]):
            raise RequestRefused("Source and destination must differ.")
        return {**out, "remark": remark}, None
    raise RequestRefused("Unknown transfer kind.")


# --- requests ------------------------------------------------------------------------------------


@transaction.atomic
def transfer_request_create(
    *,
    requester: User,
    key_set_id: int,
    kind: str,
    asset: str,
    amount: Decimal | str,
    fields: dict[str, Any],
    note: str = "",
    ip: str | None = None,
) -> TransferRequest:
    """Submit a request: validate everything, fix the quorum, store the canonical payload and its hash."""
    # Lock the key set: serialises submissions per key set, so the daily limit cannot be raced past.
    key_set = ApiKeySet.objects.select_for_update().filter(pk=key_set_id).first()
    if key_set is None or not user_can(user=requester, key_set=key_set, capability=Capability.VIEW):
        raise RequestRefused("No such key set.")
    if not user_can(user=requester, key_set=key_set, capability=Capability.REQUEST):
        raise RequestRefused(f"You do not have the request grant on key set “{key_set.label}”.")
    if kind not in KIND_NEEDS:
        raise RequestRefused("Unknown transfer kind.")
    unusable = key_set_usable_for(key_set=key_set, kind=kind)
    if unusable:
        raise RequestRefused(unusable)
    try:
        clean_asset = asset_clean(asset)
        clean_amount = amount_clean(amount)
    except PayloadError as exc:
        raise RequestRefused(str(exc)) from None
    kind_fields, entry = _fields_clean(kind=kind, key_set=key_set, fields=fields)
    note = (note or "").strip()
    if len(note) > 300:
        raise RequestRefused("Keep the note under 300 characters.")

    quorum = quorum_for(key_set=key_set, kind=kind, asset=clean_asset, amount=clean_amount)
    eligible = eligible_approvers(key_set=key_set, requester=requester).count()
    if eligible < quorum.required:
        raise RequestRefused(
            f"This transfer needs {quorum.required} approval(s) ({quorum.source}), but only {eligible} "
            f"person(s) other than you may approve on key set “{key_set.label}”. Ask an administrator "
            "to grant the approve right to more people."
        )
    limit = daily_limit_for(key_set=key_set, asset=clean_asset)
    if limit is not None:
        used = daily_used(key_set=key_set, asset=clean_asset)
        if used + clean_amount > limit.limit:
            left = max(Decimal(0), limit.limit - used)
            raise RequestRefused(
                f"This would exceed the 24-hour limit of {limit.limit.normalize():f} {clean_asset} "
                f"on key set “{key_set.label}”: {used.normalize():f} already requested, "
                f"{left.normalize():f} left."
            )

    version = policy_version_current()
    client_id = new_client_id()
    try:
        payload = payload_build(
            kind=kind,
            key_set=key_set,
            asset=clean_asset,
            amount=clean_amount,
            client_id=client_id,
            policy_version=version,
            **kind_fields,
        )
    except PayloadError as exc:
        raise RequestRefused(str(exc)) from None
    now = timezone.now()
    req = TransferRequest.objects.create(
        client_id=client_id,
        key_set=key_set,
        kind=kind,
        payload=payload,
        payload_sha256=payload_sha256(payload),
        asset=clean_asset,
        amount=clean_amount,
        recipient=entry,
        note=note,
        status=Status.PENDING,
        required_approvals=quorum.required,
        policy_version=version,
        policy_rule=quorum.rule,
        requested_by=requester,
        expires_at=now + timedelta(hours=settings.TRANSFER_REQUEST_TTL_HOURS),
    )
    audit_record(
        actor=requester,
        verb="transfer.request",
        obj=req,
        after={
            "status": req.status,
            "payload": payload,
            "payload_sha256": req.payload_sha256,
            "required_approvals": req.required_approvals,
            "policy_rule": quorum.rule.pk if quorum.rule else None,
        },
        ip=ip,
    )
    pk = req.pk
    transaction.on_commit(lambda: notifications.notify_approvers_waiting(request_id=pk), robust=True)
    return req


def _decision_refusal(*, req: TransferRequest, user: User, password: str | None) -> None:
    """Raise DecisionRefused for anything that makes this user's decision impossible (nothing changes)."""
    if not user.is_active or not user_can(user=user, key_set=req.key_set, capability=Capability.APPROVE):
        raise DecisionRefused(
            f"You do not have the approve grant on key set “{req.key_set.label}”.", code="no_grant"
        )
    if req.requested_by_id == user.pk:
        raise DecisionRefused(
            "You cannot approve or reject your own request; someone else must.", code="own_request"
        )
    if not password or not user.check_password(password):
        raise DecisionRefused("Confirm the decision with your password (it did not match).", code="password")
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
    if policy_version_current() != req.policy_version:
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
    before = {"status": req.status}
    req.status = status
    req.attention_reason = message
    if verb == "transfer.tampered":
        req.needs_attention = True
    req.save(update_fields=["status", "attention_reason", "needs_attention", "updated_at"])
    audit_record(
        actor=actor, verb=verb, obj=req, before=before, after={"status": status, "reason": message}, ip=ip
    )


STEP_UP_FAILURE_LIMIT = 5
STEP_UP_LOCK = timedelta(minutes=15)
STEP_UP_FAILED_VERB = "auth.step_up_failed"


def _step_up_failures(*, user: User) -> int:
    since = timezone.now() - STEP_UP_LOCK
    return AuditEvent.objects.filter(actor=user, verb=STEP_UP_FAILED_VERB, at__gte=since).count()


def _decide(
    *,
    request_id: int,
    user: User,
    decision: str,
    password: str | None,
    comment: str,
    ip: str | None,
    user_agent: str,
) -> TransferRequest:
    """Throttle the password step-up like the login form: after STEP_UP_FAILURE_LIMIT wrong passwords
    in STEP_UP_LOCK, every decision by that user is refused until the window passes."""
    if _step_up_failures(user=user) >= STEP_UP_FAILURE_LIMIT:
        raise DecisionRefused(
            f"Too many wrong passwords: decisions are locked for {int(STEP_UP_LOCK.total_seconds() // 60)} "
            "minutes. Nothing was changed.",
            code="locked",
        )
    try:
        return _decide_locked(
            request_id=request_id,
            user=user,
            decision=decision,
            password=password,
            comment=comment,
            ip=ip,
            user_agent=user_agent,
        )
    except DecisionRefused as exc:
        if exc.code == "password":
            # Its own transaction: the refusal rolled the decision back, the failure must stay.
            with transaction.atomic():
                req = TransferRequest.objects.filter(pk=request_id).first()
                if req is not None:
                    audit_record(
                        actor=user, verb=STEP_UP_FAILED_VERB, obj=req, after={"decision": decision}, ip=ip
                    )
        raise


def _decide_locked(
    *,
    request_id: int,
    user: User,
    decision: str,
    password: str | None,
    comment: str,
    ip: str | None,
    user_agent: str,
) -> TransferRequest:
    comment = (comment or "").strip()[:500]
    lapsed: str | None = None
    with transaction.atomic():
        req = (
            TransferRequest.objects.select_for_update()
            .select_related("key_set")
            .filter(pk=request_id)
            .first()
        )
        if req is None:
            raise DecisionRefused("No such request.", code="not_found")
        _decision_refusal(req=req, user=user, password=password)
        lapse = _lapse_reason(req=req, now=timezone.now())
        if lapse is not None:
            status, verb, lapsed = lapse
            _lapse(req=req, status=status, verb=verb, message=lapsed, actor=user, ip=ip)
        else:
            before = _state(req)
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
                    )
            except IntegrityError:  # the unique constraint backs the check above
                raise DecisionRefused(
                    "You have already decided this request.", code="already_decided"
                ) from None
            if decision == Decision.REJECT:
                req.status = Status.REJECTED
                req.decided_at = timezone.now()
                req.save(update_fields=["status", "decided_at", "updated_at"])
            else:
                approvals = (
                    req.approvals.filter(decision=Decision.APPROVE, payload_sha256=req.payload_sha256)
                    .exclude(approver_id=req.requested_by_id)
                    .count()
                )
                if approvals >= req.required_approvals:
                    req.status = Status.APPROVED
                    req.decided_at = timezone.now()
                    req.save(update_fields=["status", "decided_at", "updated_at"])
            after = {**_state(req), "comment": comment, "payload_sha256": req.payload_sha256}
            audit_record(actor=user, verb=f"transfer.{decision}", obj=req, before=before, after=after, ip=ip)
            pk = req.pk
            if req.status == Status.APPROVED:
                from transfers.tasks import transfer_execute_task

                # robust: a broker outage must not turn a committed approval into an error page;
                # the request row is the outbox and the sweeper re-enqueues it.
                transaction.on_commit(lambda: transfer_execute_task.delay(pk), robust=True)
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
    password: str | None,
    comment: str = "",
    ip: str | None = None,
    user_agent: str = "",
) -> TransferRequest:
    """Approve with a password step-up. Quorum reached → APPROVED and execution is enqueued on commit.

    Refusals raise DecisionRefused; a request found expired, stale or tampered is marked so (committed)
    before the refusal is raised.
    """
    return _decide(
        request_id=request_id,
        user=approver,
        decision=Decision.APPROVE,
        password=password,
        comment=comment,
        ip=ip,
        user_agent=user_agent,
    )


def transfer_request_reject(
    *,
    request_id: int,
    approver: User,
    password: str | None,
    comment: str = "",
    ip: str | None = None,
    user_agent: str = "",
) -> TransferRequest:
    """Reject with a password step-up: one eligible approver's reject ends the request."""
    return _decide(
        request_id=request_id,
        user=approver,
        decision=Decision.REJECT,
        password=password,
        comment=comment,
        ip=ip,
        user_agent=user_agent,
    )


@transaction.atomic
def transfer_request_cancel(*, request_id: int, actor: User, ip: str | None = None) -> TransferRequest:
    """The requester withdraws their own request while it is still pending."""
    req = TransferRequest.objects.select_for_update().filter(pk=request_id).first()
    if req is None:
        raise DecisionRefused("No such request.", code="not_found")
    if req.requested_by_id != actor.pk:
        raise DecisionRefused("Only the person who requested a transfer can cancel it.", code="not_requester")
    if req.status != Status.PENDING:
        raise DecisionRefused(
            f"Only a pending request can be cancelled (this one is {req.get_status_display().lower()}).",
            code="not_pending",
        )
    before = _state(req)
    req.status = Status.CANCELLED
    req.decided_at = timezone.now()
    req.save(update_fields=["status", "decided_at", "updated_at"])
    audit_record(actor=actor, verb="transfer.cancel", obj=req, before=before, after=_state(req), ip=ip)
    return req


def transfer_requests_expire(*, now: datetime | None = None) -> int:
    """Mark pending requests past their expiry EXPIRED, each in its own transaction with its own event."""
    now = now or timezone.now()
    count = 0
    ids = list(
        TransferRequest.objects.filter(status=Status.PENDING, expires_at__lte=now).values_list(
            "pk", flat=True
        )
    )
    for pk in ids:
        with transaction.atomic():
            req = TransferRequest.objects.select_for_update().filter(pk=pk, status=Status.PENDING).first()
            if req is None or req.expires_at > now:
                continue  # decided meanwhile
            before = {"status": req.status}
            req.status = Status.EXPIRED
            req.save(update_fields=["status", "updated_at"])
            audit_record(
                actor=None,
                verb="transfer.expire",
                obj=req,
                before=before,
                after={"status": req.status, "expired_at": req.expires_at.isoformat()},
            )
            count += 1
    return count


# --- policy --------------------------------------------------------------------------------------


def _policy_changed(*, actor: User, reason: str, ip: str | None) -> tuple[int, int]:
    """Bump the policy version and make every pending request stale. Returns (new version, staled)."""
    state = policy_state_lock()
    state.version += 1
    state.save(update_fields=["version", "changed_at"])
    staled = requests_mark_stale(
        requests=TransferRequest.objects.filter(status=Status.PENDING), actor=actor, reason=reason, ip=ip
    )
    return state.version, staled


def _rule_state(rule: PolicyRule) -> dict[str, Any]:
    return {
        "position": rule.position,
        "name": rule.name,
        "key_set": rule.key_set_id,
        "kind": rule.kind,
        "asset": rule.asset,
        "min_amount": None if rule.min_amount is None else format(rule.min_amount.normalize(), "f"),
        "required_approvals": rule.required_approvals,
        "is_active": rule.is_active,
    }


@dataclass
class PolicyChange:
    version: int
    stale_requests: int
    warnings: list[str] = field(default_factory=list)


def _rule_clean(
    *,
    name: str,
    required_approvals: int,
    position: int = 100,
    key_set_id: int | None = None,
    kind: str = "",
    asset: str = "",
    min_amount: Decimal | None = None,
    is_active: bool = True,
) -> tuple[dict[str, Any], ApiKeySet | None, list[str]]:
    """Check a rule's values. Returns (clean values, key set, warnings); refuses a quorum never reachable."""
    name = (name or "").strip()
    if not name:
        raise PolicyRefused("Give the rule a name.")
    if len(name) > 100:
        raise PolicyRefused("Keep the rule name under 100 characters.")
    try:
        required = int(required_approvals)
        position = int(position)
        min_amount = None if min_amount in (None, "") else Decimal(str(min_amount))
    except (TypeError, ValueError, ArithmeticError):
        raise PolicyRefused("Position, approvals and threshold are numbers.") from None
    if required < 1:
        raise PolicyRefused("A rule needs at least one approval besides the requester.")
    if position < 0:
        raise PolicyRefused("The position cannot be negative.")
    if kind and kind not in TransferKind.values:
        raise PolicyRefused("Unknown transfer kind.")
    if min_amount is not None and (not min_amount.is_finite() or min_amount < 0):
        raise PolicyRefused("The threshold cannot be negative.")
    try:
        asset = asset_clean(asset) if asset else ""
    except PayloadError as exc:
        raise PolicyRefused(str(exc)) from None
    key_set = ApiKeySet.objects.filter(pk=key_set_id).first() if key_set_id else None
    if key_set_id and key_set is None:
        raise PolicyRefused("No such key set.")
    warnings: list[str] = []
    if key_set is not None:
        approvers = eligible_approvers(key_set=key_set).count()
        if approvers < required:
            raise PolicyRefused(
                f"Only {approvers} person(s) may approve on key set “{key_set.label}”; a rule needing "
                f"{required} approval(s) could never be met."
            )
        if approvers == required:
            warnings.append(
                "Exactly as many approvers as the rule needs: an approver who requests a transfer "
                "can never reach the quorum."
            )
    values = {
        "position": position,
        "name": name,
        "key_set_id": key_set.pk if key_set else None,
        "kind": kind or "",
        "asset": asset,
        "min_amount": min_amount,
        "required_approvals": required,
        "is_active": bool(is_active),
    }
    return values, key_set, warnings


def _policy_rule_save(
    *, actor: User, rule_id: int | None = None, ip: str | None = None, **values: Any
) -> tuple[PolicyRule, PolicyChange]:
    """Apply a rule (create or change). Call inside policy_change_approve's transaction."""
    ensure_admin(user=actor)
    clean, key_set, warnings = _rule_clean(**values)
    if rule_id is None:
        rule = PolicyRule()
        before: dict[str, Any] = {}
    else:
        found = PolicyRule.objects.select_for_update().filter(pk=rule_id).first()
        if found is None:
            raise PolicyRefused("No such rule: it was deleted after this change was proposed.")
        rule = found
        before = _rule_state(rule)
    rule.name = clean["name"]
    rule.position = clean["position"]
    rule.key_set = key_set
    rule.kind = clean["kind"]
    rule.asset = clean["asset"]
    rule.min_amount = clean["min_amount"]
    rule.required_approvals = clean["required_approvals"]
    rule.is_active = clean["is_active"]
    rule.save()
    version, staled = _policy_changed(actor=actor, reason=f"policy rule “{rule.name}” changed", ip=ip)
    audit_record(
        actor=actor,
        verb="policy.rule_save",
        obj=rule,
        before=before,
        after={**_rule_state(rule), "policy_version": version, "stale_requests": staled},
        ip=ip,
    )
    return rule, PolicyChange(version=version, stale_requests=staled, warnings=warnings)


def _policy_rule_delete(*, actor: User, rule_id: int, ip: str | None = None) -> PolicyChange:
    """Apply a rule removal. Call inside policy_change_approve's transaction."""
    ensure_admin(user=actor)
    rule = PolicyRule.objects.select_for_update().filter(pk=rule_id).first()
    if rule is None:
        raise PolicyRefused("No such rule: it was deleted after this change was proposed.")
    return _policy_object_delete(
        actor=actor,
        obj=rule,
        before=_rule_state(rule),
        verb="policy.rule_delete",
        reason=f"policy rule “{rule.name}” deleted",
        ip=ip,
    )


def _policy_object_delete(
    *,
    actor: User,
    obj: PolicyRule | DailyLimit,
    before: dict[str, Any],
    verb: str,
    reason: str,
    ip: str | None,
) -> PolicyChange:
    """Remove a rule or limit: bump the policy version, stale pending requests, audit, delete."""
    version, staled = _policy_changed(actor=actor, reason=reason, ip=ip)
    audit_record(
        actor=actor,
        verb=verb,
        obj=obj,
        before=before,
        after={"deleted": True, "policy_version": version, "stale_requests": staled},
        ip=ip,
    )
    obj.delete()
    return PolicyChange(version=version, stale_requests=staled)


def _limit_clean(
    *, key_set_id: int | None, asset: str, limit: Decimal | str | None
) -> tuple[ApiKeySet, str, Decimal]:
    key_set = ApiKeySet.objects.filter(pk=key_set_id).first() if key_set_id else None
    if key_set is None:
        raise PolicyRefused("No such key set.")
    try:
        asset = asset_clean(asset)
    except PayloadError as exc:
        raise PolicyRefused(str(exc)) from None
    try:
        amount = None if limit in (None, "") else Decimal(str(limit))
    except ArithmeticError:
        amount = None
    if amount is None or not amount.is_finite() or amount <= 0:
        raise PolicyRefused("The limit must be greater than zero (delete the limit to remove it).")
    return key_set, asset, amount


def _daily_limit_save(
    *, actor: User, key_set_id: int, asset: str, limit: Decimal | str, ip: str | None = None
) -> tuple[DailyLimit, PolicyChange]:
    """Apply a 24 h limit. Call inside policy_change_approve's transaction."""
    ensure_admin(user=actor)
    key_set, asset, amount = _limit_clean(key_set_id=key_set_id, asset=asset, limit=limit)
    obj = DailyLimit.objects.select_for_update().filter(key_set=key_set, asset=asset).first()
    before = {} if obj is None else {"limit": format(obj.limit.normalize(), "f")}
    if obj is None:
        obj = DailyLimit(key_set=key_set, asset=asset, limit=amount)
    obj.limit = amount
    obj.save()
    version, staled = _policy_changed(
        actor=actor, reason=f"daily limit for {asset} on {key_set.label} changed", ip=ip
    )
    audit_record(
        actor=actor,
        verb="policy.limit_save",
        obj=obj,
        before=before,
        after={
            "key_set": key_set.pk,
            "asset": asset,
            "limit": format(amount.normalize(), "f"),
            "policy_version": version,
            "stale_requests": staled,
        },
        ip=ip,
    )
    return obj, PolicyChange(version=version, stale_requests=staled)


def _daily_limit_delete(*, actor: User, limit_id: int, ip: str | None = None) -> PolicyChange:
    """Apply a limit removal. Call inside policy_change_approve's transaction."""
    ensure_admin(user=actor)
    obj = DailyLimit.objects.select_for_update().select_related("key_set").filter(pk=limit_id).first()
    if obj is None:
        raise PolicyRefused("No such limit: it was removed after this change was proposed.")
    return _policy_object_delete(
        actor=actor,
        obj=obj,
        before=_limit_state(obj),
        verb="policy.limit_delete",
        reason=f"daily limit for {obj.asset} on {obj.key_set.label} removed",
        ip=ip,
    )


def _limit_state(obj: DailyLimit) -> dict[str, Any]:
    return {"key_set": obj.key_set_id, "asset": obj.asset, "limit": format(obj.limit.normalize(), "f")}


# --- policy changes: proposed by one administrator, applied when a second approves ---------------

_RULE_FIELDS = (
    "position",
    "name",
    "key_set_id",
    "kind",
    "asset",
    "min_amount",
    "required_approvals",
    "is_active",
)


def _rule_json(clean: dict[str, Any]) -> dict[str, Any]:
    """Rule values in the shape of _rule_state, so before and after compare field by field."""
    amount = clean["min_amount"]
    return {
        "position": clean["position"],
        "name": clean["name"],
        "key_set": clean["key_set_id"],
        "kind": clean["kind"],
        "asset": clean["asset"],
        "min_amount": None if amount is None else format(amount.normalize(), "f"),
        "required_approvals": clean["required_approvals"],
        "is_active": clean["is_active"],
    }


def _rule_values(proposed: dict[str, Any]) -> dict[str, Any]:
    return {**{k: v for k, v in proposed.items() if k != "key_set"}, "key_set_id": proposed.get("key_set")}


def _change_state(change: PolicyChangeRequest) -> dict[str, Any]:
    return {
        "action": change.action,
        "target": change.target_id,
        "status": change.status,
        "before": change.before,
        "proposed": change.proposed,
        "proposed_by": change.proposed_by_id,
    }


@transaction.atomic
def policy_change_propose(
    *,
    actor: User,
    action: str,
    target_id: int | None = None,
    values: dict[str, Any] | None = None,
    ip: str | None = None,
) -> tuple[PolicyChangeRequest, list[str]]:
    """Store a pending policy change after checking it as if it were applied now; nothing changes yet.

    `values`: for a rule, name, required_approvals, position, key_set_id, kind, asset, min_amount,
    is_active; for a limit, key_set_id, asset, limit. Returns the proposal and any warnings.
    """
    ensure_admin(user=actor)
    values = dict(values or {})
    before: dict[str, Any] = {}
    proposed: dict[str, Any] = {}
    warnings: list[str] = []
    if action in (PolicyChangeAction.RULE_CREATE, PolicyChangeAction.RULE_UPDATE):
        if action == PolicyChangeAction.RULE_UPDATE:
            rule = PolicyRule.objects.filter(pk=target_id).first() if target_id else None
            if rule is None:
                raise PolicyRefused("No such rule.")
            before = _rule_state(rule)
        else:
            target_id = None
        unknown = set(values) - set(_RULE_FIELDS)
        if unknown:
            raise PolicyRefused(f"Unknown rule field(s): {', '.join(sorted(unknown))}.")
        if "name" not in values or "required_approvals" not in values:
            raise PolicyRefused("A rule needs a name and a number of approvals.")
        clean, _, warnings = _rule_clean(**values)
        proposed = _rule_json(clean)
        if before and proposed == before:
            raise PolicyRefused("Nothing to change: the rule already has these values.")
    elif action == PolicyChangeAction.RULE_DELETE:
        rule = PolicyRule.objects.filter(pk=target_id).first() if target_id else None
        if rule is None:
            raise PolicyRefused("No such rule.")
        before = _rule_state(rule)
    elif action == PolicyChangeAction.LIMIT_SAVE:
        key_set, asset, amount = _limit_clean(
            key_set_id=values.get("key_set_id"), asset=values.get("asset") or "", limit=values.get("limit")
        )
        existing = DailyLimit.objects.filter(key_set=key_set, asset=asset).first()
        target_id = existing.pk if existing else None
        before = _limit_state(existing) if existing else {}
        proposed = {"key_set": key_set.pk, "asset": asset, "limit": format(amount.normalize(), "f")}
        if before and proposed == before:
            raise PolicyRefused("Nothing to change: the limit already has this value.")
    elif action == PolicyChangeAction.LIMIT_DELETE:
        obj = DailyLimit.objects.filter(pk=target_id).first() if target_id else None
        if obj is None:
            raise PolicyRefused("No such limit.")
        before = _limit_state(obj)
    else:
        raise PolicyRefused("Unknown policy change.")
    change = PolicyChangeRequest.objects.create(
        action=action, target_id=target_id, before=before, proposed=proposed, proposed_by=actor
    )
    audit_record(
        actor=actor,
        verb="policy.change_propose",
        obj=change,
        after={**_change_state(change), "warnings": warnings},
        ip=ip,
    )
    return change, warnings


def _change_lock_pending(*, change_id: int, actor: User) -> PolicyChangeRequest:
    ensure_admin(user=actor)
    change = PolicyChangeRequest.objects.select_for_update().filter(pk=change_id).first()
    if change is None:
        raise PolicyRefused("No such policy change.")
    if change.status != PolicyChangeStatus.PENDING:
        raise PolicyRefused(
            f"This policy change is not waiting for a decision ({change.get_status_display().lower()})."
        )
    return change


def _change_apply(*, change: PolicyChangeRequest, actor: User, ip: str | None) -> PolicyChange:
    """Apply through the policy services: they validate again, bump the version and stale requests."""
    p = change.proposed
    if change.action == PolicyChangeAction.RULE_CREATE:
        return _policy_rule_save(actor=actor, ip=ip, **_rule_values(p))[1]
    if change.action == PolicyChangeAction.RULE_UPDATE:
        if change.target_id is None:
            raise PolicyRefused("No such rule.")
        return _policy_rule_save(actor=actor, rule_id=change.target_id, ip=ip, **_rule_values(p))[1]
    if change.action == PolicyChangeAction.RULE_DELETE and change.target_id is not None:
        return _policy_rule_delete(actor=actor, rule_id=change.target_id, ip=ip)
    if change.action == PolicyChangeAction.LIMIT_SAVE:
        return _daily_limit_save(
            actor=actor, key_set_id=p["key_set"], asset=p["asset"], limit=Decimal(p["limit"]), ip=ip
        )[1]
    if change.action == PolicyChangeAction.LIMIT_DELETE and change.target_id is not None:
        return _daily_limit_delete(actor=actor, limit_id=change.target_id, ip=ip)
    raise PolicyRefused("Unknown policy change.")


def policy_change_approve(
    *, actor: User, change_id: int, ip: str | None = None
) -> tuple[PolicyChangeRequest, PolicyChange]:
    """A second administrator applies a pending change (same transaction: version bump, stale requests).

    If it can no longer be applied (its rule or limit was removed, the quorum became unreachable…)
    the proposal is marked REJECTED with the reason, committed, and PolicyRefused is raised.
    """
    refusal: str | None = None
    with transaction.atomic():
        change = _change_lock_pending(change_id=change_id, actor=actor)
        if change.proposed_by_id == actor.pk:
            raise PolicyRefused("A second administrator must approve a policy change you proposed yourself.")
        before = _change_state(change)
        try:
            with transaction.atomic():
                result = _change_apply(change=change, actor=actor, ip=ip)
        except PolicyRefused as exc:
            refusal = str(exc)
            change.status = PolicyChangeStatus.REJECTED
            change.note = f"Could not be applied: {refusal}"[:300]
            verb = "policy.change_fail"
        else:
            change.status = PolicyChangeStatus.APPLIED
            change.applied_version = result.version
            verb = "policy.change_approve"
        change.decided_by = actor
        change.decided_at = timezone.now()
        change.save(update_fields=["status", "note", "applied_version", "decided_by", "decided_at"])
        after = {**_change_state(change), "note": change.note}
        if refusal is None:
            after.update(policy_version=result.version, stale_requests=result.stale_requests)
        audit_record(actor=actor, verb=verb, obj=change, before=before, after=after, ip=ip)
    if refusal is not None:
        raise PolicyRefused(f"{refusal} The proposal was marked rejected; nothing changed.")
    return change, result


@transaction.atomic
def policy_change_reject(*, actor: User, change_id: int, ip: str | None = None) -> PolicyChangeRequest:
    """A second administrator turns a pending change down; the policy stays as it is."""
    change = _change_lock_pending(change_id=change_id, actor=actor)
    if change.proposed_by_id == actor.pk:
        raise PolicyRefused(
            "A second administrator must decide a policy change you proposed; cancel it instead."
        )
    return _change_close(
        change=change, status=PolicyChangeStatus.REJECTED, verb="policy.change_reject", actor=actor, ip=ip
    )


@transaction.atomic
def policy_change_cancel(*, actor: User, change_id: int, ip: str | None = None) -> PolicyChangeRequest:
    """The proposer withdraws their own change while it is pending."""
    change = _change_lock_pending(change_id=change_id, actor=actor)
    if change.proposed_by_id != actor.pk:
        raise PolicyRefused("Only the administrator who proposed a change can cancel it (reject it instead).")
    return _change_close(
        change=change, status=PolicyChangeStatus.CANCELLED, verb="policy.change_cancel", actor=actor, ip=ip
    )


def _change_close(
    *, change: PolicyChangeRequest, status: str, verb: str, actor: User, ip: str | None
) -> PolicyChangeRequest:
    """End a pending change without applying it (rejected or cancelled): one save, one audit event."""
    before = _change_state(change)
    change.status = status
    change.decided_by = actor
    change.decided_at = timezone.now()
    change.save(update_fields=["status", "decided_by", "decided_at"])
    audit_record(actor=actor, verb=verb, obj=change, before=before, after=_change_state(change), ip=ip)
    return change
