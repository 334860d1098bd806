"""Celery tasks for records sync: thin interfaces that take ids and call one service.

Registered through `transfers.tasks` (autodiscovery imports only `<app>.tasks`). Sync is a read and
safe to run twice (upsert by exchange id), so a redelivered message costs only calls.
"""

from __future__ import annotations

import logging

from celery import shared_task

from accounts.models import ApiKeySet, KeySetStatus
from transfers.records_sync import SyncRefused, records_sync

logger = logging.getLogger(__name__)

# A first sync of a busy account reads many pages at 2 to 10 calls/s; far longer than an execution task.
SYNC_SOFT_LIMIT_S = 900
SYNC_HARD_LIMIT_S = 960


@shared_task(
    acks_late=True,
    max_retries=0,
    soft_time_limit=SYNC_SOFT_LIMIT_S,
    time_limit=SYNC_HARD_LIMIT_S,
    ignore_result=True,
)
def records_sync_task(key_set_id: int) -> None:
    try:
        report = records_sync(key_set_id=int(key_set_id))
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
    ids = list(ApiKeySet.objects.filter(status=KeySetStatus.ACTIVE).values_list("pk", flat=True))
    for key_set_id in ids:
        records_sync_task.delay(key_set_id)
    return len(ids)
