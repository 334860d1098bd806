"""Celery tasks of the approval workflow (registered through transfers.tasks, which imports this module)."""

from celery import shared_task

from transfers.services import transfer_requests_expire


@shared_task(acks_late=True, soft_time_limit=50, time_limit=60, ignore_result=True)
def transfer_requests_expire_task() -> int:
    return transfer_requests_expire()
