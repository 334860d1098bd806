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

import contextlib
import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterator
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q
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


def _fuzzy_filter(req: TransferRequest) -> Callable[[TransferRecord], bool] | None:
    """Whether a record of the requesting key set looks like this request (asset, amount, direction,
    from/to, time near the submission); None when the payload cannot be read (left to a human)."""
    assert req.submitted_at is not None
    amount = _amount(req)
    if amount is None:
        return None
    p = req.payload
    earliest, latest = req.submitted_at - WINDOW_BEFORE, req.submitted_at + WINDOW_AFTER
    asset = req.asset.upper()
    try:
        if req.kind == TransferKind.WALLET:
            sides: tuple[set[str] | None, set[str] | None] = ({str(p["from_wallet"])}, {str(p["to_wallet"])})
        elif req.kind == TransferKind.SUB_INNER and int(p["recipient_type"]) == 1:
            sides = (None, {str(p["recipient_account"])})  # a UID recipient is what the record names
        elif req.kind == TransferKind.FAMILY:
            sides = (
                _family_side(p["from_uid"], p.get("from_account_type")),
                _family_side(p["to_uid"], p.get("to_account_type")),
            )
        else:
            sides = (None, None)
    except (KeyError, TypeError, ValueError):
        return None

    def looks_like(r: TransferRecord) -> bool:
        return (
            r.asset == asset
            and earliest <= r.occurred_at <= latest
            and r.direction != "in"
            and (sides[0] is None or r.from_account in sides[0])
            and (sides[1] is None or r.to_account in sides[1])
            # Amounts compared as Decimal; on SQLite a record's column keeps 15 significant digits.
            and amount_matches(exact=amount, stored=r.amount)
        )

    return looks_like


def _fuzzy_wanted(*, req: TransferRequest, key_set_id: int, source: str) -> bool:
    return (
        req.key_set_id == key_set_id
        and source in FUZZY_SOURCES.get(req.kind, ())
        and req.status in FUZZY_STATUSES
        and req.submitted_at is not None
    )


class _Unmatched:
    """The key set's unmatched records that could belong to the open (request, source) pairs, read in
    a few queries (by client id and exchange id at once, and by time windows for the amount-and-time
    rule), and handed out at most once each."""

    def __init__(self, *, key_set_id: int, open_pairs: list[tuple[TransferRequest, str, set[str]]]) -> None:
        base = TransferRecord.objects.filter(key_set_id=key_set_id, matched_request__isnull=True)
        sources = sorted({source for _, source, _ in open_pairs})
        self._base = base.filter(source__in=sources)
        client_ids = sorted(
            {r.client_id for r, _, _ in open_pairs if r.kind == TransferKind.INNER and r.client_id}
        )
        exchange_ids = sorted({eid for _, _, known in open_pairs for eid in known})
        found: dict[int, TransferRecord] = {}
        for start in range(0, max(len(client_ids), len(exchange_ids)), _IN_CHUNK):
            exact = Q(transfer_client_id__in=client_ids[start : start + _IN_CHUNK]) | Q(
                exchange_id__in=exchange_ids[start : start + _IN_CHUNK]
            )
            found.update((r.pk, r) for r in base.filter(exact, source__in=sources))
        windows = _merged_windows(
            [
                r.submitted_at
                for r, source, _ in open_pairs
                if _fuzzy_wanted(req=r, key_set_id=key_set_id, source=source)
            ]
        )
        fuzzy_sources = sorted({s for sources_ in FUZZY_SOURCES.values() for s in sources_} & set(sources))
        for start in range(0, len(windows), _WINDOW_CHUNK):
            in_windows = Q()
            for earliest, latest in windows[start : start + _WINDOW_CHUNK]:
                in_windows |= Q(occurred_at__gte=earliest, occurred_at__lte=latest)
            found.update(
                (r.pk, r) for r in base.filter(in_windows, source__in=fuzzy_sources).exclude(direction="in")
            )
        self.records = sorted(found.values(), key=lambda r: (r.occurred_at, r.pk))
        self.taken: set[int] = set()
        self._ids_read = set(exchange_ids)

    def read_ids(self, ids: set[str]) -> None:
        """Also hold the unmatched records with these exchange ids (one query, only for new ids)."""
        new = sorted(ids - self._ids_read)
        if not new:
            return
        self._ids_read.update(new)
        held = {r.pk for r in self.records}
        extra = [r for r in self._base.filter(exchange_id__in=new) if r.pk not in held]
        if extra:
            self.records = sorted([*self.records, *extra], key=lambda r: (r.occurred_at, r.pk))

    def find(
        self, *, req: TransferRequest, key_set_id: int, source: str, known_ids: set[str]
    ) -> list[TransferRecord]:
        """As the rules in the module docstring, in their order; the closest in time first."""
        free = [r for r in self.records if r.source == source and r.pk not in self.taken]
        if req.kind == TransferKind.INNER and req.client_id:
            by_client = [r for r in free if r.transfer_client_id == req.client_id][:1]
            if by_client:
                return by_client
        if known_ids:
            by_id = [r for r in free if r.exchange_id in known_ids][:1]
            if by_id:
                return by_id
        if _fuzzy_wanted(req=req, key_set_id=key_set_id, source=source):
            looks_like = _fuzzy_filter(req)
            if looks_like is None:
                return []
            submitted = req.submitted_at
            assert submitted is not None
            found = [r for r in free if looks_like(r)]
            found.sort(key=lambda r: (abs((r.occurred_at - submitted).total_seconds()), r.pk))
            return found
        return []


_IN_CHUNK = 500  # ids per IN list
_WINDOW_CHUNK = 50  # time windows OR-ed in one query


def _merged_windows(times: list[dt.datetime | None]) -> list[tuple[dt.datetime, dt.datetime]]:
    """The requests' [submitted - before, submitted + after] windows, overlapping ones merged."""
    merged: list[tuple[dt.datetime, dt.datetime]] = []
    for t in sorted(t for t in times if t is not None):
        earliest, latest = t - WINDOW_BEFORE, t + WINDOW_AFTER
        if merged and earliest <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], latest))
        else:
            merged.append((earliest, latest))
    return merged


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
    """Match the key set's unmatched records to requests; returns how many were matched per source.

    A handful of queries whatever the number of requests: the candidate requests, the records they
    already have, the unmatched records that could be theirs; then one conditional UPDATE (and its
    audit event) per record matched. One matcher per family at a time (an advisory lock on
    PostgreSQL, not a row lock: new requests on the family's key sets never wait for it), so a
    request never gets two records of one source; the conditional UPDATE keeps a record to one
    request whatever runs."""
    matched: dict[str, int] = defaultdict(int)
    key_set = ApiKeySet.objects.filter(pk=key_set_id).first()
    if key_set is None:
        return {}
    family = family_key_set_ids(key_set=key_set)
    now = timezone.now()
    with _family_matcher(root_id=family[0]):
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
        for start in range(0, len(requests), _IN_CHUNK):
            chunk = [r.pk for r in requests[start : start + _IN_CHUNK]]
            for req_id, source, exchange_id, rec_key_set in TransferRecord.objects.filter(
                matched_request__in=chunk
            ).values_list("matched_request_id", "source", "exchange_id", "key_set_id"):
                assert req_id is not None
                if rec_key_set == key_set_id:
                    have.add((req_id, source))
                if source in INNER_SOURCES:
                    inner_ids[req_id].add(exchange_id)
        open_pairs: list[tuple[TransferRequest, str, set[str]]] = []
        for req in requests:
            for source in SOURCES_FOR_KIND.get(req.kind, ()):
                if (req.pk, source) not in have:
                    open_pairs.append((req, source, _known_ids(req=req, source=source, inner_ids=inner_ids)))
        if not open_pairs:
            return {}
        unmatched = _Unmatched(key_set_id=key_set_id, open_pairs=open_pairs)
        for req, source, _ in open_pairs:
            if (req.pk, source) in have:
                continue
            # Read now: a record matched for this request's other source just now may name its id.
            known = _known_ids(req=req, source=source, inner_ids=inner_ids)
            unmatched.read_ids(known)
            for record in unmatched.find(req=req, key_set_id=key_set_id, source=source, known_ids=known):
                claimed = TransferRecord.objects.filter(pk=record.pk, matched_request__isnull=True).update(
                    matched_request=req
                )
                unmatched.taken.add(record.pk)
                if not claimed:
                    continue
                matched[source] += 1
                have.add((req.pk, source))
                if source in INNER_SOURCES:
                    inner_ids[req.pk].add(record.exchange_id)
                _after_match(req=req, record=record)
                break
    return dict(matched)


def _known_ids(*, req: TransferRequest, source: str, inner_ids: dict[int, set[str]]) -> set[str]:
    known = {req.exchange_id} if req.exchange_id else set()
    if source in INNER_SOURCES:
        known |= inner_ids[req.pk]  # the payer's record id is the payee's record id
    return known


MATCHER_LOCK_CLASS = 0x4D415443  # "MATC": PostgreSQL advisory locks of the family matchers


@contextlib.contextmanager
def _family_matcher(*, root_id: int) -> Iterator[None]:
    """One matcher per family at a time. PostgreSQL: a session advisory lock (waits for the running
    matcher; locks no row). Elsewhere (SQLite: one writer at a time) one transaction, as before."""
    if connection.vendor != "postgresql":
        with transaction.atomic():
            yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s, %s)", [MATCHER_LOCK_CLASS, root_id])
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [MATCHER_LOCK_CLASS, root_id])


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
