"""One rate limiter for every BingX call, shared by all worker processes and machines.

BingX limits each account UID per endpoint (bingx-api.md §5, §10) and answers 100410 when a caller
goes over; after that the endpoint stays blocked until a time BingX names. Celery's own `rate_limit`
is per worker process, so the limiter lives outside the workers, in a store:

* `RATE_LIMIT_URL` set (production): Redis (exchange.ratelimit.redis), a moving window per
  (scope, endpoint) kept atomically on Redis's own clock;
* otherwise (embedded default): small JSON state files under `VAR_DIR/ratelimit`
  (exchange.ratelimit.file), updated under an exclusive `fcntl` lock across processes on one machine.

The per-UID limits come from the endpoint table (bingx.endpoints). The scope is the BingX UID when
known, else the key set id. `acquire` blocks until a token is free, up to a bound; beyond it, or when
the store is unreachable, it raises `RateLimitUnavailable` before anything is sent (fail closed), and
the caller retries later. BingX counts a call when it arrives, so a token holds its slot while the
call is in flight and `settle` counts it from the moment its answer came back (base.py); `Pacer`
pairs the two around every HTTP request of a `bingx.Client`.

A caller that can come back later does not wait at all: `reserve` books the next free slot per
(scope, endpoint) — a future-dated entry, so later reservers get later slots — and answers how far
away it is; the caller schedules itself for it (an execution task: a Celery countdown) and, when it
runs, it takes the token with the reservation's id (`acquire(reservation=…)`), waiting at most
`RESERVED_MAX_WAIT_S` (calls answered later than planned) before giving up with
`RateLimitUnavailable` (the execution books again), and hands it to its client's pacer
(`Pacer.use_token`), which settles it when the answer is in.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from bingx.endpoints import DEFAULT_PER_UID_LIMIT, endpoint_for
from exchange.ratelimit.base import INFLIGHT_MS, RateLimitUnavailable, Store, hold_ms_for_timeouts
from exchange.ratelimit.file import FileStore
from exchange.ratelimit.redis import RedisStore

__all__ = [
    "DEFAULT_BLOCK_MS",
    "DEFAULT_LIMIT",
    "MAX_BLOCK_MS",
    "MAX_WAIT_S",
    "RESERVED_MAX_WAIT_S",
    "SAFETY_MS",
    "WINDOW_MS",
    "Acquired",
    "Pacer",
    "RateLimitUnavailable",
    "Reservation",
    "acquire",
    "block",
    "cancel",
    "client_hold_ms",
    "limit_for",
    "reserve",
    "scope_for",
    "settle",
    "store",
]

DEFAULT_LIMIT = DEFAULT_PER_UID_LIMIT  # endpoints missing from bingx.endpoints

WINDOW_MS = 1000
# Tokens are counted from the answer's arrival (an upper bound of the call's arrival at BingX) and
# granted no earlier than a window later, so two calls `limit` apart arrive at least a window plus
# both network legs apart whatever this margin; it only covers the stamps' 1 ms granularity. (It was
# 50 ms: 5 % of every UID's rate, for nothing the arrival-time tests could show.)
SAFETY_MS = 10
MAX_WAIT_S = 10.0  # longest blocking wait inside a task; beyond it the task retries later
DEFAULT_BLOCK_MS = 1000  # 100410 without a usable "unblocked after" time
MAX_BLOCK_MS = 15 * 60 * 1000
# The longest a holder of a reservation waits at its slot (calls answered slower than planned); beyond
# it, the execution hands the request back. Short: a worker slot never sleeps on one UID for long.
RESERVED_MAX_WAIT_S = 0.4
# Slots further away than this are not booked (a 5-minute penalty): the caller comes back then.
MAX_RESERVE_S = 120.0


def limit_for(path: str, *, scale: float | None = None) -> int | None:
    """Requests per window allowed for `path` at the configured scale; None when unlimited."""
    endpoint = endpoint_for(path)
    base = DEFAULT_LIMIT if endpoint is None else endpoint.per_uid_limit
    if base is None:
        return None
    factor = settings.BINGX_RATE_LIMIT_SCALE if scale is None else scale
    return max(1, int(base * factor))


def scope_for(*, uid: int | str | None, key_set_id: int) -> str:
    """BingX counts per account UID; before the UID is known, the key set stands in for it."""
    return f"uid:{uid}" if uid else f"keyset:{key_set_id}"


_stores: dict[str, Store] = {}
_stores_lock = threading.Lock()


def store() -> Store:
    """The store for the current settings (cached per URL/directory; the Redis client pools connections)."""
    url = settings.RATE_LIMIT_URL
    prefix = settings.RATE_LIMIT_KEY_PREFIX
    ident = f"{url}#{prefix}" if url else f"file:{settings.VAR_DIR}"
    with _stores_lock:
        found = _stores.get(ident)
        if found is None and url:
            pooled = _stores.get(url)  # one connection pool per Redis, whatever the prefix
            if not isinstance(pooled, RedisStore):
                pooled = _stores[url] = RedisStore(url)
            found = pooled.with_prefix(prefix)
        elif found is None:
            found = FileStore(Path(settings.VAR_DIR) / "ratelimit")
        _stores[ident] = found
        return found


@dataclass
class Acquired:
    waited_s: float
    token: str | None = None  # None: the endpoint is not limited, nothing to settle


def acquire(
    *,
    scope: str,
    path: str,
    max_wait: float = MAX_WAIT_S,
    hold_ms: int = INFLIGHT_MS,
    reservation: str | None = None,
) -> Acquired:
    """Block until a token for (scope, path) is free; raise RateLimitUnavailable beyond `max_wait`.

    With `reservation` (the id `reserve` returned), the token is that reservation's: not before its
    slot, then counted only against the calls already made. The token counts as in flight until
    `settle`, or until `hold_ms` passed without one."""
    limit = limit_for(path)
    if limit is None:
        return Acquired(waited_s=0.0)
    key = f"{scope}:{path}"
    token = uuid.uuid4().hex  # never the reservation's id: each grant is an entry of its own
    started = time.monotonic()
    limiter = store()
    while True:
        wait_ms = limiter.take(key, limit, WINDOW_MS + SAFETY_MS, token, hold_ms, reservation)
        if wait_ms <= 0:
            return Acquired(waited_s=time.monotonic() - started, token=token)
        waited = time.monotonic() - started
        if waited + wait_ms / 1000 > max_wait:
            raise RateLimitUnavailable(
                f"BingX rate limit for {path}: no token within {max_wait:.0f} s", retry_in=wait_ms / 1000
            )
        time.sleep(wait_ms / 1000)


@dataclass
class Reservation:
    token: str | None  # None: nothing booked (the endpoint is not limited, or the slot is too far)
    delay_s: float  # from now until the slot (0: now)


def reserve(
    *, scope: str, path: str, hold_ms: int = INFLIGHT_MS, horizon_s: float = MAX_RESERVE_S
) -> Reservation:
    """Book the next free slot for (scope, path) without waiting for it (module docstring).

    Raises RateLimitUnavailable when the store cannot be reached (fail closed)."""
    limit = limit_for(path)
    if limit is None:
        return Reservation(token=None, delay_s=0.0)
    token = uuid.uuid4().hex
    wait_ms, recorded = store().reserve(
        f"{scope}:{path}", limit, WINDOW_MS + SAFETY_MS, token, hold_ms, int(horizon_s * 1000)
    )
    return Reservation(token=token if recorded else None, delay_s=max(0.0, wait_ms / 1000))


def cancel(*, scope: str, path: str, token: str | None) -> None:
    """Give back an unused reservation, or a token nothing was sent with (its holder found nothing
    to send: a duplicate delivery, a refusal). Never for a token whose call may have left."""
    if token is not None:
        store().cancel(f"{scope}:{path}", token)


def settle(*, scope: str, path: str, token: str | None) -> None:
    """The call behind `token` was answered (or failed): count it from now, no longer as in flight."""
    if token is not None:
        store().settle(f"{scope}:{path}", token, WINDOW_MS + SAFETY_MS)


def block(*, scope: str, path: str, retry_in_ms: int | None = None, retry_after_ms: int | None = None) -> int:
    """BingX answered 100410: refuse tokens for (scope, path) to every process until the named time.

    `retry_in_ms` (a wait from now) wins; else `retry_after_ms` (epoch ms) against the local clock.
    Returns the wait applied, in ms.
    """
    if retry_in_ms is not None and retry_in_ms > 0:
        wait_ms = int(retry_in_ms)
    elif retry_after_ms:
        wait_ms = int(retry_after_ms - time.time() * 1000)
    else:
        wait_ms = DEFAULT_BLOCK_MS
    wait_ms = max(DEFAULT_BLOCK_MS // 4, min(MAX_BLOCK_MS, wait_ms))
    store().block(f"{scope}:{path}", wait_ms)
    return wait_ms


def client_hold_ms() -> int:
    """How long a client's call can be in flight at most (its connect + read timeouts, + 1 s)."""
    return hold_ms_for_timeouts(connect_s=settings.BINGX_TIMEOUT_CONNECT, read_s=settings.BINGX_TIMEOUT_READ)


class Pacer:
    """Takes a token before each HTTP request of a client and settles it when the answer is in.

    `bingx.Client` calls `before_request(method, path)` right before sending and `on_response` after
    every attempt (bingx/client.py), in the same thread; the pending token is kept per thread."""

    def __init__(self, *, scope: str, max_wait: float = MAX_WAIT_S, hold_ms: int | None = None) -> None:
        self.scope = scope
        self.max_wait = max_wait
        self.hold_ms = hold_ms if hold_ms is not None else client_hold_ms()
        self._pending = threading.local()
        self._granted: dict[str, str] = {}

    def use_token(self, *, path: str, token: str) -> None:
        """The next request to `path` goes out on this token, already taken (`acquire`), instead of
        taking a new one; it is settled like any other."""
        self._granted[path] = token

    def before_request(self, method: str, path: str) -> None:
        token = self._granted.pop(path, None)
        if token is None:
            token = acquire(scope=self.scope, path=path, max_wait=self.max_wait, hold_ms=self.hold_ms).token
        self._pending.call = (path, token)

    def after_response(self, path: str) -> None:
        pending = getattr(self._pending, "call", None)
        self._pending.call = None
        if pending is not None and pending[0] == path:
            settle(scope=self.scope, path=path, token=pending[1])
