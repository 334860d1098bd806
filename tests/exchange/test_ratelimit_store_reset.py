"""The shared rate limiter after its Redis comes back empty (restarted without persistence, or
flushed): every window counts as full for one window plus the in-flight hold, then tokens flow again.
Against a throw-away redis-server (tests/worker/redis_support.py), never the shared one."""

from __future__ import annotations

import logging
import time
import uuid

import pytest
import redis

from exchange import ratelimit
from exchange.ratelimit import RateLimitUnavailable
from exchange.ratelimit.redis import EPOCH_KEY, RedisStore
from tests.worker.redis_support import RedisServer, redis_server  # noqa: F401

pytestmark = pytest.mark.redis

INNER_APPLY = "/openApi/wallets/v1/capital/innerTransfer/apply"
WINDOW = ratelimit.WINDOW_MS + ratelimit.SAFETY_MS
HOLD = 400


def _key() -> str:
    return f"uid:{uuid.uuid4().hex[:8]}:{INNER_APPLY}"


def _store(server: RedisServer) -> RedisStore:
    return RedisStore(server.url(), prefix=f"t-{uuid.uuid4().hex[:6]}:")


def test_a_restarted_redis_holds_every_window_once_then_tokens_flow(redis_server, caplog):  # noqa: F811
    store, key = _store(redis_server), _key()
    with caplog.at_level(logging.WARNING, logger="exchange.ratelimit.redis"):
        wait = store.take(key, 2, WINDOW, "a", HOLD)  # Redis (re)started a moment ago: marker missing
    assert 0 < wait <= WINDOW + HOLD  # nothing granted until one window plus the hold after its start
    assert "came back empty" in caplog.text
    marker = redis.Redis.from_url(redis_server.url())
    assert marker.ttl(EPOCH_KEY) == -1  # no TTL: only a restart or a flush removes it
    assert 0 < store.take(key, 2, WINDOW, "b", HOLD) <= wait  # still held, not reset again
    assert 0 < store.take(_key(), 5, WINDOW, "c", HOLD) <= wait  # every key, every window
    time.sleep(wait / 1000 + 0.02)
    assert store.take(key, 2, WINDOW, "d", HOLD) == 0
    assert store.take(key, 2, WINDOW, "e", HOLD) == 0
    assert store.take(key, 2, WINDOW, "f", HOLD) > 0  # the ordinary limit again


def test_first_use_of_a_redis_up_longer_than_a_window_and_the_hold_is_not_held(redis_server):  # noqa: F811
    # Nothing can be in flight from before its start: a new deployment's first transfer goes at once.
    time.sleep((WINDOW + HOLD) / 1000 + 1.1)  # uptime counts whole seconds
    assert _store(redis_server).take(_key(), 2, WINDOW, "a", HOLD) == 0
    assert redis.Redis.from_url(redis_server.url()).exists(EPOCH_KEY)


def test_flushdb_forgets_the_windows_and_the_limiter_stays_conservative(redis_server):  # noqa: F811
    store, key = _store(redis_server), _key()
    client = redis.Redis.from_url(redis_server.url())
    client.set(EPOCH_KEY, 0)  # a desk that has been running
    assert store.take(key, 2, WINDOW, "a", HOLD) == 0
    assert store.take(key, 2, WINDOW, "b", HOLD) == 0
    assert store.take(key, 2, WINDOW, "c", HOLD) > 0  # full: two in flight
    client.flushdb()  # the two grants (maybe still on the wire) are forgotten
    wait = store.take(key, 2, WINDOW, "c", HOLD)
    # Not granted: a flush leaves no time behind, so one window plus the hold from now.
    assert wait >= WINDOW + HOLD - 20


def test_a_real_restart_fails_closed_while_down_then_holds_one_window(redis_server, settings):  # noqa: F811
    settings.RATE_LIMIT_URL = redis_server.url()
    settings.BINGX_RATE_LIMIT_SCALE = 1.0
    redis.Redis.from_url(redis_server.url()).set(EPOCH_KEY, 0)
    scope = f"test-{uuid.uuid4().hex}"
    pacer = ratelimit.Pacer(scope=scope, max_wait=0.2, hold_ms=HOLD)
    pacer.before_request("POST", INNER_APPLY)
    pacer.after_response(INNER_APPLY)

    redis_server.kill()
    with pytest.raises(RateLimitUnavailable, match="unavailable"):
        pacer.before_request("POST", INNER_APPLY)  # fail closed: nothing is sent while it is down
    redis_server.start()  # same port, empty

    with pytest.raises(RateLimitUnavailable) as info:
        pacer.before_request("POST", INNER_APPLY)  # held: one window plus the hold after the start
    assert 0.2 < info.value.retry_in <= (WINDOW + HOLD) / 1000
    started = time.monotonic()
    patient = ratelimit.Pacer(scope=scope, max_wait=5, hold_ms=HOLD)
    patient.before_request("POST", INNER_APPLY)  # granted once the conservative window is over
    assert time.monotonic() - started >= info.value.retry_in - 0.3


def test_a_new_key_prefix_on_a_running_redis_is_not_held(redis_server):  # noqa: F811
    redis.Redis.from_url(redis_server.url()).set(EPOCH_KEY, 0)
    assert _store(redis_server).take(_key(), 2, WINDOW, "a", HOLD) == 0
    assert _store(redis_server).take(_key(), 2, WINDOW, "a", HOLD) == 0
