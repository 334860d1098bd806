"""The project's own app: prepares the local state folders every process needs, once Django is set up.

Settings only compute paths (they do no I/O at import). Whatever must exist on disk before a process
uses it is created here, in `ready()`, which runs in every process that sets Django up: the web
workers, Celery worker and beat (Celery's Django fixup calls django.setup() before it connects), and
every manage.py command. The rate limiter's and the demo seed's folders are made by their own code.

The var folder holds sessions (in the SQLite database), the broker's messages and the generated keys,
so it is private to the desk's user: folders 0700, the SQLite file 0600 (created so before SQLite
opens it; SQLite gives its -wal and -shm files the database's mode; `bingxadmin/local_state.py`).
`bingxadmin/checks.py` warns at start-up when either is readable by others.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.apps import AppConfig
from django.conf import settings

from bingxadmin.local_state import PRIVATE_DIR_MODE, private_state_ensure

# Every exchange (in kombu's sense) this desk's queues, workers and control commands use.
KOMBU_EXCHANGES = ("default", "exchange", "celery", "celery.pidbox", "reply.celery.pidbox", "celeryev")


def broker_folders_ensure() -> None:
    """With kombu's filesystem broker: create its folders and its exchanges' binding tables.

    kombu does not create its folders. It creates an exchange's binding table empty and fills it a
    moment later; a process starting at the same time (web, worker and beat all do under bin/run) can
    read it empty and crash with a JSONDecodeError. So every table is created up front, atomically
    (link fails if present).
    """
    if not settings.CELERY_BROKER_URL.startswith("filesystem://"):
        return
    options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    control = Path(str(options["control_folder"]))
    for folder in (options["data_folder_in"], options["processed_folder"], control):
        Path(str(folder)).mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    for name in KOMBU_EXCHANGES:
        table = control / f"{name}.exchange"
        if table.exists():
            continue
        tmp = control / f".{name}.{os.getpid()}.tmp"
        tmp.write_bytes(b"[]")
        try:
            os.link(tmp, table)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()


class BingxadminConfig(AppConfig):
    name = "bingxadmin"
    verbose_name = "bingxadmin"

    def ready(self) -> None:
        from bingxadmin import checks  # noqa: F401  (registers the start-up checks)

        private_state_ensure()
        broker_folders_ensure()
