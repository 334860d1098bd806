"""The Celery application. Configuration lives in settings (CELERY_* names)."""

import os
from typing import Any

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bingxadmin.settings")

app = Celery("bingxadmin")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.setup_logging.connect
def _logging_from_django_settings(**kwargs: Any) -> None:
    """Workers and beat log like the web: settings.LOGGING (JSON or text, secrets redacted).

    A connected receiver tells Celery not to install its own root handler and task-logger handlers,
    which would bypass the redaction filter. The worker's `--loglevel` is ignored; DJANGO_LOG_LEVEL
    rules every process.
    """
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)


@signals.worker_ready.connect
def _sweep_on_start(sender: Any = None, **kwargs: Any) -> None:
    """A worker that (re)starts sweeps at once: whatever a dead worker left behind (a lost message,
    a claim that sent nothing, a call cut off) is picked up now, not at the next beat tick."""
    from transfers import dispatch

    try:
        dispatch.transfers_sweep_enqueue()
    except Exception:  # a broker hiccup at start-up must not stop the worker; beat sweeps anyway
        import logging

        logging.getLogger(__name__).warning("could not enqueue the start-up sweep", exc_info=True)


@signals.task_prerun.connect
@signals.task_postrun.connect
def _database_connections_as_django_does(task: Any = None, **kwargs: Any) -> None:
    """Around each task what Django does around each request: drop a connection that is older than
    CONN_MAX_AGE or saw an error (a database restart); a kept one is health-checked on first use.
    Not for an eager task: it runs inside its caller's transaction."""
    if task is not None and getattr(task.request, "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()


@signals.worker_process_init.connect
@signals.worker_init.connect
def _seal_audit_in_rounds(**kwargs: Any) -> None:
    """A worker seals the audit chain at most twice a second rather than after every commit; beat's
    sealer (every 5 s) covers the tail of a burst (accounts.audit)."""
    from django.conf import settings

    from accounts.audit import audit_seal_coalesce

    audit_seal_coalesce(interval_s=settings.AUDIT_SEAL_WORKER_INTERVAL_S)
