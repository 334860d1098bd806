"""Incremental sync of BingX's transfer records into `TransferRecord`, per key set.

Five record endpoints, each with its own query shape and paging convention (bingx-api.md §6.6,
§6.7, §6.10, §6.12, §6.16, §9):

| source       | endpoint (client method)                        | scope (cursor)  | paging              |
|--------------|-------------------------------------------------|-----------------|---------------------|
| asset        | transferRecord (`transfer_records`)             | pair "fund>spot"| pageIndex/pageSize  |
| legacy_asset | v3 asset/transfer (`legacy_transfer_records`)   | legacy type     | current/size        |
| inner        | innerTransfer/records (main key sets)           | coin            | offset/limit ≤1000  |
| sub_inner    | subAccount/innerTransfer/records (sub key sets) | coin            | offset/limit ≤1000  |
| family       | subAccount/asset/transferHistory (main)         | member uid      | pageId/pagingSize   |

Page sizes other than inner's are at most 100.

Each (key set, source, scope) has a `SyncCursor` holding the newest record time seen. The next run
asks from `cursor - OVERLAP_MS` (records written late at the boundary are not missed) up to the
exchange's "now" taken once at the start, so pages stay stable while new transfers arrive. Rows are
upserted by exchange id one page at a time (one SELECT for the page's ids, one bulk INSERT, one bulk
UPDATE of changed statuses), each page in its own short transaction; no transaction is held across a
network call. The cursor moves only after a scope was read to its end, and never past a record the
exchange still reports as pending, so a later status change is picked up.

After the reads, `records_match` links records to transfer requests and flags requests that have no
record after the settle window.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import queue
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

import bingx
from accounts.access import AccessDenied, Capability, key_sets_for
from accounts.audit import audit_record
from accounts.models import (
    ApiKeySet,
    KeySetStatus,
    User,
)
from exchange import ratelimit
from exchange.clients import client_for
from exchange.credentials import CredentialsUnavailable
from exchange.problems import exchange_problem
from exchange.timeutil import ms_to_datetime
from transfers import dispatch
from transfers.models import RecordSource, SyncCursor, TransferRecord
from transfers.records.match import records_flag_unmatched, records_match
from transfers.records.rows import Row
from transfers.records.scopes import Scope, scopes_for, sources_for

logger = logging.getLogger(__name__)

# Records whose time lies this close before the cursor are read again: BingX may write a record a
# little after its own timestamp, and our "now" comes from a clock offset that can be slightly off.
OVERLAP_MS = 2 * 60 * 1000
# Guards against an exchange that ignores the paging parameters (it would return page 1 forever).
MAX_PAGES = 20_000
# A rate-limited scope is read again after the wait, inside the task while the waits add up to no
# more than this; a longer block (BingX's penalty is 5 minutes) defers the rest to a later task.
RATE_LIMIT_WAIT_BUDGET_S = 30.0
DEFAULT_RATE_LIMIT_WAIT_S = 1.0


class SyncRefused(Exception):
    """The sync cannot start (unknown or inactive key set, bad argument); nothing was changed."""


@dataclass
class SourceReport:
    fetched: int = 0
    inserted: int = 0
    updated: int = 0
    matched: int = 0
    scopes: int = 0
    calls: int = 0
    errors: list[str] = field(default_factory=list)
    deferred: list[str] = field(default_factory=list)  # scopes left for a later task (rate limited)
    deferred_for_s: float = 0.0


@dataclass
class SyncReport:
    key_set_id: int
    sources: dict[str, SourceReport] = field(default_factory=dict)
    flagged: int = 0
    seconds: float = 0.0

    def _sum(self, name: str) -> int:
        return sum(getattr(r, name) for r in self.sources.values())

    @property
    def fetched(self) -> int:
        return self._sum("fetched")

    @property
    def inserted(self) -> int:
        return self._sum("inserted")

    @property
    def updated(self) -> int:
        return self._sum("updated")

    @property
    def matched(self) -> int:
        return self._sum("matched")

    @property
    def errors(self) -> list[str]:
        return [f"{source}: {e}" for source, r in self.sources.items() for e in r.errors]

    @property
    def ok(self) -> bool:
        return not self.errors


def duplicates_mark(*, key_set_id: int, occurred: Sequence[dt.datetime]) -> int:
    """Flag the key set's legacy records at these times that the new asset endpoint also lists (the
    same transfer twice); one UPDATE whichever of the two arrived first. Returns how many were flagged."""
    twin = TransferRecord.objects.filter(
        key_set_id=key_set_id,
        source=RecordSource.ASSET,
        asset=OuterRef("asset"),
        amount=OuterRef("amount"),
        from_account=OuterRef("from_account"),
        to_account=OuterRef("to_account"),
        occurred_at=OuterRef("occurred_at"),
    )
    return (
        TransferRecord.objects.filter(
            key_set_id=key_set_id,
            source=RecordSource.LEGACY_ASSET,
            is_duplicate=False,
            occurred_at__in=sorted(set(occurred)),
        )
        .filter(Exists(twin))
        .update(is_duplicate=True)
    )


def upsert_rows(*, key_set_id: int, source: str, rows: Sequence[Row]) -> tuple[int, int]:
    """Insert new records and update changed ones for one page; returns (inserted, updated).

    Re-running never duplicates: existing ids are read in one query, and the unique constraint on
    (key_set, source, exchange_id) turns a concurrent insert of the same record into a no-op.
    """
    by_id = {row.exchange_id: row for row in rows}  # an id repeated on one page is one record
    if not by_id:
        return 0, 0
    now = timezone.now()
    with transaction.atomic():
        existing = {
            eid: (pk, status)
            for eid, pk, status in TransferRecord.objects.filter(
                key_set_id=key_set_id, source=source, exchange_id__in=list(by_id)
            ).values_list("exchange_id", "pk", "status")
        }
        new = [
            TransferRecord(
                key_set_id=key_set_id,
                source=source,
                exchange_id=row.exchange_id,
                asset=row.asset,
                amount=row.amount,
                status=row.status,
                from_account=row.from_account,
                to_account=row.to_account,
                direction=row.direction,
                counterparty=row.counterparty,
                transfer_client_id=row.transfer_client_id,
                occurred_at=ms_to_datetime(row.time_ms) if row.time_ms is not None else now,
                raw=row.raw,
            )
            for eid, row in by_id.items()
            if eid not in existing
        ]
        changed = [
            TransferRecord(pk=existing[eid][0], status=row.status, raw=row.raw)
            for eid, row in by_id.items()
            if eid in existing and existing[eid][1] != row.status
        ]
        if new:
            TransferRecord.objects.bulk_create(new, ignore_conflicts=True)
            if source in (RecordSource.ASSET, RecordSource.LEGACY_ASSET):
                duplicates_mark(key_set_id=key_set_id, occurred=[r.occurred_at for r in new])
        if changed:
            TransferRecord.objects.bulk_update(changed, ["status", "raw"])
    return len(new), len(changed)


def _read_pages(*, plan: Scope, start_ms: int | None, end_ms: int) -> Iterator[list[Row]]:
    """The scope's pages from `start_ms` to `end_ms`, converted (network only: runs in a reader
    thread). Stops after the last page; refuses an exchange that ignores the paging parameters."""
    seen = 0
    previous_first: str | None = None
    for n in range(MAX_PAGES):
        page = plan.fetch(start_ms, end_ms, n)
        rows = [plan.convert(r) for r in page.rows]
        if rows and rows[0].exchange_id == previous_first:
            raise bingx.Ambiguous(
                "the exchange returned the same page twice; paging ignored", path=plan.scope
            )
        previous_first = rows[0].exchange_id if rows else None
        yield rows
        seen += len(rows)
        if len(rows) < plan.page_size or seen >= page.total:
            return
    raise bingx.Ambiguous(f"more than {MAX_PAGES} pages; stopped", path=plan.scope)


@dataclass
class _ScopeProgress:
    """What the writer learnt of one scope's pages so far (the cursor moves when it is complete)."""

    cursor: SyncCursor
    newest: int
    oldest_pending: int | None = None

    def take(self, rows: Sequence[Row]) -> None:
        for row in rows:
            if row.time_ms is None:
                continue
            self.newest = max(self.newest, row.time_ms)
            if row.pending:
                self.oldest_pending = (
                    row.time_ms if self.oldest_pending is None else min(self.oldest_pending, row.time_ms)
                )

    def complete(self) -> None:
        newest = self.newest
        if self.oldest_pending is not None:
            # Keep a pending record inside the next window so its final status is read.
            newest = min(newest, self.oldest_pending)
        SyncCursor.objects.filter(pk=self.cursor.pk).update(
            last_time_ms=newest, last_synced_at=timezone.now()
        )


def _resolve(*, key_set_id: int, sources: Iterable[str] | None) -> tuple[ApiKeySet, list[RecordSource]]:
    """Validate everything up front: a refusal leaves the database untouched."""
    if isinstance(sources, str):
        sources = [sources]
    wanted = list(dict.fromkeys(sources)) if sources is not None else None
    if wanted == []:
        raise SyncRefused("No record source chosen; pass None for every source of the key set.")
    unknown = [s for s in wanted or [] if s not in RecordSource.values]
    if unknown:
        raise SyncRefused(
            f"Unknown record source(s) {', '.join(map(repr, unknown))}; "
            f"choose from {', '.join(RecordSource.values)}."
        )
    key_set = ApiKeySet.objects.filter(pk=key_set_id).first()
    if key_set is None:
        raise SyncRefused(f"Key set {key_set_id} does not exist.")
    if not key_set.is_active:
        raise SyncRefused(f"Key set “{key_set.label}” is not active; its records are not synced.")
    allowed = sources_for(key_set=key_set)
    if wanted is None:
        return key_set, list(allowed)
    wrong = [s for s in wanted if s not in allowed]
    if wrong:
        kind = key_set.get_account_kind_display().lower()
        raise SyncRefused(
            f"{', '.join(RecordSource(s).label for s in wrong)} cannot be read with key set "
            f"“{key_set.label}” (a {kind}); it has {', '.join(s.value for s in allowed)}."
        )
    return key_set, [RecordSource(s) for s in wanted]


def _exchange_now_ms(client: bingx.Client) -> int:
    try:
        client.sync_time()
    except bingx.BingXError as exc:  # a stale offset only shifts the window; the overlap absorbs it
        logger.info("server time not synced before records sync: %s", exc)
    return time.time_ns() // 1_000_000 + client.time_offset_ms


def records_sync(*, key_set_id: int, sources: Iterable[str] | None = None) -> SyncReport:
    """Read every record endpoint that applies to the key set (or only `sources`), upsert, match.

    The endpoints are read at the same time, each by a reader thread of its own within that
    endpoint's own rate limit (module docstring); this thread alone writes what they read. A failing
    scope is reported and skipped (its cursor stays, so the next run reads it again); the other
    scopes still sync. A rate-limited scope is never dropped: it is read again once the endpoint is
    free, in this task or, after a long block, in one enqueued for then with the source's remaining
    scopes. Raises `SyncRefused` before touching anything for bad input.
    """
    started = time.monotonic()
    key_set, wanted = _resolve(key_set_id=key_set_id, sources=sources)
    report = SyncReport(key_set_id=key_set.pk, sources={s.value: SourceReport() for s in wanted})
    try:
        clients = {source: client_for(key_set=key_set) for source in wanted}  # one per reader thread
    except CredentialsUnavailable as exc:
        raise SyncRefused(str(exc)) from exc
    try:
        end_ms = _exchange_now_ms(clients[wanted[0]])
        jobs: list[_SourceJob] = []
        for source in wanted:
            budget = _WaitBudget(seconds=RATE_LIMIT_WAIT_BUDGET_S)
            source_report = report.sources[source.value]
            plans = _plans(
                key_set=key_set, client=clients[source], source=source, budget=budget, report=source_report
            )
            if plans:
                jobs.append(_SourceJob(source=source, plans=plans, budget=budget, report=source_report))
        _read_concurrently(key_set=key_set, jobs=jobs, end_ms=end_ms)
    finally:
        for client in clients.values():
            client.close()

    deferred = {name: r for name, r in report.sources.items() if r.deferred}
    if deferred:
        wait_s = max(r.deferred_for_s for r in deferred.values())
        dispatch.records_sync_enqueue(key_set_id=key_set.pk, sources=sorted(deferred), countdown=wait_s)
        logger.info(
            "records sync of key set %s: %s rate-limited, continues in %.0f s",
            key_set.pk,
            ", ".join(f"{name} ({len(r.deferred)} scopes)" for name, r in deferred.items()),
            wait_s,
        )
    matched = records_match(key_set_id=key_set.pk)
    for source_name, count in matched.items():
        report.sources.setdefault(source_name, SourceReport()).matched += count
    report.flagged = records_flag_unmatched(key_set_id=key_set.pk)
    report.seconds = time.monotonic() - started
    if report.errors:
        logger.warning("records sync of key set %s incomplete: %s", key_set.pk, "; ".join(report.errors))
    return report


@dataclass
class _WaitBudget:
    seconds: float

    def spend(self, wait_s: float) -> bool:
        """Wait `wait_s` if the budget allows it (True), else leave it for a later task (False)."""
        if wait_s > self.seconds:
            return False
        self.seconds -= wait_s
        time.sleep(wait_s)
        return True


def _rate_limit_wait_s(exc: Exception) -> float | None:
    """Seconds until the endpoint is free again, for a rate-limit refusal; None for other errors."""
    if isinstance(exc, ratelimit.RateLimitUnavailable):
        return max(exc.retry_in, 0.05)
    if isinstance(exc, bingx.RateLimited):
        # The client's on_response hook has blocked the endpoint in the shared limiter until the time
        # BingX named; the next token waits for it.
        if exc.retry_in_ms is not None:
            return max(exc.retry_in_ms / 1000, 0.05)
        return DEFAULT_RATE_LIMIT_WAIT_S
    return None


def _plans(
    *,
    key_set: ApiKeySet,
    client: bingx.Client,
    source: RecordSource,
    budget: _WaitBudget,
    report: SourceReport,
) -> list[Scope]:
    """The source's scopes (reads the database, and the exchange for a main account's own uid when it
    is not stored yet); [] when they cannot be listed now (reported as an error or deferred)."""
    while True:
        try:
            return list(scopes_for(key_set=key_set, client=client, source=source))
        except (bingx.BingXError, ratelimit.RateLimitUnavailable) as exc:
            wait_s = _rate_limit_wait_s(exc)
            if wait_s is not None and budget.spend(wait_s):
                continue
            if wait_s is not None:
                report.deferred.append("(scopes)")
                report.deferred_for_s = wait_s
            else:
                report.errors.append(_describe(exc=exc, key_set=key_set))
            return []


@dataclass
class _SourceJob:
    source: RecordSource
    plans: list[Scope]
    budget: _WaitBudget
    report: SourceReport


@dataclass
class _Event:
    """From a reader thread to the writer: a page of rows, a scope read to its end ("done") or failed,
    an unexpected error ("crashed"), or the reader's end ("finished"; the scopes it left for a later
    task are in its job's report by then)."""

    kind: str
    job: _SourceJob
    plan: Scope | None = None
    rows: list[Row] = field(default_factory=list)
    error: BaseException | None = None


# Pages a reader may read ahead of the writer before it waits for the writer.
READ_AHEAD_PAGES = 4
_PUT_POLL_S = 0.2
# A stopping task waits this long for its readers to notice; then it leaves them (daemon threads).
STOP_DRAIN_S = 0.5


def _read_concurrently(*, key_set: ApiKeySet, jobs: list[_SourceJob], end_ms: int) -> None:
    """One reader thread per endpoint (network only, its own client); this thread writes every page
    in its own short transaction and moves each scope's cursor once the scope was read to its end."""
    if not jobs:
        return
    progress: dict[tuple[str, str], _ScopeProgress] = {}
    starts: dict[tuple[str, str], int | None] = {}
    for job in jobs:
        for plan in job.plans:
            cursor, _ = SyncCursor.objects.get_or_create(
                key_set_id=key_set.pk, source=plan.source, scope=plan.scope
            )
            progress[(plan.source, plan.scope)] = _ScopeProgress(cursor=cursor, newest=cursor.last_time_ms)
            starts[(plan.source, plan.scope)] = (
                max(0, cursor.last_time_ms - OVERLAP_MS) if cursor.last_time_ms else None
            )
    events: queue.Queue[_Event] = queue.Queue(maxsize=READ_AHEAD_PAGES * len(jobs))
    stop = threading.Event()
    readers = [
        threading.Thread(
            target=_reader,
            kwargs={"job": job, "starts": starts, "end_ms": end_ms, "events": events, "stop": stop},
            name=f"records-{job.source}",
            daemon=True,
        )
        for job in jobs
    ]
    for reader in readers:
        reader.start()
    running = len(readers)
    crashed: BaseException | None = None
    try:
        while running:
            event = events.get()
            if event.kind == "finished":
                running -= 1
            elif event.kind == "crashed":
                crashed = crashed or event.error
            else:
                _write(key_set=key_set, event=event, progress=progress)
    except BaseException:
        # The task is stopping (a cold shutdown's SystemExit, a time limit, an error while writing).
        # The readers stop at their next page; they never touch the database and are daemon threads,
        # so one still inside a slow answer or a rate-limit wait is left behind rather than waited
        # for: the worker must stop within its grace, and the cursors only move on written pages.
        stop.set()
        deadline = time.monotonic() + STOP_DRAIN_S
        while running and (left := deadline - time.monotonic()) > 0:
            try:
                if events.get(timeout=left).kind == "finished":
                    running -= 1
            except queue.Empty:
                break
        raise
    finally:
        if not stop.is_set():
            for reader in readers:
                reader.join(timeout=1.0)
    if crashed is not None:
        raise crashed


def _write(*, key_set: ApiKeySet, event: _Event, progress: dict[tuple[str, str], _ScopeProgress]) -> None:
    plan, report = event.plan, event.job.report
    if event.kind == "page" and plan is not None:
        inserted, updated = upsert_rows(key_set_id=key_set.pk, source=plan.source, rows=event.rows)
        report.calls += 1
        report.fetched += len(event.rows)
        report.inserted += inserted
        report.updated += updated
        progress[(plan.source, plan.scope)].take(event.rows)
    elif event.kind == "done" and plan is not None:
        progress[(plan.source, plan.scope)].complete()
        report.scopes += 1
    elif event.kind == "failed" and plan is not None and isinstance(event.error, Exception):
        report.errors.append(f"{plan.scope}: {_describe(exc=event.error, key_set=key_set)}")


def _reader(
    *,
    job: _SourceJob,
    starts: dict[tuple[str, str], int | None],
    end_ms: int,
    events: queue.Queue[_Event],
    stop: threading.Event,
) -> None:
    """Read the job's scopes one after another (a rate-limited scope is read again from its start
    after the wait, within the source's budget); never touches the database."""

    def put(event: _Event) -> bool:
        while not stop.is_set():
            try:
                events.put(event, timeout=_PUT_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    try:
        remaining = list(job.plans)
        while remaining and not stop.is_set():
            plan = remaining[0]
            try:
                for rows in _read_pages(plan=plan, start_ms=starts[(plan.source, plan.scope)], end_ms=end_ms):
                    if not put(_Event("page", job, plan, rows)):
                        return
            except (bingx.BingXError, ratelimit.RateLimitUnavailable) as exc:
                wait_s = _rate_limit_wait_s(exc)
                if wait_s is not None:
                    if job.budget.spend(wait_s):
                        continue  # the same scope again, from its cursor
                    job.report.deferred.extend(p.scope for p in remaining)
                    job.report.deferred_for_s = wait_s
                    return
                if not put(_Event("failed", job, plan, error=exc)):
                    return
                if isinstance(exc, (bingx.AuthenticationError, bingx.PermissionDenied)):
                    return  # every other scope of this endpoint would be refused the same way
            else:
                if not put(_Event("done", job, plan)):
                    return
            remaining.pop(0)
    except BaseException as exc:  # a bug or an unexpected answer: the task fails, as it would inline
        put(_Event("crashed", job, error=exc))
    finally:
        # The writer drains until every reader finished, unless it is stopping and gave up waiting.
        while True:
            try:
                events.put(_Event("finished", job), timeout=_PUT_POLL_S)
                break
            except queue.Full:
                if stop.is_set():
                    break


def _describe(*, exc: Exception, key_set: ApiKeySet) -> str:
    if isinstance(exc, ratelimit.RateLimitUnavailable):
        return f"{exc} (try again in {exc.retry_in:.0f} s)"
    return exchange_problem(exc=exc, key_set=key_set).message


def records_sync_request(
    *, user: User, key_set_id: int | None = None, ip: str | None = None
) -> list[ApiKeySet]:
    """Enqueue a sync of the key set, or of every active key set the user may view ("Sync now" on the
    reconciliation page). Viewing is enough: a sync only reads. Returns the key sets enqueued."""
    visible = key_sets_for(user=user, capability=Capability.VIEW)
    if key_set_id is not None:
        key_set = ApiKeySet.objects.filter(pk=key_set_id).first()
        if key_set is None or not visible.filter(pk=key_set_id).exists():
            raise AccessDenied("You do not have the view grant on that key set.")
        if not key_set.is_active:
            raise SyncRefused(f"Key set “{key_set.label}” is not active; its records are not synced.")
        chosen = [key_set]
    else:
        chosen = list(visible.filter(status=KeySetStatus.ACTIVE).order_by("label"))
        if not chosen:
            raise AccessDenied("You have no active key set to sync.")
    with transaction.atomic():
        for key_set in chosen:
            audit_record(actor=user, verb="records.sync_requested", obj=key_set, ip=ip)
            transaction.on_commit(
                functools.partial(dispatch.records_sync_enqueue, key_set_id=key_set.pk), robust=True
            )
    return chosen


def records_sync_all() -> int:
    """Enqueue a records sync for every active key set (the periodic task); returns how many."""
    ids = list(ApiKeySet.objects.filter(status=KeySetStatus.ACTIVE).values_list("pk", flat=True))
    for key_set_id in ids:
        dispatch.records_sync_enqueue(key_set_id=key_set_id)
    return len(ids)
