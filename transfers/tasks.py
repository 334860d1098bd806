"""Celery tasks: thin interfaces that take ids and call one service.

Celery delivers at least once, so every service here is safe to run twice (the claim, conditional
updates). Late acks: a worker that dies mid-task leaves the message to be redelivered (Redis) or the
request to the sweeper (filesystem broker, where unacked messages die with the worker).
"""

from celery import shared_task

# Autodiscovery imports only `<app>.tasks`; the other task modules of this app register from here.
from transfers import tasks_sync, tasks_workflow  # noqa: F401  (records sync, request expiry)
from transfers.execution import transfer_execute
from transfers.reconcile import transfer_reconcile
from transfers.sweeper import transfers_sweep


@shared_task(acks_late=True, queue="exchange", soft_time_limit=45, time_limit=60, ignore_result=True)
def transfer_execute_task(request_id: int) -> None:
    transfer_execute(request_id=int(request_id))


@shared_task(acks_late=True, queue="exchange", soft_time_limit=45, time_limit=60, ignore_result=True)
def transfer_reconcile_task(request_id: int) -> None:
    transfer_reconcile(request_id=int(request_id))


@shared_task(acks_late=True, soft_time_limit=25, time_limit=30, ignore_result=True)
def transfers_sweep_task() -> None:
    transfers_sweep()
