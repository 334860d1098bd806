"""Fault injection: armed per path, consumed by the next matching requests (any method, any auth).

A fault is consumed when a request for its path arrives, before authentication, so "count: N" means
"the next N requests to that path", whatever they carry.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

MODES = (
    "lose_response_after_apply",  # handle normally, then close the socket without any response
    "timeout_before_apply",  # sleep `delay` s (default 15), then close the socket; nothing applied
    "http_500",  # HTTP 500, nothing applied
    "http_504_after_apply",  # handle normally, then answer HTTP 504 with a gateway-error body
    "error_code",  # BingX error `code`/`msg` in the normal envelope, nothing applied
    "slow",  # sleep `delay` s (default 15), then handle normally: a slow exchange
)
DEFAULT_DELAY_S = 15.0


@dataclass
class Fault:
    path: str
    mode: str
    count: int = 1
    code: int | None = None
    msg: str | None = None
    delay: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "mode": self.mode,
            "count": self.count,
            "code": self.code,
            "msg": self.msg,
            "delay": self.delay,
        }


class FaultRegistry:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(
        self,
        path: str,
        mode: str,
        count: int = 1,
        code: int | None = None,
        msg: str | None = None,
        delay: float | None = None,
    ) -> Fault:
        if mode not in MODES:
            raise ValueError(f"unknown fault mode {mode!r}; expected one of {', '.join(MODES)}")
        if not path.startswith("/"):
            raise ValueError("fault path must start with '/'")
        if count < 1:
            raise ValueError("count must be >= 1")
        fault = Fault(path=path, mode=mode, count=int(count), code=code, msg=msg, delay=delay)
        with self._lock:
            self._faults.append(fault)
        return fault

    def take(self, path: str) -> Fault | None:
        """Consume one use of the oldest fault armed for ``path``; returns a snapshot of it."""
        with self._lock:
            for fault in self._faults:
                if fault.path == path:
                    fault.count -= 1
                    if fault.count <= 0:
                        self._faults.remove(fault)
                    return Fault(fault.path, fault.mode, 1, fault.code, fault.msg, fault.delay)
        return None

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def list(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.to_dict() for f in self._faults]
