"""Celery tasks for key sets: thin interfaces that take ids and call one service."""

from __future__ import annotations

import logging

from celery import shared_task

from accounts.audit_checkpoints import audit_checkpoint_write
from accounts.audit_seal import audit_seal_pending
from accounts.audit_verify import audit_verify_run
from accounts.models import ApiKeySet, KeySetStatus
from accounts.services.balances import balances_sync
from accounts.services.key_sets import KeySetRefused
from accounts.services.verification import key_set_verify
from exchange.problems import ExchangeProblem

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, max_retries=0, soft_time_limit=45, time_limit=60, ignore_result=True)
def key_set_verify_task(key_set_id: int) -> None:
    try:
        report = key_set_verify(key_set_id=int(key_set_id))
    except KeySetRefused as exc:
        logger.warning("key set %s not verified: %s", key_set_id, exc)
        return
    if not report["ok"]:
        logger.warning("key set %s verification failed: %s", key_set_id, report["error_kind"])


@shared_task(acks_late=True, max_retries=0, soft_time_limit=45, time_limit=60, ignore_result=True)
def balances_sync_task(key_set_id: int) -> None:
    try:
        balances_sync(key_set_id=int(key_set_id))
    except (ExchangeProblem, KeySetRefused) as exc:
        # The next periodic sync tries again; a failing read is not worth a retry storm.
        logger.warning("key set %s balances not synced: %s", key_set_id, exc)


@shared_task(acks_late=True, max_retries=0, soft_time_limit=45, time_limit=60, ignore_result=True)
def balances_sync_all_task() -> int:
    """Enqueue a balance sync for every active key set; returns how many were enqueued."""
    ids = list(ApiKeySet.objects.filter(status=KeySetStatus.ACTIVE).values_list("pk", flat=True))
    for key_set_id in ids:
        balances_sync_task.delay(key_set_id)
    return len(ids)


@shared_task(acks_late=True, max_retries=0, soft_time_limit=50, time_limit=60, ignore_result=True)
def audit_seal_task() -> int:
    """Safety net for the after-commit sealer (a crash, a rolled-back id blocking the ones after it)."""
    return audit_seal_pending()


@shared_task(acks_late=True, max_retries=0, soft_time_limit=50, time_limit=60, ignore_result=True)
def audit_checkpoint_task() -> None:
    audit_checkpoint_write()


@shared_task(acks_late=True, max_retries=0, soft_time_limit=3000, time_limit=3600, ignore_result=True)
def audit_verify_task(full: bool = False) -> None:
    audit_verify_run(full=bool(full))


@shared_task(acks_late=True, max_retries=0, soft_time_limit=45, time_limit=60, ignore_result=True)
def balances_refresh_task(key_set_id: int, actor_id: int | None = None, ip: str | None = None) -> None:
    """A person's "Refresh balances", run here so the page never waits on the exchange."""
    from accounts.balance_refresh import balance_refresh_run

    balance_refresh_run(key_set_id=int(key_set_id), actor_id=actor_id, ip=ip)
