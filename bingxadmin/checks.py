"""Start-up checks (every manage.py command, gunicorn and the worker run them): private local state."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Warning, register

from bingxadmin.local_state import sqlite_path


def _open_to_others(path: Path) -> int | None:
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return None
    return mode if mode & 0o077 else None


@register()
def private_state_check(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """The var folder and the SQLite file hold sessions, queued tasks and keys: nobody else may read them."""
    found: list[CheckMessage] = []
    var_dir = Path(settings.VAR_DIR)
    mode = _open_to_others(var_dir)
    if mode is not None:
        found.append(
            Warning(
                f"{var_dir} is mode {mode:04o}: other local users can read the desk's state.",
                hint=f"chmod 700 {var_dir}",
                id="bingxadmin.W001",
            )
        )
    database = sqlite_path()
    if database is not None:
        mode = _open_to_others(database)
        if mode is not None:
            found.append(
                Warning(
                    f"{database} is mode {mode:04o}: others can read sessions and the audit trail.",
                    hint=f"chmod 600 {database}",
                    id="bingxadmin.W002",
                )
            )
    return found
