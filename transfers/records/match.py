"""Linking synced exchange records to the desk's transfer requests (the page's reads are in
transfers.records.reconciliation).

Matching (`records_match`), for one key set's records, request by request:

1. inner transfers: the record's `transferClientId` equals the request's `client_id`;
2. any kind: the record's exchange id equals the request's `exchange_id` (inner ids are the same on
   the payer's and the payee's side, so a transfer to an own sub-account is found in both key sets);
3. wallet, sub-account inner and family transfers, which carry no client id: same key set, asset,
   amount and from/to, at a time near `submitted_at`, and not matched already — the closest wins.

A record belongs to at most one request; a request has at most one record per source and key set
(a wallet transfer shows up both in the new and in the legacy records). Requests that the exchange
says SUCCEEDED, or whose outcome is UNKNOWN, with no record after the settle window are flagged for
a human (`records_flag_unmatched`). This module never changes a request's status: execution and
reconciliation own that; here only the attention flag is set, with conditional updates.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from accounts.audit import audit_record
from accounts.models import ApiKeySet
from transfers.amounts import amount_matches
from transfers.events import FINDING, request_event_send
from transfers.models import (
    RecordSource,
    Status,
    SyncCursor,
    TransferKind,
    TransferRecord,
    TransferRequest,
)

# Where a request of each kind can appear (the payer's view first, then the payee's).
SOURCES_FOR_KIND: dict[str, tuple[RecordSource, ...]] = {
    TransferKind.WALLET: (RecordSource.ASSET, RecordSource.LEGACY_ASSET),
    TransferKind.INNER: (RecordSource.INNER, RecordSource.SUB_INNER),
    TransferKind.SUB_INNER: (RecordSource.SUB_INNER, RecordSource.INNER),
    TransferKind.FAMILY: (RecordSource.FAMILY,),
}
# Sources where the requesting key set itself sees the transfer as the payer: only there may a
# record be matched by amount and time.
FUZZY_SOURCES: dict[str, tuple[RecordSource, ...]] = {
    TransferKind.WALLET: (RecordSource.ASSET, RecordSource.LEGACY_ASSET),
    TransferKind.SUB_INNER: (RecordSource.SUB_INNER,),
    TransferKind.FAMILY: (RecordSource.FAMILY,),
}
INNER_SOURCES = (RecordSource.INNER, RecordSource.SUB_INNER)

# Requests that may have moved money. FAILED is included for the exact rules only: a record for a
# failed request means money moved after all, which a human must see.
MATCH_STATUSES = (Status.SUBMITTING, Status.UNKNOWN, Status.SUCCEEDED, Status.FAILED)
FUZZY_STATUSES = (Status.SUBMITTING, Status.UNKNOWN, Status.SUCCEEDED)
SETTLED_STATUSES = (Status.SUCCEEDED, Status.UNKNOWN)

WINDOW_BEFORE = dt.timedelta(minutes=2)  # our clock vs the exchange's
WINDOW_AFTER = dt.timedelta(minutes=10)  # submission to the exchange's record time
# Requests older than this with a record already are left alone (keeps each run small).
LOOKBACK = dt.timedelta(days=14)

UNMATCHED_PREFIX = "No exchange record"
FAILED_PREFIX = "BingX has a record"


def family_key_set_ids(*, key_set: ApiKeySet) -> list[int]:
    """The main key set and its sub-account key sets: inner transfers cross between them."""
    root_id = key_set.parent_id or key_set.pk
    return [root_id, *ApiKeySet.objects.filter(parent_id=root_id).values_list("pk", flat=True)]


def _amount(req: TransferRequest) -> Decimal | None:
    try:
        return Decimal(str(req.payload.get("amount", req.amount)))
    except (InvalidOperation, ValueError, TypeError):
        return None


FAMILY_WALLET_BY_CODE = {1: "fund", 2: "stdFutures", 3: "USDTMPerp"}  # from/toAccountType (§6.14)


def _family_side(uid: Any, account_type: Any) -> set[str]:
    """How a family record names one side: "uid/wallet", or the bare uid when its type was unknown."""
    uid_text = str(uid)
    wallet = FAMILY_WALLET_BY_CODE.get(int(account_type)) if str(account_type).isdigit() else None
    return {uid_text, f"{uid_text}/{wallet}"} if wallet else {uid_text}


def _fuzzy_candidates(*, req: TransferRequest, records: QuerySet[TransferRecord]) -> list[TransferRecord]:
    """Records of the requesting key set that look like this request, closest in time first."""
    assert req.submitted_at is not None
    amount = _amount(req)
    if amount is None:
        return []
    p = req.payload
    rows = records.filter(
        asset=req.asset.upper(),
        occurred_at__gte=req.submitted_at - WINDOW_BEFORE,
        occurred_at__lte=req.submitted_at + WINDOW_AFTER,
    ).exclude(direction="in")
    try:
        if req.kind == TransferKind.WALLET:
            rows = rows.filter(from_account=str(p["from_wallet"]), to_account=str(p["to_wallet"]))
        elif req.kind == TransferKind.SUB_INNER:
            if int(p["recipient_type"]) == 1:  # a UID recipient is what the record names as receiver
                rows = rows.filter(to_account=str(p["recipient_account"]))
        elif req.kind == TransferKind.FAMILY:
            rows = rows.filter(
                from_account__in=_family_side(p["from_uid"], p.get("from_account_type")),
                to_account__in=_family_side(p["to_uid"], p.get("to_account_type")),
            )
    except (KeyError, TypeError, ValueError):
        return []  # a payload this module cannot read is left to a human, never guessed at
    # Amounts compared as Decimal in Python; on SQLite a record's column keeps 15 significant digits.
    found = [r for r in rows if amount_matches(exact=amount, stored=r.amount)]
    submitted = req.submitted_at
    found.sort(key=lambda r: (abs((r.occurred_at - submitted).total_seconds()), r.pk))
    return found


def _find(
    *, req: TransferRequest, key_set_id: int, source: RecordSource, known_ids: set[str]
) -> list[TransferRecord]:
    base = TransferRecord.objects.filter(key_set_id=key_set_id, source=source, matched_request__isnull=True)
    if req.kind == TransferKind.INNER and req.client_id:
        by_client = list(base.filter(transfer_client_id=req.client_id).order_by("occurred_at", "pk")[:1])
        if by_client:
            return by_client
    if known_ids:
        by_id = list(base.filter(exchange_id__in=sorted(known_ids)).order_by("occurred_at", "pk")[:1])
        if by_id:
            return by_id
    if (
        req.key_set_id == key_set_id
        and source in FUZZY_SOURCES.get(req.kind, ())
        and req.status in FUZZY_STATUSES
        and req.submitted_at is not None
    ):
        return _fuzzy_candidates(req=req, records=base)
    return []


def _flag(*, req: TransferRequest, reason: str, only_statuses: tuple[str, ...] | None = None) -> bool:
    """Set the attention flag without touching the status (execution owns status changes)."""
    rows = TransferRequest.objects.filter(pk=req.pk, needs_attention=False)
    if only_statuses is not None:
        rows = rows.filter(status__in=only_statuses)
    if not rows.update(needs_attention=True, attention_reason=reason):
        return False
    audit_record(
        actor=None,
        verb="transfer.records.needs_attention",
        obj=req,
        before={"needs_attention": False},
        after={"needs_attention": True, "reason": reason},
    )
    request_event_send(request=req, event=FINDING, detail=reason)
    return True


def _unflag_if_ours(*, req: TransferRequest, record: TransferRecord) -> None:
    """A record turned up for a request this module had flagged as missing one: lift that flag only."""
    if not (req.needs_attention and req.attention_reason.startswith(UNMATCHED_PREFIX)):
        return
    cleared = TransferRequest.objects.filter(
        pk=req.pk, needs_attention=True, attention_reason=req.attention_reason
    ).update(needs_attention=False, attention_reason="")
    if cleared:
        audit_record(
            actor=None,
            verb="transfer.records.found",
            obj=req,
            before={"needs_attention": True},
            after={"needs_attention": False, "record": f"{record.source} {record.exchange_id}"},
        )


def records_match(*, key_set_id: int) -> dict[str, int]:
    """Match the key set's unmatched records to requests; returns how many were matched per source."""
    matched: dict[str, int] = defaultdict(int)
    key_set = ApiKeySet.objects.filter(pk=key_set_id).first()
    if key_set is None:
        return {}
    family = family_key_set_ids(key_set=key_set)
    now = timezone.now()
    with transaction.atomic():
        # One matcher per family at a time, so two runs never hand one record to two requests.
        ApiKeySet.objects.select_for_update().filter(pk=family[0]).first()
        has_record = TransferRecord.objects.filter(matched_request=OuterRef("pk"))
        requests = list(
            TransferRequest.objects.filter(
                key_set_id__in=family, status__in=MATCH_STATUSES, submitted_at__isnull=False
            )
            # Recent requests, and older ones that should have moved money but have no record yet
            # (failed ones without a record are the normal case and are not re-read forever).
            .filter(
                Q(submitted_at__gte=now - LOOKBACK)
                | (Q(status__in=(Status.SUBMITTING, *SETTLED_STATUSES)) & ~Exists(has_record))
            )
            .order_by("submitted_at", "pk")
        )
        if not requests:
            return {}
        have: set[tuple[int, str]] = set()
        inner_ids: dict[int, set[str]] = defaultdict(set)
        for req_id, source, exchange_id, rec_key_set in TransferRecord.objects.filter(
            matched_request__in=requests
        ).values_list("matched_request_id", "source", "exchange_id", "key_set_id"):
            assert req_id is not None
            if rec_key_set == key_set_id:
                have.add((req_id, source))
            if source in INNER_SOURCES:
                inner_ids[req_id].add(exchange_id)
        for req in requests:
            for source in SOURCES_FOR_KIND.get(req.kind, ()):
                if (req.pk, source) in have:
                    continue
                known = {req.exchange_id} if req.exchange_id else set()
                if source in INNER_SOURCES:
                    known |= inner_ids[req.pk]  # the payer's record id is the payee's record id
                for record in _find(req=req, key_set_id=key_set_id, source=source, known_ids=known):
                    claimed = TransferRecord.objects.filter(
                        pk=record.pk, matched_request__isnull=True
                    ).update(matched_request=req)
                    if not claimed:
                        continue
                    matched[source] += 1
                    have.add((req.pk, source))
                    if source in INNER_SOURCES:
                        inner_ids[req.pk].add(record.exchange_id)
                    _after_match(req=req, record=record)
                    break
    return dict(matched)


def _after_match(*, req: TransferRequest, record: TransferRecord) -> None:
    if req.status == Status.FAILED:
        _flag(
            req=req,
            reason=(
                f"{FAILED_PREFIX} ({record.get_source_display()} {record.exchange_id}, {record.amount} "
                f"{record.asset} at {record.occurred_at:%Y-%m-%d %H:%M:%S} UTC) for this request although it "
                "is marked failed: money may have moved. Check on BingX."
            ),
        )
    else:
        _unflag_if_ours(req=req, record=record)


def _coverage(req: TransferRequest) -> Q | None:
    """The cursors whose sync, if it ran after the settle window, proves the record is absent."""
    p = req.payload
    try:
        if req.kind == TransferKind.WALLET:
            return Q(source=RecordSource.ASSET, scope=f"{p['from_wallet']}>{p['to_wallet']}")
        if req.kind == TransferKind.INNER:
            return Q(source=RecordSource.INNER, scope=req.asset.upper())
        if req.kind == TransferKind.SUB_INNER:
            return Q(source=RecordSource.SUB_INNER, scope=req.asset.upper())
        if req.kind == TransferKind.FAMILY:
            return Q(source=RecordSource.FAMILY, scope__in=[str(p["from_uid"]), str(p["to_uid"])])
    except (KeyError, TypeError):
        return None
    return None


def records_flag_unmatched(*, key_set_id: int) -> int:
    """Flag this key set's SUCCEEDED/UNKNOWN requests that still have no record once the settle
    window has passed and the relevant endpoint was synced after it. Returns how many were flagged."""
    settle = dt.timedelta(seconds=settings.TRANSFER_SETTLE_WINDOW_SECONDS)
    now = timezone.now()
    candidates = (
        TransferRequest.objects.filter(
            key_set_id=key_set_id,
            status__in=SETTLED_STATUSES,
            needs_attention=False,
            submitted_at__lte=now - settle,
        )
        .filter(~Exists(TransferRecord.objects.filter(matched_request=OuterRef("pk"))))
        .order_by("submitted_at")
    )
    flagged = 0
    for req in candidates:
        assert req.submitted_at is not None
        coverage = _coverage(req)
        if coverage is None:
            continue
        synced_after = req.submitted_at + settle
        if not SyncCursor.objects.filter(
            coverage, key_set_id=key_set_id, last_synced_at__gte=synced_after
        ).exists():
            continue  # absence is not proven until the endpoint was read after the settle window
        reason = (
            f"{UNMATCHED_PREFIX} for this {req.get_status_display().lower()} request: BingX's "
            f"{req.get_kind_display().lower()} records, synced after the settle window, show no "
            f"{req.amount_text} {req.asset} transfer submitted {req.submitted_at:%Y-%m-%d %H:%M:%S} UTC "
            f"(client id {req.client_id}). Check the transfer on BingX."
        )
        # Conditional on the status it was read with, so a concurrent reconcile is never overwritten.
        if _flag(req=req, reason=reason, only_statuses=(req.status,)):
            flagged += 1
    return flagged
