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
