"""Balance facts of requests, for the queue's over-balance flag and the approval page's balance after.

What the exchange said at submission (and any override with its reason) comes from the request's
audit event; what is available now is the last known answer (transfers.available) — no exchange call
from these pages. For a list: one query for all the requests, whatever their number.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from accounts.access import Capability, key_sets_for
from accounts.models import AuditEvent, User
from transfers.available import Available, available_for_source, source_for
from transfers.models import TransferKind, TransferRequest


@dataclass(frozen=True)
class BalanceFacts:
    request_id: int
    asset: str
    amount: Decimal
    check: str  # "ok", "override", "unknown"; "" for a request from before the check
    source: str
    available_at_request: Decimal | None
    as_of_at_request: dt.datetime | None
    override_reason: str
    now: Available

    @property
    def available_now(self) -> Decimal | None:
        return self.now.amount(self.asset)

    @property
    def balance_after(self) -> Decimal | None:
        """What would be left in the source after this transfer, by the last known figure."""
        have = self.available_now
        return None if have is None else have - self.amount

    @property
    def over_now(self) -> bool:
        have = self.available_now
        return have is not None and self.amount > have

    @property
    def over_at_request(self) -> bool:
        have = self.available_at_request
        return self.check == "override" or (have is not None and self.amount > have)

    @property
    def flagged(self) -> bool:
        return self.over_now or self.over_at_request


def _decimal(value: Any) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def _when(value: Any) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def _exact_amount(req: TransferRequest) -> Decimal:
    return _decimal((req.payload or {}).get("amount")) or req.amount


def _source_visible(*, req: TransferRequest, visible_uids: set[int]) -> bool:
    """A family move paid by a sub-account shows its balance only to people who may view that account
    (as the detail page's source balance does)."""
    if req.kind != TransferKind.FAMILY:
        return True
    uid = int((req.payload or {}).get("from_uid") or 0)
    return uid == int(req.key_set.uid or 0) or uid in visible_uids


def balance_facts_for(
    *, user: User, requests: Iterable[TransferRequest], use_snapshot: bool = False
) -> dict[int, BalanceFacts]:
    """Facts per request id (only requests whose source the person may see)."""
    reqs = list(requests)
    if not reqs:
        return {}
    events = AuditEvent.objects.filter(
        verb="transfer.request",
        object_type=TransferRequest._meta.label_lower,
        object_id__in=[str(r.pk) for r in reqs],
    ).values_list("object_id", "after")
    checks: dict[str, dict[str, Any]] = {}
    for object_id, after in events:
        check = (after or {}).get("balance_check")
        if isinstance(check, dict):
            checks[str(object_id)] = check
    visible_uids: set[int] = set()
    if any(r.kind == TransferKind.FAMILY for r in reqs):
        uids = key_sets_for(user=user, capability=Capability.VIEW).values_list("uid", flat=True)
        visible_uids = {int(uid) for uid in uids if uid is not None}
    out: dict[int, BalanceFacts] = {}
    for req in reqs:
        if not _source_visible(req=req, visible_uids=visible_uids):
            continue
        check = checks.get(str(req.pk), {})
        source = source_for(key_set=req.key_set, kind=req.kind, fields=req.payload or {})
        now = (
            available_for_source(source=source, read=False, use_snapshot=use_snapshot)
            if source is not None
            else Available()
        )
        out[req.pk] = BalanceFacts(
            request_id=req.pk,
            asset=req.asset,
            amount=_exact_amount(req),
            check=str(check.get("check") or ""),
            source=str(check.get("source") or (source.label if source else "")),
            available_at_request=_decimal(check.get("available")),
            as_of_at_request=_when(check.get("as_of")),
            override_reason=str(check.get("override_reason") or ""),
            now=now,
        )
    return out


def balance_facts_one(*, user: User, req: TransferRequest) -> BalanceFacts | None:
    """One request's facts for its page (the last balance sync counts as a last known figure too)."""
    return balance_facts_for(user=user, requests=[req], use_snapshot=True).get(req.pk)


def over_balance_among(*, user: User, requests: Iterable[TransferRequest]) -> list[BalanceFacts]:
    """The requests of a list that are above what is available (now, or when submitted: an override)."""
    return [f for f in balance_facts_for(user=user, requests=requests).values() if f.flagged]
