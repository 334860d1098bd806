"""Per-(UID, endpoint) rate limiting (§10) and the 100202 lockout (§9, P16).

Limits are the endpoints' ``per_uid_limit`` from :mod:`bingx.endpoints` (the app passes them in).

Window model: a 1-second window starts at the first request of a (uid, path) pair; up to
``max(1, floor(limit * scale))`` requests are allowed in it. The next one blocks the pair:

* real BingX "restores after 5 minutes" — pass ``block_ms=300_000`` for that;
* the sandbox default (``block_ms=None``) blocks until the end of the current window + 1 s, so tests and
  demos recover quickly while clients still see a realistic future "unblocked after <ms>" timestamp.

Every request counts, including ones rejected while blocked (BingX documents no exemption).

Lockout: 20 responses with code 100202 within 480 000 ms on one endpoint for one UID block that
endpoint for that UID until the oldest of those 20 errors is 480 000 ms old.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

from .envelopes import ApiError

WINDOW_MS = 1000
LOCKOUT_ERRORS = 20
LOCKOUT_WINDOW_MS = 480_000


@dataclass
class _Window:
    start: int
    count: int
    blocked_until: int = 0


class RateLimiter:
    def __init__(self, *, enabled: bool = True, scale: float = 1.0, block_ms: int | None = None):
        self.enabled = enabled
        self.scale = scale
        self.block_ms = block_ms
        self._lock = threading.Lock()
        self._windows: dict[tuple[int, str], _Window] = {}
        self._errors: dict[tuple[int, str], deque[int]] = {}

    def reset(self) -> None:
        with self._lock:
            self._windows.clear()
            self._errors.clear()

    def allowed(self, limit: int) -> int:
        return max(1, int(limit * self.scale))

    def check(self, uid: int, path: str, limit: int | None, now: int) -> list[tuple[str, str]]:
        """Count one request; raise 100410 when over the limit. Returns rate-limit headers."""
        if not self.enabled or limit is None:
            return []
        allowed = self.allowed(limit)
        with self._lock:
            key = (uid, path)
            win = self._windows.get(key)
            if win is not None and win.blocked_until and now < win.blocked_until:
                win.count += 1
                raise ApiError(
                    100410,
                    "code:100410:The endpoint trigger frequency limit rule is currently in the disabled "
                    f"period and will be unblocked after {win.blocked_until}",
                )
            if win is None or now >= win.start + WINDOW_MS:
                win = self._windows[key] = _Window(start=now, count=0)
            win.count += 1
            expire = win.start + WINDOW_MS
            if win.count > allowed:
                win.blocked_until = now + self.block_ms if self.block_ms is not None else expire + 1000
                raise ApiError(
                    100410,
                    "code:100410:The endpoint trigger frequency limit rule is currently in the disabled "
                    f"period and will be unblocked after {win.blocked_until}",
                )
            return [
                ("X-RateLimit-Requests-Remain", str(allowed - win.count)),
                ("X-RateLimit-Requests-Expire", str(expire)),
            ]

    def check_lockout(self, uid: int, path: str, now: int) -> None:
        with self._lock:
            errors = self._errors.get((uid, path))
            if not errors:
                return
            while errors and errors[0] <= now - LOCKOUT_WINDOW_MS:
                errors.popleft()
            if len(errors) >= LOCKOUT_ERRORS:
                retry_after = errors[-LOCKOUT_ERRORS] + LOCKOUT_WINDOW_MS
                raise ApiError(
                    100410,
                    f"over {LOCKOUT_ERRORS} error code:100202 requests within {LOCKOUT_WINDOW_MS} ms "
                    f"for this api, please verify and fix it ,can retry after time: {retry_after}",
                )

    def record_insufficient(self, uid: int, path: str, now: int) -> None:
        with self._lock:
            self._errors.setdefault((uid, path), deque()).append(now)
