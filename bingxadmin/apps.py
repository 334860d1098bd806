"""The project's own app: prepares the local state folders every process needs, once Django is set up.

Settings only compute paths (they do no I/O at import). Whatever must exist on disk before a process
uses it is created here, in `ready()`, which runs in every process that sets Django up: the web
workers, Celery worker and beat (Celery's Django fixup calls django.setup() before it connects), and
every manage.py command. The rate limiter's and the demo seed's folders are made by their own code.

The var folder holds sessions (in the SQLite database), the broker's messages and the generated keys,
so it is private to the desk's user: folders 0700, the SQLite file 0600 (created so before SQLite
opens it; SQLite gives its -wal and -shm files the database's mode). `bingxadmin/checks.py` warns at
start-up when either is readable by others.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from django.apps import AppConfig
from django.conf import settings

# Every exchange (in kombu's sense) this desk's queues, workers and control commands use.
KOMBU_EXCHANGES = ("default", "exchange", "celery", "celery.pidbox", "reply.celery.pidbox", "celeryev")


PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


def sqlite_path() -> Path | None:
    """The embedded database file, or None when the desk runs on another database (or in memory)."""
    db = settings.DATABASES["default"]
    name = str(db.get("NAME") or "")
    if (
        db["ENGINE"] != "django.db.backends.sqlite3"
        or not name
        or name == ":memory:"
        or name.startswith("file:")
    ):
        return None
    return Path(name)


def private_state_ensure() -> None:
    """Create the var folder 0700 and the SQLite file 0600; tighten them when we own them and they are not."""
    var_dir = Path(settings.VAR_DIR)
    var_dir.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    _tighten(var_dir, PRIVATE_DIR_MODE)
    database = sqlite_path()
    if database is None:
        return
    database.parent.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(database, os.O_CREAT | os.O_EXCL | os.O_WRONLY, PRIVATE_FILE_MODE))
    for path in (database, Path(f"{database}-wal"), Path(f"{database}-shm")):
        _tighten(path, PRIVATE_FILE_MODE)


def _tighten(path: Path, mode: int) -> None:
    # Only our own files, and only ever removing rights: an operator's stricter mode is kept.
    try:
        st = path.stat()
        if st.st_uid == os.getuid() and st.st_mode & 0o077:
            path.chmod(st.st_mode & mode & 0o777)
    except (FileNotFoundError, PermissionError):
        pass


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
