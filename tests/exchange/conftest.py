"""The rate-limiter tests run against a desk whose Redis has been up: its limiter marker is set.

A Redis the limiter finds without its marker (restarted empty, flushed, or brand new) makes it count
every window as full until one window plus the in-flight hold after the loss (exchange/ratelimit/
redis.py), up to 31 s with `acquire`'s default hold; that behaviour has its own tests on a
throw-away Redis (test_ratelimit_store_reset.py), the others must not pay for a just-started CI Redis.
"""

from __future__ import annotations

import contextlib
import os

import pytest


@pytest.fixture(autouse=True, scope="session")
def _limiter_marker_set() -> None:
    url = os.environ.get("REDIS_URL", "")
    if not url:
        return
    import redis

    from exchange.ratelimit.redis import EPOCH_KEY

    with contextlib.suppress(redis.RedisError):  # the tests that need Redis report it (fail in CI)
        redis.Redis.from_url(url, socket_connect_timeout=2).set(EPOCH_KEY, 0, nx=True)
