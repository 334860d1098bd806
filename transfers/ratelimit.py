"""One rate limiter for every BingX call, shared by all worker processes and machines.

BingX limits each account UID per endpoint (bingx-api.md §5, §10) and answers 100410 when a caller
goes over; after that the endpoint stays blocked until a time BingX names. Celery's own `rate_limit`
is per worker process, so the limiter lives outside the workers:

* `RATE_LIMIT_URL` set (production): Redis. A Lua script keeps a moving window per (scope, endpoint)
  in a sorted set and answers "granted" or "wait N ms" atomically, on Redis's own clock so machines
  with drifting clocks still agree.
* otherwise (embedded default): a small JSON state file per (scope, endpoint) under `VAR_DIR`,
  updated under an exclusive `fcntl` lock, which holds across processes on one machine.

The scope is the BingX UID when known, else the key set id. `acquire` blocks until a token is free,
up to a bound; beyond it, or when the store is unreachable, it raises `RateLimitUnavailable`
before anything is sent (fail closed), and the caller retries later.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from django.conf import settings

logger = logging.getLogger(__name__)

# Per-UID requests per second (bingx-api.md §5; the first figure where the docs give two).
ENDPOINT_LIMITS: dict[str, int | None] = {
    "/openApi/swap/v2/server/time": None,  # public, no per-UID limit
    "/openApi/spot/v1/server/time": None,
    "/openApi/spot/v1/account/balance": 5,
    "/openApi/fund/v1/account/balance": 10,
    "/openApi/account/v1/allAccountBalance": 5,
    "/openApi/api/asset/v1/transfer": 2,
    "/openApi/api/asset/v1/transfer/supportCoins": 2,
    "/openApi/api/v3/asset/transferRecord": 2,
    "/openApi/api/v3/asset/transfer": 10,
    "/openApi/api/v3/post/asset/transfer": 2,
    "/openApi/wallets/v1/capital/innerTransfer/apply": 2,
    "/openApi/wallets/v1/capital/innerTransfer/records": 10,
    "/openApi/wallets/v1/capital/subAccountInnerTransfer/apply": 5,
    "/openApi/wallets/v1/capital/subAccount/innerTransfer/records": 5,
    "/openApi/account/v1/innerTransfer/authorizeSubAccount": 5,
    "/openApi/account/transfer/v1/subAccount/transferAsset": 5,
    "/openApi/account/transfer/v1/subAccount/transferAsset/supportCoins": 5,
    "/openApi/account/transfer/v1/subAccount/asset/transferHistory": 5,
}
DEFAULT_LIMIT = 5

WINDOW_MS = 1000
# Calls reach the exchange a few ms after the token is granted, with jitter; a slightly longer window
# keeps N+1 arrivals from ever landing inside one of BingX's 1 s windows.
SAFETY_MS = 50
MAX_WAIT_S = 10.0  # longest blocking wait inside a task; beyond it the task retries later
STORE_DOWN_RETRY_S = 5.0
DEFAULT_BLOCK_MS = 1000  # 100410 without a usable "unblocked after" time
MAX_BLOCK_MS = 15 * 60 * 1000


class RateLimitUnavailable(Exception):
    """No token now (busy beyond the bound, or the limiter store is down). Nothing was sent."""

    def __init__(self, message: str, *, retry_in: float) -> None:
        super().__init__(message)
        self.retry_in = retry_in


def limit_for(path: str, *, scale: float | None = None) -> int | None:
    """Requests per window allowed for `path` at the configured scale; None when unlimited."""
    base = ENDPOINT_LIMITS.get(path, DEFAULT_LIMIT)
    if base is None:
        return None
    factor = settings.BINGX_RATE_LIMIT_SCALE if scale is None else scale
    return max(1, int(base * factor))


def scope_for(*, uid: int | str | None, key_set_id: int) -> str:
    """BingX counts per account UID; before the UID is known, the key set stands in for it."""
    return f"uid:{uid}" if uid else f"keyset:{key_set_id}"


class Store(Protocol):
    def take(self, key: str, limit: int, window_ms: int) -> int:
        """Grant one token (return 0) or return the milliseconds until one may be free."""

    def block(self, key: str, wait_ms: int) -> None:
        """Refuse every token for `key` for the next `wait_ms` milliseconds."""


# -- Redis ---------------------------------------------------------------------------------------

_TAKE_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local blocked = tonumber(redis.call('GET', KEYS[2]) or '0')
if blocked > now then
  return blocked - now
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window)
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.max(1, tonumber(oldest[2]) + window - now)
"""

_BLOCK_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local wait = tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if now + wait > current then
  redis.call('SET', KEYS[1], now + wait, 'PX', wait)
end
return 0
"""


class RedisStore:
    def __init__(self, url: str) -> None:
        import redis

        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        self._redis = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        self._take = self._redis.register_script(_TAKE_LUA)
        self._block = self._redis.register_script(_BLOCK_LUA)

    @staticmethod
    def _keys(key: str) -> list[str]:
        return [f"bingx:rl:{key}", f"bingx:rl:block:{key}"]

    def take(self, key: str, limit: int, window_ms: int) -> int:
        try:
            return int(self._take(keys=self._keys(key), args=[limit, window_ms, uuid.uuid4().hex]))
        except self._errors as exc:
            raise RateLimitUnavailable(
                f"rate limiter store unavailable ({type(exc).__name__}); not calling BingX",
                retry_in=STORE_DOWN_RETRY_S,
            ) from exc

    def block(self, key: str, wait_ms: int) -> None:
        try:
            self._block(keys=self._keys(key)[1:], args=[wait_ms])
        except self._errors as exc:
            # Nothing more to do: the next `take` fails closed if the store stays down.
            logger.warning("could not record a BingX rate-limit block for %s: %s", key, exc)


# -- File ----------------------------------------------------------------------------------------


class FileStore:
    """One small JSON file per key, read-modify-written under an exclusive flock."""

    def __init__(self, directory: Path) -> None:
        self._dir = directory
        self._dir.mkdir(parents=True, exist_ok=True)

    @contextlib.contextmanager
    def _locked(self, key: str) -> Iterator[tuple[int, dict[str, Any]]]:
        name = hashlib.sha256(key.encode()).hexdigest()[:32] + ".json"
        fd = os.open(self._dir / name, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            raw = b""
            while chunk := os.read(fd, 65536):
                raw += chunk
            try:
                state = json.loads(raw) if raw else {}
            except ValueError:
                state = {}  # a torn file from a killed process: start a fresh window
            yield fd, state
        finally:
            os.close(fd)  # closing releases the lock

    @staticmethod
    def _write(fd: int, state: dict[str, Any]) -> None:
        data = json.dumps(state).encode()
        os.lseek(fd, 0, os.SEEK_SET)
        os.ftruncate(fd, 0)
        os.write(fd, data)

    def take(self, key: str, limit: int, window_ms: int) -> int:
        try:
            with self._locked(key) as (fd, state):
                now = int(time.time() * 1000)
                blocked = int(state.get("blocked_until", 0))
                if blocked > now:
                    return blocked - now
                hits = [h for h in state.get("hits", []) if h > now - window_ms]
                if len(hits) < limit:
                    hits.append(now)
                    state["hits"] = hits
                    self._write(fd, state)
                    return 0
                return max(1, min(hits) + window_ms - now)
        except OSError as exc:
            raise RateLimitUnavailable(
                f"rate limiter state file unavailable ({exc}); not calling BingX", retry_in=STORE_DOWN_RETRY_S
            ) from exc

    def block(self, key: str, wait_ms: int) -> None:
        try:
            with self._locked(key) as (fd, state):
                until = int(time.time() * 1000) + wait_ms
                if until > int(state.get("blocked_until", 0)):
                    state["blocked_until"] = until
                    self._write(fd, state)
        except OSError as exc:
            logger.warning("could not record a BingX rate-limit block for %s: %s", key, exc)


# -- The limiter ---------------------------------------------------------------------------------

_stores: dict[str, Store] = {}
_stores_lock = threading.Lock()


def store() -> Store:
    """The store for the current settings (cached per URL/directory; the Redis client pools connections)."""
    url = settings.RATE_LIMIT_URL
    ident = url or f"file:{settings.VAR_DIR}"
    with _stores_lock:
        found = _stores.get(ident)
        if found is None:
            found = RedisStore(url) if url else FileStore(Path(settings.VAR_DIR) / "ratelimit")
            _stores[ident] = found
        return found


@dataclass
class Acquired:
    waited_s: float


def acquire(*, scope: str, path: str, max_wait: float = MAX_WAIT_S) -> Acquired:
    """Block until a token for (scope, path) is free; raise RateLimitUnavailable beyond `max_wait`."""
    limit = limit_for(path)
    if limit is None:
        return Acquired(waited_s=0.0)
    key = f"{scope}:{path}"
    started = time.monotonic()
    limiter = store()
    while True:
        wait_ms = limiter.take(key, limit, WINDOW_MS + SAFETY_MS)
        if wait_ms <= 0:
            return Acquired(waited_s=time.monotonic() - started)
        waited = time.monotonic() - started
        if waited + wait_ms / 1000 > max_wait:
            raise RateLimitUnavailable(
                f"BingX rate limit for {path}: no token within {max_wait:.0f} s", retry_in=wait_ms / 1000
            )
        time.sleep(wait_ms / 1000)


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


def before_request(*, scope: str, max_wait: float = MAX_WAIT_S) -> Callable[[str, str], None]:
    """A `bingx.Client(before_request=...)` hook taking one token per HTTP request."""

    def hook(method: str, path: str) -> None:
        acquire(scope=scope, path=path, max_wait=max_wait)

    return hook
