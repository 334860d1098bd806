"""Celery tasks: thin interfaces that take ids and call one service.

Celery delivers at least once, so every service here is safe to run twice (the claim, conditional
updates, upserts by exchange id). Late acks: a worker that dies mid-task leaves the message to be
redelivered (Redis) or the request to the sweeper (filesystem broker, where unacked messages die
with the worker). Tasks are enqueued only through `transfers.dispatch`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from celery import shared_task
from django.db import InterfaceError, OperationalError

from transfers.execution.execute import transfer_execute
from transfers.execution.reconcile import transfer_reconcile
from transfers.execution.sweep import transfers_sweep
from transfers.records.sync import SyncRefused, records_sync, records_sync_all
from transfers.services.requests import transfer_requests_expire

logger = logging.getLogger(__name__)

# A first sync of a busy account reads many pages at 2 to 10 calls/s; far longer than an execution task.
SYNC_SOFT_LIMIT_S = 900
SYNC_HARD_LIMIT_S = 960


# The database went away mid-task (nothing is lost: the claim and the sending mark say how far it
# got): try again with back-off, up to ~10 minutes; past that the sweeper picks the request up.
DATABASE_ERRORS = (OperationalError, InterfaceError)


def _exchange_task(fn: Callable[[int], None]) -> Any:
    """The execute and reconcile tasks: queue `exchange`, late acks, 45/60 s limits, database retries."""
    return shared_task(
        acks_late=True,
        queue="exchange",
        soft_time_limit=45,
        time_limit=60,
        ignore_result=True,
        autoretry_for=DATABASE_ERRORS,
        retry_backoff=2,
        retry_backoff_max=30,
        retry_jitter=False,
        max_retries=25,
    )(fn)


@_exchange_task
def transfer_execute_task(request_id: int, reservation: str | None = None) -> None:
    transfer_execute(request_id=int(request_id), reservation=reservation or None)


@_exchange_task
def transfer_reconcile_task(request_id: int) -> None:
    transfer_reconcile(request_id=int(request_id))


@shared_task(acks_late=True, soft_time_limit=25, time_limit=30, ignore_result=True)
def transfers_sweep_task() -> None:
    transfers_sweep()


@shared_task(acks_late=True, soft_time_limit=50, time_limit=60, ignore_result=True)
def transfer_requests_expire_task() -> int:
    return transfer_requests_expire()


@shared_task(
    acks_late=True,
    max_retries=0,
    soft_time_limit=SYNC_SOFT_LIMIT_S,
    time_limit=SYNC_HARD_LIMIT_S,
    ignore_result=True,
)
def records_sync_task(key_set_id: int, sources: list[str] | None = None) -> None:
    try:
        report = records_sync(key_set_id=int(key_set_id), sources=sources)
    except SyncRefused as exc:
        logger.warning("records of key set %s not synced: %s", key_set_id, exc)
        return
    logger.info(
        "records of key set %s synced: fetched=%s inserted=%s updated=%s matched=%s flagged=%s in %.1fs",
        key_set_id,
        report.fetched,
        report.inserted,
        report.updated,
        report.matched,
        report.flagged,
        report.seconds,
    )


@shared_task(acks_late=True, max_retries=0, soft_time_limit=25, time_limit=30, ignore_result=True)
def records_sync_all_task() -> int:
    """Enqueue a records sync for every active key set; returns how many were enqueued."""
    return records_sync_all()


# Messages queued by the release before `tasks_sync`/`tasks_workflow` were merged into this module
# still carry the old task names; a worker of this release must run them, not drop them as unknown.
@shared_task(
    name="transfers.tasks_sync.records_sync_task",
    acks_late=True,
    max_retries=0,
    soft_time_limit=SYNC_SOFT_LIMIT_S,
    time_limit=SYNC_HARD_LIMIT_S,
    ignore_result=True,
)
def legacy_records_sync_task(key_set_id: int) -> None:
    records_sync_task(key_set_id)


@shared_task(name="transfers.tasks_sync.records_sync_all_task", acks_late=True, ignore_result=True)
def legacy_records_sync_all_task() -> int:
    return records_sync_all()


@shared_task(
    name="transfers.tasks_workflow.transfer_requests_expire_task", acks_late=True, ignore_result=True
)
def legacy_transfer_requests_expire_task() -> int:
    return transfer_requests_expire()


@shared_task(acks_late=True, max_retries=0, soft_time_limit=50, time_limit=60, ignore_result=True)
def transfer_reminders_task() -> int:
    """Remind approvers of pending requests that expire soon (transfers.notifications)."""
    from transfers.notifications import reminders_send

    return reminders_send()
