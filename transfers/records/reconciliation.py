"""Reads of the reconciliation page: records nobody requested here, requests the exchange has no
record of after the settle window, and how far each record endpoint has been synced."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Count, Exists, Max, Min, OuterRef, Q, QuerySet
from django.utils import timezone

from accounts.access import AccessDenied, Capability, key_sets_for
from accounts.models import ApiKeySet, User
from exchange.timeutil import ms_to_datetime
from transfers.models import RecordSource, SyncCursor, TransferRecord, TransferRequest
from transfers.records.match import SETTLED_STATUSES, SOURCES_FOR_KIND


@dataclass(frozen=True)
class SyncStatusRow:
    key_set_id: int
    key_set_label: str
    source: str
    source_label: str
    scopes: int
    # Every scope of the endpoint was read to its end at or after this time (the oldest scope's last
    # complete read): a scope left behind by a rate limit holds it back instead of hiding behind
    # its siblings' newer times.
    last_synced_at: dt.datetime | None
    unfinished: int  # scopes never read to their end
    newest_record_at: dt.datetime | None


COUNT_CAP = 1000  # the page says "1 000+" beyond this: an exact count of a large backlog costs a scan
PAGE_ROWS = 50  # rows per list: rendering them is most of the page's time (docs/performance.md)


@dataclass(frozen=True)
class Reconciliation:
    key_sets: list[ApiKeySet]
    outside: list[TransferRecord]
    outside_total: int  # capped at COUNT_CAP + 1 (see outside_total_text)
    unmatched_requests: list[TransferRequest]
    sync_status: list[SyncStatusRow]
    settle_seconds: int

    @property
    def outside_total_text(self) -> str:
        if self.outside_total > COUNT_CAP:
            return f"{COUNT_CAP:,}+".replace(",", " ")
        return str(self.outside_total)


class FilterRefused(ValueError):
    """A filter value that names nothing (unknown source); the message is safe to show."""


def _visible(*, user: User, key_set_id: int | None) -> QuerySet[ApiKeySet]:
    visible = key_sets_for(user=user, capability=Capability.VIEW)
    if key_set_id is None:
        return visible
    chosen = visible.filter(pk=key_set_id)
    if not chosen.exists():
        raise AccessDenied("You do not have the view grant on that key set.")
    return chosen


def _pair_legs(rows: list[TransferRecord], *, scope: QuerySet[ApiKeySet]) -> list[TransferRecord]:
    """One row per transfer: the two legs of an inner transfer between two of our key sets (one
    record on each side, the same exchange id, asset and amount) become one row; `other_leg` is the
    second record (or None). One query for the page."""
    for record in rows:
        # Plain decimal text for the page: no exponent, no 18 trailing zeros.
        setattr(record, "amount_text", format(record.amount.normalize(), "f"))  # noqa: B010
        setattr(record, "other_leg", None)  # noqa: B010
    if not rows:
        return rows
    partners: dict[tuple[str, str], list[TransferRecord]] = {}
    candidates = (
        TransferRecord.objects.filter(
            exchange_id__in={r.exchange_id for r in rows}, is_duplicate=False, key_set__in=scope
        )
        .select_related("key_set")
        .defer("raw")
    )
    for record in candidates:
        partners.setdefault((record.exchange_id, record.asset), []).append(record)
    shown: list[TransferRecord] = []
    paired: set[int] = set()
    for record in rows:
        if record.pk in paired:
            continue
        other = next(
            (
                p
                for p in partners.get((record.exchange_id, record.asset), [])
                if p.pk != record.pk and p.key_set_id != record.key_set_id and p.amount == record.amount
            ),
            None,
        )
        if other is not None:
            setattr(record, "other_leg", other)  # noqa: B010
            paired.add(other.pk)
        shown.append(record)
    return shown


def reconciliation_get(
    *, user: User, key_set_id: int | None = None, source: str | None = None, limit: int = PAGE_ROWS
) -> Reconciliation:
    """What the reconciliation page shows, limited to key sets the user may view."""
    if source and source not in RecordSource.values:
        raise FilterRefused(f"Unknown record source {source!r}.")
    scope = _visible(user=user, key_set_id=key_set_id)
    settle = settings.TRANSFER_SETTLE_WINDOW_SECONDS

    # The legacy endpoint lists the same wallet transfers as the new one; show each transfer once.
    # The sync flags such twins at upsert (is_duplicate), so this reads the partial index
    # record_outside_idx in order instead of a correlated NOT EXISTS per record.
    outside = TransferRecord.objects.filter(
        key_set__in=scope, matched_request__isnull=True, is_duplicate=False, acknowledged_at__isnull=True
    )
    if source:
        outside = outside.filter(source=source)
    outside_total = outside.values("pk")[: COUNT_CAP + 1].count()
    outside_rows = list(
        outside.select_related("key_set").defer("raw").order_by("-occurred_at", "-pk")[:limit]
    )
    outside_rows = _pair_legs(outside_rows, scope=scope)

    # Oldest first through transfer_request_settled_idx; the NOT EXISTS probes the records' FK index
    # once per candidate and stops at `limit` rows.
    unmatched = TransferRequest.objects.filter(
        key_set__in=scope,
        status__in=SETTLED_STATUSES,
        submitted_at__lte=timezone.now() - dt.timedelta(seconds=settle),
    ).filter(~Exists(TransferRecord.objects.filter(matched_request=OuterRef("pk"))))
    if source:
        kinds = [kind for kind, sources in SOURCES_FOR_KIND.items() if source in sources]
        unmatched = unmatched.filter(kind__in=kinds)
    unmatched_rows = list(unmatched.select_related("key_set").order_by("submitted_at")[:limit])

    cursors = SyncCursor.objects.filter(key_set__in=scope)
    if source:
        cursors = cursors.filter(source=source)
    status_rows = [
        SyncStatusRow(
            key_set_id=row["key_set_id"],
            key_set_label=row["key_set__label"],
            source=row["source"],
            source_label=RecordSource(row["source"]).label,
            scopes=row["scopes"],
            last_synced_at=None if row["unfinished"] else row["last"],
            unfinished=row["unfinished"],
            newest_record_at=ms_to_datetime(row["newest"]) if row["newest"] else None,
        )
        for row in cursors.values("key_set_id", "key_set__label", "source")
        .annotate(
            scopes=Count("id"),
            last=Min("last_synced_at"),
            unfinished=Count("id", filter=Q(last_synced_at__isnull=True)),
            newest=Max("last_time_ms"),
        )
        .order_by("key_set__label", "source")
    ]
    return Reconciliation(
        key_sets=list(key_sets_for(user=user, capability=Capability.VIEW).order_by("label")),
        outside=outside_rows,
        outside_total=outside_total,
        unmatched_requests=unmatched_rows,
        sync_status=status_rows,
        settle_seconds=settle,
    )
