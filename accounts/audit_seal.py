"""The one sealer: links committed audit events into the HMAC chain, in sequence order.

`audit_record` only INSERTs; this runs right after each commit (transaction.on_commit) and every few
seconds from beat (accounts.tasks.audit_seal_task) as a safety net. One sealer at a time: on
PostgreSQL a transaction-scoped advisory lock (pg_try_advisory_xact_lock), on SQLite a file lock in
VAR_DIR. A sealer that finds the lock taken returns at once; the holder looks again after releasing
it, so an event committed while it worked is sealed by its next round.

Gaps: a sequence number whose transaction rolled back never appears. Events are sealed in seq order
among the committed unsealed rows; when the next one is not the successor of the highest sealed seq,
the missing ids are either still in flight or gone. On PostgreSQL each writer holds an advisory lock
on its own seq until its transaction ends, so a gap whose locks can be taken is gone (rolled back) and
is skipped at once; a gap still in flight is waited for, at most AUDIT_SEAL_GAP_SECONDS. Each sealed
event stores `prev_seq` (its chain predecessor, covered by the link), so a skipped id is recorded in
the chain itself (seq - prev_seq > 1) and logged. An event that commits after it was skipped is sealed
later, at the end of the chain (`chain_index` is the chain's order; seq only the writing order).
"""

from __future__ import annotations

import fcntl
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, transaction
from django.utils import timezone

from accounts.audit_chain import GAP_LOCK_CLASS, GENESIS, SEALER_LOCK, audit_link_message
from accounts.audit_keys import audit_current_key, audit_mac
from accounts.models import AuditEvent

logger = logging.getLogger(__name__)

SEAL_FIELDS = ["prev_hash", "hash", "key_id", "chain_index", "prev_seq", "sealed_at"]
_MAX_GAP_PROBE = 10_000  # a larger jump (a sequence advanced by hand, a lost cache) is not probed


@contextmanager
def _sealer_lock() -> Iterator[bool]:
    """Yield True inside a transaction when this process is the one sealer, False when another is."""
    if connection.vendor == "postgresql":
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [SEALER_LOCK])
            yield bool(cursor.fetchone()[0])
        return
    path = Path(settings.VAR_DIR) / "audit-sealer.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            with transaction.atomic():
                yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _gap_closed(*, first: int, last: int) -> bool:
    """True when no transaction holding one of the ids first..last is still open (they rolled back)."""
    if connection.vendor != "postgresql" or last - first >= _MAX_GAP_PROBE:
        return True  # SQLite: one writer at a time, so a missing id is never in flight
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT bool_and(pg_try_advisory_xact_lock(%s, (g %% 2147483648)::int)) "
            "FROM generate_series(%s::bigint, %s::bigint) AS g",
            [GAP_LOCK_CLASS, first, last],
        )
        return bool(cursor.fetchone()[0])


def _seal_round(*, key_id: str, key: bytes, limit: int) -> tuple[int, bool] | None:
    """Seal up to `limit` events; (sealed, blocked by an id in flight), or None if another sealer runs."""
    with _sealer_lock() as mine:
        if not mine:
            return None
        sealed_rows = AuditEvent.objects.filter(chain_index__isnull=False)
        head = sealed_rows.order_by("-chain_index").values("seq", "hash", "chain_index").first()
        prev_link, index, prev_seq = GENESIS, 0, None
        if head:
            prev_link, index, prev_seq = str(head["hash"]), (head["chain_index"] or 0), int(head["seq"])
        top_seq: int = sealed_rows.order_by("-seq").values_list("seq", flat=True).first() or 0
        pending = list(AuditEvent.objects.filter(hash__isnull=True).order_by("seq")[:limit])
        now = timezone.now()
        done: list[AuditEvent] = []
        blocked = False
        for event in pending:
            if event.seq > top_seq + 1:  # ids in between are not visible: in flight, rolled back or removed
                young = (now - event.at).total_seconds() < settings.AUDIT_SEAL_GAP_SECONDS
                if young and not _gap_closed(first=top_seq + 1, last=event.seq - 1):
                    blocked = True
                    break
                if AuditEvent.objects.filter(seq__gt=top_seq, seq__lt=event.seq).exists():
                    break  # committed since this round looked: the next round seals it in order
                logger.info(
                    "audit chain: seq %s..%s never committed; sealing seq %s next",
                    top_seq + 1,
                    event.seq - 1,
                    event.seq,
                )
            index += 1
            event.chain_index, event.prev_seq, event.key_id, event.prev_hash = (
                index,
                prev_seq,
                key_id,
                prev_link,
            )
            link = audit_mac(key=key, message=audit_link_message(prev_link=prev_link, event=event))
            event.hash, event.sealed_at = link, now
            done.append(event)
            prev_link, prev_seq, top_seq = link, event.seq, max(top_seq, event.seq)
        _seal_write(done)
        return len(done), blocked


def _seal_write(events: list[AuditEvent]) -> None:
    """Write the seal fields: on PostgreSQL one UPDATE … FROM (VALUES …) per 500 events (Django's
    bulk_update builds a CASE per column, quadratic in the batch); elsewhere one UPDATE per event."""
    if connection.vendor != "postgresql":
        for e in events:
            AuditEvent.objects.filter(pk=e.pk, hash__isnull=True).update(
                **{f: getattr(e, f) for f in SEAL_FIELDS}
            )
        return
    table = connection.ops.quote_name(AuditEvent._meta.db_table)
    for start in range(0, len(events), 500):
        batch = events[start : start + 500]
        rows = ", ".join(["(%s::bigint, %s, %s, %s, %s::bigint, %s::bigint, %s::timestamptz)"] * len(batch))
        params: list[Any] = []
        for e in batch:
            params += [e.seq, e.prev_hash, e.hash, e.key_id, e.chain_index, e.prev_seq, e.sealed_at]
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} AS e SET prev_hash = v.prev_hash, hash = v.hash, key_id = v.key_id, "  # noqa: S608
                "chain_index = v.chain_index, prev_seq = v.prev_seq, sealed_at = v.sealed_at "
                f"FROM (VALUES {rows}) AS v(seq, prev_hash, hash, key_id, chain_index, prev_seq, sealed_at) "
                "WHERE e.seq = v.seq AND e.hash IS NULL",
                params,
            )
            if cursor.rowcount != len(batch):
                raise RuntimeError(
                    "audit sealer: an event was sealed by someone else"
                )  # never, under the lock


def audit_seal_pending(*, limit: int = 1000, max_rounds: int = 20) -> int:
    """Seal every committed unsealed event this sealer can; returns how many it sealed."""
    try:
        key_id, key = audit_current_key()
    except ImproperlyConfigured as exc:
        logger.error("audit chain not sealed: %s", exc)
        return 0
    total = 0
    for _ in range(max_rounds):
        outcome = _seal_round(key_id=key_id, key=key, limit=limit)
        if outcome is None:
            return total  # the running sealer looks again after it releases the lock
        sealed, blocked = outcome
        total += sealed
        if blocked or (sealed < limit and not AuditEvent.objects.filter(hash__isnull=True).exists()):
            return total  # an id in flight seals on its own commit; beat covers a rollback
    return total
