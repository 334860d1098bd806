"""The production store: a moving window per key in a Redis sorted set, on Redis's own clock.

A Lua script answers "granted" or "wait N ms" atomically, so processes on machines with drifting
clocks still agree. The store is unreachable → `RateLimitUnavailable` (fail closed).
"""

from __future__ import annotations

import logging
import uuid

from exchange.ratelimit.base import STORE_DOWN_RETRY_S, RateLimitUnavailable

logger = logging.getLogger(__name__)

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
