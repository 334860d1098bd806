"""Celery tasks: thin interfaces that take ids and call one service."""

from celery import shared_task


@shared_task(acks_late=True, queue="exchange", max_retries=5, soft_time_limit=45, time_limit=60, ignore_result=True)
def transfer_execute_task(request_id: int) -> None:
    from transfers.execution import transfer_execute

    transfer_execute(request_id=request_id)
