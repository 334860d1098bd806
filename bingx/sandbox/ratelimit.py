"""Per-(UID, endpoint) rate limiting (§10) and the 100202 lockout (§9, P16).

Limits are the endpoints' ``per_uid_limit`` from :mod:`bingx.endpoints` (the app passes them in);
``allowed = max(1, floor(limit * scale))`` requests per second.

Window (``window``):

* ``"sliding"`` (default, as strict as BingX): a request is refused if ``allowed`` requests were
  already *accepted* within the last 1000 ms on that (uid, path) pair;
* ``"fixed"``: a 1-second window starts at the first accepted request of the pair; up to ``allowed``
  requests are accepted in it, the next one is refused.

Penalty (``penalty_ms``): the refused request blocks the pair ("the disabled period"):

* an ``int`` — blocked for that many ms from the violating request. Default ``300_000``: BingX
  "restores after 5 minutes";
* ``"window"`` (:data:`PENALTY_WINDOW`) — blocked until the end of the current window + 1 s (sliding:
  the oldest accepted request in the window + 1000 ms + 1000 ms), so tests and demos recover within
  about 2 s while clients still see a realistic future unblock time.

Requests refused (by the limit or while blocked) are not *accepted*: they take no slot in the window
and do not extend the block — the unblock time announced at the violation stays true; every request
refused during the block names the same time. (BingX documents neither an exemption nor an extension.)

Answer (``answer``), for the violating request and every request refused while blocked:

* ``"unblock_time"`` (default) — HTTP 200, code 100410, "code:100410:The endpoint trigger frequency
  limit rule is currently in the disabled period and will be unblocked after <epoch ms>";
* ``"plain"`` — HTTP 200, code 100410, "rate limited" (no time);
* ``"http429"`` — HTTP 429, body ``{"code": 100410, "msg": "rate limited", ...}`` and a ``Retry-After``
  header in whole seconds (rounded up) until the unblock time;
* ``"mixed"`` — cycles through the three above in that order, one step per refusal (deterministic;
  the cycle restarts on reset or any settings change).

Lockout: 20 insufficient-balance failures (code 100202, or ``transferErrorMsg: "Insufficient assets"``
on Asset Transfer New) within 480 000 ms on one endpoint for one UID block that endpoint for that UID
until the oldest of those 20 errors is 480 000 ms old. Always answered with the documented
"over 20 error code:100202 requests within 480000 ms … can retry after time: <ms>" text (HTTP 200).
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Final

from .envelopes import ApiError

WINDOW_MS: Final = 1000
LOCKOUT_ERRORS: Final = 20
LOCKOUT_WINDOW_MS: Final = 480_000

WINDOWS: Final = ("sliding", "fixed")
PENALTY_WINDOW: Final = "window"
DEFAULT_PENALTY_MS: Final = 300_000
ANSWERS: Final = ("unblock_time", "plain", "http429", "mixed")
MIXED_CYCLE: Final = ("unblock_time", "plain", "http429")

MSG_UNBLOCK = (
    "code:100410:The endpoint trigger frequency limit rule is currently in the disabled period "
    "and will be unblocked after {t}"
)
MSG_PLAIN = "rate limited"

Penalty = int | str


class RateLimitError(ApiError):
    """A 100410 refusal that may carry HTTP headers (``Retry-After`` for the HTTP 429 variant)."""

    def __init__(self, code: int, msg: str, *, http_status: int = 200, headers: list[tuple[str, str]]):
        super().__init__(code, msg, http_status=http_status)
        self.headers = headers


@dataclass
class _Bucket:
    accepted: deque[int] = field(default_factory=deque)  # sliding: accepted request times, oldest first
    start: int = 0  # fixed: window start
    count: int = 0  # fixed: accepted requests in the window
    blocked_until: int = 0


def validate_window(window: object) -> str:
    if window not in WINDOWS:
        raise ValueError(f"window must be one of {', '.join(WINDOWS)}; got {window!r}")
    return str(window)


def validate_penalty(penalty_ms: object) -> Penalty:
    if penalty_ms == PENALTY_WINDOW:
        return PENALTY_WINDOW
    if isinstance(penalty_ms, bool) or not isinstance(penalty_ms, int):
        raise ValueError(f'penalty_ms must be an integer >= 0 or "{PENALTY_WINDOW}"; got {penalty_ms!r}')
    if penalty_ms < 0:
        raise ValueError(f"penalty_ms must be >= 0; got {penalty_ms}")
    return penalty_ms


def validate_answer(answer: object) -> str:
    if answer not in ANSWERS:
        raise ValueError(f"answer must be one of {', '.join(ANSWERS)}; got {answer!r}")
    return str(answer)


def validate_scale(scale: object) -> float:
    if isinstance(scale, bool) or not isinstance(scale, (int, float)):
        raise ValueError(f"scale must be a number > 0; got {scale!r}")
    if not scale > 0 or scale == float("inf"):
        raise ValueError(f"scale must be a finite number > 0; got {scale!r}")
    return float(scale)


SETTINGS: Final = ("enabled", "scale", "window", "penalty_ms", "answer")


def parse_settings(body: object) -> dict[str, object]:
    """Validate a ``POST /_sandbox/ratelimit`` JSON object into :meth:`RateLimiter.configure` kwargs.

    Raises ValueError with a readable message (the control API answers it as HTTP 400)."""
    if not isinstance(body, dict):
        raise ValueError("JSON object body required")
    unknown = sorted(set(body) - set(SETTINGS))
    if unknown:
        hint = ' ("block_ms" is now "penalty_ms")' if "block_ms" in unknown else ""
        raise ValueError(f"unknown rate-limit setting(s) {unknown}{hint}; known: {', '.join(SETTINGS)}")
    out: dict[str, object] = {}
    for name, value in body.items():
        if value is None:
            raise ValueError(f"{name} must not be null (omit it to keep the current value)")
        if name == "enabled":
            if not isinstance(value, bool):
                raise ValueError(f"enabled must be true or false; got {value!r}")
            out[name] = value
        elif name == "scale":
            if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
                raise ValueError(f"scale must be a number > 0; got {value!r}")
            out[name] = validate_scale(float(value))
        elif name == "window":
            out[name] = validate_window(value)
        elif name == "penalty_ms":
            out[name] = validate_penalty(value)
        else:
            out[name] = validate_answer(value)
    return out


class RateLimiter:
    def __init__(
        self,
        *,
        enabled: bool = True,
        scale: float = 1.0,
        window: str = "sliding",
        penalty_ms: Penalty = DEFAULT_PENALTY_MS,
        answer: str = "unblock_time",
    ):
        self.enabled = enabled
        self.scale = validate_scale(scale)
        self.window = validate_window(window)
        self.penalty_ms = validate_penalty(penalty_ms)
        self.answer = validate_answer(answer)
        self._lock = threading.Lock()
        self._buckets: dict[tuple[int, str], _Bucket] = {}
        self._errors: dict[tuple[int, str], deque[int]] = {}
        self._refusals = 0  # drives the "mixed" cycle

    def reset(self) -> None:
        with self._lock:
            self._buckets.clear()
            self._errors.clear()
            self._refusals = 0

    def configure(
        self,
        *,
        enabled: bool | None = None,
        scale: float | None = None,
        window: str | None = None,
        penalty_ms: Penalty | None = None,
        answer: str | None = None,
    ) -> None:
        """Change settings (None = keep); validates everything before changing anything; then resets
        windows, blocks and lockouts."""
        new_scale = self.scale if scale is None else validate_scale(scale)
        new_window = self.window if window is None else validate_window(window)
        new_penalty = self.penalty_ms if penalty_ms is None else validate_penalty(penalty_ms)
        new_answer = self.answer if answer is None else validate_answer(answer)
        if enabled is not None and not isinstance(enabled, bool):
            raise ValueError(f"enabled must be true or false; got {enabled!r}")
        with self._lock:
            if enabled is not None:
                self.enabled = enabled
            self.scale = new_scale
            self.window = new_window
            self.penalty_ms = new_penalty
            self.answer = new_answer
        self.reset()

    def settings(self) -> dict[str, object]:
        return {
            "enabled": self.enabled,
            "scale": self.scale,
            "window": self.window,
            "penalty_ms": self.penalty_ms,
            "answer": self.answer,
        }

    def allowed(self, limit: int) -> int:
        return max(1, int(limit * self.scale))

    def check(self, uid: int, path: str, limit: int | None, now: int) -> list[tuple[str, str]]:
        """Accept one request or raise :class:`RateLimitError` (100410). Returns rate-limit headers."""
        if not self.enabled or limit is None:
            return []
        allowed = self.allowed(limit)
        with self._lock:
            key = (uid, path)
            b = self._buckets.get(key)
            if b is None:
                b = self._buckets[key] = _Bucket(start=now)
            if b.blocked_until and now < b.blocked_until:
                raise self._answer(b.blocked_until, now)
            if self.window == "sliding":
                while b.accepted and b.accepted[0] <= now - WINDOW_MS:
                    b.accepted.popleft()
                if len(b.accepted) >= allowed:
                    window_end = b.accepted[0] + WINDOW_MS
                    raise self._violation(b, window_end, now)
                b.accepted.append(now)
                used, expire = len(b.accepted), b.accepted[0] + WINDOW_MS
            else:
                if now >= b.start + WINDOW_MS or b.count == 0:
                    b.start, b.count = now, 0
                if b.count >= allowed:
                    raise self._violation(b, b.start + WINDOW_MS, now)
                b.count += 1
                used, expire = b.count, b.start + WINDOW_MS
            return [
                ("X-RateLimit-Requests-Remain", str(allowed - used)),
                ("X-RateLimit-Requests-Expire", str(expire)),
            ]

    def _violation(self, b: _Bucket, window_end: int, now: int) -> RateLimitError:
        if self.penalty_ms == PENALTY_WINDOW:
            b.blocked_until = window_end + 1000
        else:
            b.blocked_until = now + int(self.penalty_ms)  # 0: this request is refused, the next is not
        return self._answer(max(b.blocked_until, now), now)

    def _answer(self, blocked_until: int, now: int) -> RateLimitError:
        variant = self.answer
        if variant == "mixed":
            variant = MIXED_CYCLE[self._refusals % len(MIXED_CYCLE)]
        self._refusals += 1
        if variant == "plain":
            return RateLimitError(100410, MSG_PLAIN, headers=[])
        if variant == "http429":
            seconds = max(0, -(-(blocked_until - now) // 1000))
            return RateLimitError(100410, MSG_PLAIN, http_status=429, headers=[("Retry-After", str(seconds))])
        return RateLimitError(100410, MSG_UNBLOCK.format(t=blocked_until), headers=[])

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
