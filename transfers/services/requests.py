"""Transfer requests: submit, cancel, expire, and mark stale when what they relied on changed.

Approvals and rejections are in transfers.services.decisions; every status change goes through
transfers.lifecycle.transition.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.access import Capability, user_can
from accounts.audit import audit_record
from accounts.models import ApiKeySet, User
from transfers import notifications
from transfers.amounts import AmountTextError, amount_parse_text
from transfers.available import Available, available_for
from transfers.events import CREATED, request_event_send
from transfers.kinds import KIND_NEEDS, key_set_usable_for
from transfers.lifecycle import transition
from transfers.models import (
    AllowedRecipient,
    BatchStatus,
    Decision,
    Status,
    TransferBatch,
    TransferRequest,
)
from transfers.payload import (
    PayloadError,
    amount_clean,
    asset_clean,
    new_client_id,
    payload_build,
    payload_sha256,
)
from transfers.policy import (
    Quorum,
    daily_limit_for,
    daily_used,
    eligible_approvers,
    policy_version_current,
    quorum_for,
)
from transfers.refusals import DecisionRefused, RequestRefused
from transfers.resubmit import RESUBMITTABLE
from transfers.services.request_fields import request_fields_clean


def request_state(req: TransferRequest) -> dict[str, Any]:
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
        moved = transition(
            request=req,
            from_statuses=(Status.PENDING,),
            to_status=Status.STALE,
            verb="transfer.stale",
            actor=actor,
            changes={"attention_reason": reason},
            after={"status": Status.STALE, "reason": reason},
            ip=ip,
        )
        count += moved
        if moved:
            transaction.on_commit(
                partial(notifications.notify_requester_stale, request_id=req.pk, reason=reason), robust=True
            )
    return count


def _quorum_reachable(
    *, key_set: ApiKeySet, requester: User, kind: str, asset: str, amount: Decimal
) -> Quorum:
    """The quorum the policy asks for; refused when fewer people than that may approve."""
    quorum = quorum_for(key_set=key_set, kind=kind, asset=asset, amount=amount)
    eligible = eligible_approvers(key_set=key_set, requester=requester).count()
    if eligible < quorum.required:
        raise RequestRefused(
            f"This transfer needs {quorum.required} approval(s) ({quorum.source}), but only {eligible} "
            f"person(s) other than you may approve on key set “{key_set.label}”. Ask an administrator "
            "to grant the approve right to more people."
        )
    return quorum


def _daily_limit_ensure(*, key_set: ApiKeySet, asset: str, amount: Decimal) -> None:
    """Refuse a request that would take the key set past its 24-hour limit for the asset."""
    limit = daily_limit_for(key_set=key_set, asset=asset)
    if limit is None:
        return
    used = daily_used(key_set=key_set, asset=asset)
    if used + amount > limit.limit:
        left = max(Decimal(0), limit.limit - used)
        raise RequestRefused(
            f"This would exceed the 24-hour limit of {limit.limit.normalize():f} {asset} "
            f"on key set “{key_set.label}”: {used.normalize():f} already requested, "
            f"{left.normalize():f} left."
        )


class OverBalance(RequestRefused):
    """The amount is above what the exchange last said is available, and no override was given."""


def _money(amount: Decimal) -> str:
    return format(amount.normalize(), "f")


def balance_check(
    *, available: Available, asset: str, amount: Decimal, override_reason: str = ""
) -> dict[str, Any]:
    """Compare the amount with what the exchange last said is available. Returns the facts for the
    audit trail; OverBalance when above it without an override reason. Unknown balance: not refused
    (the exchange may be down), recorded as unknown so approvers see it."""
    facts = available.facts(asset=asset)
    have = available.amount(asset)
    if have is None:
        return {**facts, "check": "unknown", "problem": available.problem}
    if amount <= have:
        return {**facts, "check": "ok"}
    reason = (override_reason or "").strip()
    if not reason:
        said = f"as BingX said {available.age_text}"
        if have == 0 and asset not in available.assets_listed:
            listed = ", ".join(available.assets_listed) or "nothing"
            what = (
                f"BingX lists no {asset} that can be moved from {available.label} ({said}; it lists {listed})"
            )
        else:
            what = f"Only {_money(have)} {asset} is available in {available.label} ({said})"
        raise OverBalance(
            f"{what}; you asked for {_money(amount)} {asset}. Lower the amount "
            "(Max fills what is available), or tick “Submit above the available balance” "
            "and give the approvers a reason."
        )
    if len(reason) > 300:
        raise RequestRefused("Keep the reason for going above the available balance under 300 characters.")
    return {**facts, "check": "override", "override_reason": reason}


@dataclass(frozen=True)
class CleanRequest:
    """One request's input, checked as submission checks it (a batch leg is checked the same way)."""

    key_set: ApiKeySet
    kind: str
    asset: str
    amount: Decimal
    fields: dict[str, Any]
    entry: AllowedRecipient | None


def request_input_clean(
    *, requester: User, key_set: ApiKeySet, kind: str, asset: Any, amount: Any, fields: dict[str, Any]
) -> CleanRequest:
    """Grant, kind, key set usable, asset, amount and the kind's fields; RequestRefused otherwise."""
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
    kind_fields, entry = request_fields_clean(kind=kind, key_set=key_set, fields=fields)
    return CleanRequest(
        key_set=key_set, kind=kind, asset=clean_asset, amount=clean_amount, fields=kind_fields, entry=entry
    )


# --- requests ------------------------------------------------------------------------------------


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
    balance_override_reason: str = "",
    resubmit_of: int | None = None,
) -> TransferRequest:
    """Submit a request: validate everything, check the amount against what the exchange last said is
    available (above it only with `balance_override_reason`, audited), fix the quorum, store the
    canonical payload and its hash. `resubmit_of`: the stale, expired or failed request this one
    submits again (linked both ways in the audit trail; the new request needs its own approvals).

    A typed amount (str) must be a plain decimal (transfers.amounts.amount_parse_text)."""
    if isinstance(amount, str):
        try:
            amount = amount_parse_text(amount)
        except AmountTextError as exc:
            raise RequestRefused(str(exc)) from None
    # The exchange is read (when the last answer is too old) before any lock is taken.
    key_set = ApiKeySet.objects.filter(pk=key_set_id).first()
    available = Available()
    if key_set is not None and user_can(user=requester, key_set=key_set, capability=Capability.REQUEST):
        available = available_for(key_set=key_set, kind=kind, fields=fields)
    return _request_create(
        requester=requester,
        key_set_id=key_set_id,
        kind=kind,
        asset=asset,
        amount=amount,
        fields=fields,
        note=note,
        ip=ip,
        available=available,
        balance_override_reason=balance_override_reason,
        resubmit_of=resubmit_of,
    )


def _resubmitted_ensure(*, requester: User, old_id: int | None) -> TransferRequest | None:
    if old_id is None:
        return None
    old = TransferRequest.objects.select_related("key_set").filter(pk=old_id).first()
    if old is None or not user_can(user=requester, key_set=old.key_set, capability=Capability.VIEW):
        raise RequestRefused("No such request to submit again.")
    if old.status not in RESUBMITTABLE:
        raise RequestRefused(
            f"Only a stale, expired or failed request can be submitted again "
            f"(#{old.pk} is {old.get_status_display().lower()})."
        )
    return old


@transaction.atomic
def _request_create(
    *,
    requester: User,
    key_set_id: int,
    kind: str,
    asset: str,
    amount: Decimal | str,
    fields: dict[str, Any],
    note: str,
    ip: str | None,
    available: Available,
    balance_override_reason: str,
    resubmit_of: int | None,
) -> TransferRequest:
    # Lock the key set: serialises submissions per key set, so the daily limit cannot be raced past.
    key_set = ApiKeySet.objects.select_for_update().filter(pk=key_set_id).first()
    if key_set is None or not user_can(user=requester, key_set=key_set, capability=Capability.VIEW):
        raise RequestRefused("No such key set.")
    clean = request_input_clean(
        requester=requester, key_set=key_set, kind=kind, asset=asset, amount=amount, fields=fields
    )
    clean_asset, clean_amount, kind_fields, entry = clean.asset, clean.amount, clean.fields, clean.entry
    note = (note or "").strip()
    if len(note) > 300:
        raise RequestRefused("Keep the note under 300 characters.")
    old = _resubmitted_ensure(requester=requester, old_id=resubmit_of)
    balance = balance_check(
        available=available, asset=clean_asset, amount=clean_amount, override_reason=balance_override_reason
    )

    quorum = _quorum_reachable(
        key_set=key_set, requester=requester, kind=kind, asset=clean_asset, amount=clean_amount
    )
    _daily_limit_ensure(key_set=key_set, asset=clean_asset, amount=clean_amount)

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
            "balance_check": balance,
            **({"resubmit_of": old.pk} if old is not None else {}),
        },
        ip=ip,
    )
    if balance["check"] == "override":
        audit_record(
            actor=requester,
            verb="transfer.balance_override",
            obj=req,
            after={"amount": _money(clean_amount), "asset": clean_asset, **balance},
            ip=ip,
        )
    if old is not None:
        audit_record(
            actor=requester,
            verb="transfer.resubmitted",
            obj=old,
            after={"status": old.status, "resubmitted_as": req.pk},
            ip=ip,
        )
    request_event_send(request=req, event=CREATED)
    pk = req.pk
    transaction.on_commit(lambda: notifications.notify_approvers_waiting(request_id=pk), robust=True)
    return req


@transaction.atomic
def transfer_request_cancel(*, request_id: int, actor: User, ip: str | None = None) -> TransferRequest:
    """The requester withdraws their own request while it is still pending."""
    req = TransferRequest.objects.select_for_update().filter(pk=request_id).first()
    if req is None:
        raise DecisionRefused("No such request.", code="not_found")
    if req.requested_by_id != actor.pk:
        raise DecisionRefused("Only the person who requested a transfer can cancel it.", code="not_requester")
    if req.batch_id is not None:
        raise DecisionRefused(
            f"This is a leg of batch #{req.batch_id}; cancel the batch instead.", code="batch_leg"
        )
    if req.status != Status.PENDING:
        raise DecisionRefused(
            f"Only a pending request can be cancelled (this one is {req.get_status_display().lower()}).",
            code="not_pending",
        )
    before = request_state(req)
    transition(
        request=req,
        from_statuses=(Status.PENDING,),
        to_status=Status.CANCELLED,
        verb="transfer.cancel",
        actor=actor,
        changes={"decided_at": timezone.now()},
        before=before,
        after={**before, "status": Status.CANCELLED},
        ip=ip,
    )
    return req


def transfer_requests_expire(*, now: datetime | None = None) -> int:
    """Mark pending requests past their expiry EXPIRED, each in its own transaction with its own event."""
    now = now or timezone.now()
    count = 0
    for req in list(TransferRequest.objects.filter(status=Status.PENDING, expires_at__lte=now)):
        # Conditional on still pending and past expiry: a request decided meanwhile is left alone.
        count += transition(
            request=req,
            from_statuses=(Status.PENDING,),
            to_status=Status.EXPIRED,
            guard=Q(expires_at__lte=now),
            verb="transfer.expire",
            after={"status": Status.EXPIRED, "expired_at": req.expires_at.isoformat()},
        )
    # A batch expires with its legs (they share its expiry and were expired just above).
    for batch in list(TransferBatch.objects.filter(status=BatchStatus.PENDING, expires_at__lte=now)):
        with transaction.atomic():
            moved = TransferBatch.objects.filter(pk=batch.pk, status=BatchStatus.PENDING).update(
                status=BatchStatus.EXPIRED, decided_at=now, updated_at=now
            )
            if moved:
                audit_record(
                    actor=None, verb="transfer.batch.expire", obj=batch, after={"status": BatchStatus.EXPIRED}
                )
    return count
