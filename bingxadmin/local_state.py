"""The embedded default's local state is private to the desk's user: folders 0700, the SQLite file 0600."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from django.conf import settings

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
