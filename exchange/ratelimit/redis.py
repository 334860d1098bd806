"""The production store: a moving window per key in a Redis sorted set, on Redis's own clock.

Lua scripts answer "granted" or "wait N ms" and settle tokens atomically, so processes on machines
with drifting clocks still agree. A granted token is scored `now + hold_ms` (it holds its slot
while the call is on the wire) until `settle` re-scores it with the answer's time (base.py). The
store is unreachable → `RateLimitUnavailable` (fail closed).

A Redis that restarts without persistence (or is flushed) comes back empty: every window and every
in-flight hold is forgotten, and the next calls could overshoot BingX's limit (100410). So the store
keeps a marker key without TTL (`EPOCH_KEY`, one per Redis database, whatever the key prefix). When
`take` finds it missing, the state was lost: it sets the marker to "lost at + window + hold_ms" and
refuses every token until then — any call granted before the loss has arrived (within its hold) and
left BingX's window (one window later) by that time. "Lost at" is the server's start (Redis's own
uptime) when no FLUSHDB/FLUSHALL ran since, else now (a flush leaves no time behind). So a restart
holds calls for one window plus the hold after Redis is back, and the first use of a Redis that has
been up longer than that (a new deployment) is not held at all. Each reset is logged as a warning.
"""

from __future__ import annotations

import copy
import logging

from exchange.ratelimit.base import (
    EXPECTED_LATENCY_MS,
    INFLIGHT_MS,
    INFLIGHT_POLL_MS,
    RESERVATION_GRACE_MS,
    STORE_DOWN_RETRY_S,
    RateLimitUnavailable,
)

logger = logging.getLogger(__name__)

# Marks a store that has not lost its state: no TTL, one per Redis database, outside any key prefix.
EPOCH_KEY = "bingxadmin:rl:epoch"

# Returns {wait_ms, reset}: reset is 1 when this call found the store emptied (the marker missing).
# Shared by take and reserve: Redis's clock, the empty-store marker (module docstring), and the plan of
# the next free slot (base.py `plan_slot`, the same arithmetic). KEYS: window zset, block key, epoch
# marker, reservations zset. Returns {wait_ms, reset}: reset is 1 when this call found the store
# emptied (the marker missing).
_PRELUDE_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local inflight = tonumber(ARGV[4])
local poll = tonumber(ARGV[5])
local latency = tonumber(ARGV[6])
local grace = tonumber(ARGV[7])
local reset = 0
local epoch = redis.call('GET', KEYS[3])
if epoch then
  epoch = tonumber(epoch)
else
  reset = 1
  local lost_at = now
  -- pcall: a Redis that refuses INFO (ACLs, renamed commands) gets the conservative "now".
  local stats = redis.pcall('INFO', 'commandstats')
  local server = redis.pcall('INFO', 'server')
  if type(stats) == 'string' and type(server) == 'string'
    and not string.find(stats, 'cmdstat_flushdb:', 1, true)
    and not string.find(stats, 'cmdstat_flushall:', 1, true) then
    lost_at = now - tonumber(string.match(server, 'uptime_in_seconds:(%d+)') or '0') * 1000
  end
  epoch = lost_at + window + inflight
  redis.call('SET', KEYS[3], epoch)
end
local blocked = tonumber(redis.call('GET', KEYS[2]) or '0')
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now - grace)

local function plan(skip)
  local frees = {}
  local hits = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
  for i = 2, #hits, 2 do
    local s = tonumber(hits[i])
    if s <= now then
      frees[#frees + 1] = s + window
    else
      frees[#frees + 1] = math.max(s - inflight + latency, now + poll) + window
    end
  end
  local res = redis.call('ZRANGE', KEYS[4], 0, -1, 'WITHSCORES')
  for i = 1, #res, 2 do
    if res[i] ~= skip then
      frees[#frees + 1] = math.max(tonumber(res[i + 1]), now) + latency + window
    end
  end
  local live = {}
  for _, f in ipairs(frees) do
    if f > now then live[#live + 1] = f end
  end
  if #live < limit then return now end
  table.sort(live)
  return math.max(now, live[#live - limit + 1])
end
"""

# take: ARGV token (3), reservation (8, '' for none). With a reservation still booked: not before its
# slot, then only the calls made count, and the reservation becomes the token (a new id, so a second
# delivery holding the same reservation can never touch this call's entry). Without: the calls made,
# and the reservations made before it (it queues behind them).
_TAKE_LUA = (
    _PRELUDE_LUA
    + """
if epoch > now then
  return {epoch - now, reset}
end
if blocked > now then
  return {blocked - now, reset}
end
local reservation = ARGV[8]
local mine = false
if reservation ~= '' then
  mine = redis.call('ZSCORE', KEYS[4], reservation)
end
if mine and tonumber(mine) > now then
  return {tonumber(mine) - now, reset}
end
local count = redis.call('ZCARD', KEYS[1])
if count >= limit then
  local blocking = tonumber(redis.call('ZRANGE', KEYS[1], count - limit, count - limit, 'WITHSCORES')[2])
  if blocking > now then
    return {poll, reset}
  end
  local wait = math.max(1, blocking + window - now)
  if mine then
    -- A late holder: the holders booked before it are due too; each window serves `limit` of them,
    -- in booking order, so it comes back for its own window instead of all for the first one.
    local ahead = redis.call('ZCOUNT', KEYS[4], '-inf', '(' .. mine)
    wait = wait + math.floor(ahead / limit) * window
  end
  return {wait, reset}
end
if not mine and redis.call('ZCARD', KEYS[4]) > 0 then
  local slot = plan(reservation)
  if slot > now then
    return {slot - now, reset}
  end
end
if mine then
  redis.call('ZREM', KEYS[4], reservation)
end
redis.call('ZADD', KEYS[1], now + inflight, ARGV[3])
redis.call('PEXPIRE', KEYS[1], window + inflight)
return {0, reset}
"""
)

# reserve: ARGV token (3), horizon (8). Returns {wait_ms, reset, recorded}.
_RESERVE_LUA = (
    _PRELUDE_LUA
    + """
local horizon = tonumber(ARGV[8])
redis.call('ZREM', KEYS[4], ARGV[3])
local slot = math.max(plan(ARGV[3]), epoch, blocked)
if slot - now > horizon then
  return {slot - now, reset, 0}
end
redis.call('ZADD', KEYS[4], slot, ARGV[3])
redis.call('PEXPIRE', KEYS[4], slot - now + grace + window)
return {slot - now, reset, 1}
"""
)

_SETTLE_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], 'XX', now, ARGV[1])
return 0
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
    def __init__(self, url: str, *, prefix: str = "bingx:rl:") -> None:
        self._prefix = prefix
        import redis

        self._errors: tuple[type[BaseException], ...] = (redis.RedisError, OSError)
        self._redis = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        self._take = self._redis.register_script(_TAKE_LUA)
        self._block = self._redis.register_script(_BLOCK_LUA)
        self._settle = self._redis.register_script(_SETTLE_LUA)
        self._reserve = self._redis.register_script(_RESERVE_LUA)

    def with_prefix(self, prefix: str) -> RedisStore:
        """The same connection pool and scripts under other keys."""
        other = copy.copy(self)
        other._prefix = prefix
        return other

    def _keys(self, key: str) -> list[str]:
        return [f"{self._prefix}{key}", f"{self._prefix}block:{key}"]

    def _all_keys(self, key: str) -> list[str]:
        return [*self._keys(key), EPOCH_KEY, f"{self._prefix}res:{key}"]

    @staticmethod
    def _args(limit: int, window_ms: int, token: str, hold_ms: int) -> list[str | int]:
        return [limit, window_ms, token, hold_ms, INFLIGHT_POLL_MS, EXPECTED_LATENCY_MS, RESERVATION_GRACE_MS]

    def _unavailable(self, exc: BaseException) -> RateLimitUnavailable:
        return RateLimitUnavailable(
            f"rate limiter store unavailable ({type(exc).__name__}); not calling BingX",
            retry_in=STORE_DOWN_RETRY_S,
        )

    @staticmethod
    def _log_reset(reset: int, wait_ms: int) -> None:
        if reset:
            logger.warning(
                "the BingX rate-limiter store came back empty (Redis restarted, flushed or new): every "
                "window counts as full until one window plus the in-flight hold after the loss "
                "(next token in %d ms)",
                int(wait_ms),
            )

    def take(
        self,
        key: str,
        limit: int,
        window_ms: int,
        token: str,
        hold_ms: int = INFLIGHT_MS,
        reservation: str | None = None,
    ) -> int:
        try:
            args = [*self._args(limit, window_ms, token, hold_ms), reservation or ""]
            wait_ms, reset = self._take(keys=self._all_keys(key), args=args)
        except self._errors as exc:
            raise self._unavailable(exc) from exc
        self._log_reset(reset, wait_ms)
        return int(wait_ms)

    def reserve(
        self,
        key: str,
        limit: int,
        window_ms: int,
        token: str,
        hold_ms: int = INFLIGHT_MS,
        horizon_ms: int = 0,
    ) -> tuple[int, bool]:
        try:
            args = [*self._args(limit, window_ms, token, hold_ms), horizon_ms]
            wait_ms, reset, recorded = self._reserve(keys=self._all_keys(key), args=args)
        except self._errors as exc:
            raise self._unavailable(exc) from exc
        self._log_reset(reset, wait_ms)
        return int(wait_ms), bool(recorded)

    def cancel(self, key: str, token: str) -> None:
        try:
            keys = self._all_keys(key)
            with self._redis.pipeline(transaction=False) as pipe:
                pipe.zrem(keys[3], token)
                pipe.zrem(keys[0], token)
                pipe.execute()
        except self._errors as exc:
            # It lapses RESERVATION_GRACE_MS after its slot: slower for a moment, never faster.
            logger.warning("could not cancel a BingX rate-limit reservation for %s: %s", key, exc)

    def settle(self, key: str, token: str, window_ms: int) -> None:
        try:
            self._settle(keys=self._keys(key)[:1], args=[token])
        except self._errors as exc:
            # The token keeps its in-flight hold and lapses after INFLIGHT_MS: slower, never faster.
            logger.warning("could not settle a BingX rate-limit token for %s: %s", key, exc)

    def block(self, key: str, wait_ms: int) -> None:
        try:
            self._block(keys=self._keys(key)[1:], args=[wait_ms])
        except self._errors as exc:
            # Nothing more to do: the next `take` fails closed if the store stays down.
            logger.warning("could not record a BingX rate-limit block for %s: %s", key, exc)
