"""Call journal: one entry per /openApi request, so tests can see what reached the exchange and
whether it moved money (``applied``) — the ground truth for at-most-once checks.

Entry keys: ``seq``, ``time_ms``, ``method``, ``path``, ``endpoint`` (the :mod:`bingx.endpoints` name,
None for a path BingX does not have), ``params``, ``uid``, ``api_key_last4``, ``http_status``, ``code``,
``msg``, ``applied``, ``transfer_id``, ``fault``."""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

MAX_ENTRIES = 200_000


class Journal:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: deque[dict[str, Any]] = deque(maxlen=MAX_ENTRIES)
        self._seq = 0

    def add(self, entry: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self._seq += 1
            entry = {"seq": self._seq, **entry}
            self._calls.append(entry)
            return entry

    def update(self, entry: dict[str, Any], **changes: Any) -> None:
        with self._lock:
            entry.update(changes)

    def list(self, path: str | None = None, since_seq: int | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [
                dict(c)
                for c in self._calls
                if (path is None or c["path"] == path) and (since_seq is None or c["seq"] > since_seq)
            ]

    def clear(self) -> None:
        # seq keeps counting so a stale ``since_seq`` never matches newer entries by accident.
        with self._lock:
            self._calls.clear()
