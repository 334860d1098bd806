"""Celery tasks of the api app: thin interfaces over api.services.webhooks."""

from __future__ import annotations

from celery import shared_task


@shared_task(acks_late=True, soft_time_limit=45, time_limit=60)
def webhook_deliver_task(delivery_id: int, manual: bool = False) -> None:
    """One attempt; on failure the service schedules the next one with exponential back-off."""
    from api.services.webhooks import webhook_deliver

    webhook_deliver(delivery_id=delivery_id, manual=manual)
