"""The one place the api app hands work to Celery (services call these on commit; tasks are looked
up by name, as in transfers.dispatch, so services never import tasks)."""

from __future__ import annotations

from typing import Any

from celery import current_app

DELIVER = "api.tasks.webhook_deliver_task"


def _task(name: str) -> Any:
    app = current_app
    if name not in app.tasks:
        app.loader.import_default_modules()
    return app.tasks[name]


def webhook_deliver_enqueue(*, delivery_id: int, countdown: float = 0, manual: bool = False) -> None:
    _task(DELIVER).apply_async((delivery_id, manual), countdown=countdown if countdown > 0 else None)
