"""The shared BingX rate limiter: documented limits, blocking acquire, 100410 blocks, cross-process
sharing (file store and Redis) and failing closed when the store is down."""

import multiprocessing
import time
import uuid

import pytest

from exchange import ratelimit
from exchange.ratelimit import RateLimitUnavailable, acquire, block, limit_for, scope_for

INNER_APPLY = "/openApi/wallets/v1/capital/innerTransfer/apply"
WINDOW = ratelimit.WINDOW_MS + ratelimit.SAFETY_MS


@pytest.fixture
def file_limiter(settings, tmp_path):
    settings.RATE_LIMIT_URL = ""
    settings.VAR_DIR = tmp_path
    settings.BINGX_RATE_LIMIT_SCALE = 1.0
    return tmp_path


@pytest.fixture
def redis_limiter(settings, redis_url):
    settings.RATE_LIMIT_URL = redis_url
    settings.BINGX_RATE_LIMIT_SCALE = 1.0
    return redis_url


@pytest.fixture(params=["file", "redis"])
def any_limiter(request, settings, tmp_path):
    settings.BINGX_RATE_LIMIT_SCALE = 1.0
    settings.VAR_DIR = tmp_path
    if request.param == "redis":
        settings.RATE_LIMIT_URL = request.getfixturevalue("redis_url")
    else:
        settings.RATE_LIMIT_URL = ""
    return request.param


def test_documented_limits_per_endpoint(settings):
    settings.BINGX_RATE_LIMIT_SCALE = 1.0
    assert limit_for("/openApi/api/asset/v1/transfer") == 2
    assert limit_for(INNER_APPLY) == 2
    assert limit_for("/openApi/wallets/v1/capital/subAccountInnerTransfer/apply") == 5
    assert limit_for("/openApi/account/transfer/v1/subAccount/transferAsset") == 5
    assert limit_for("/openApi/fund/v1/account/balance") == 10
    assert limit_for("/openApi/spot/v1/account/balance") == 5
    assert limit_for("/openApi/wallets/v1/capital/innerTransfer/records") == 10
    assert limit_for("/openApi/some/new/endpoint") == 5
    assert limit_for("/openApi/swap/v2/server/time") is None


def test_scale_multiplies_limits_but_never_below_one(settings):
    settings.BINGX_RATE_LIMIT_SCALE = 5
    assert limit_for(INNER_APPLY) == 10
    settings.BINGX_RATE_LIMIT_SCALE = 0.1
    assert limit_for(INNER_APPLY) == 1


def test_scope_is_the_uid_when_known_else_the_key_set():
    assert scope_for(uid=10000001, key_set_id=7) == "uid:10000001"
    assert scope_for(uid=None, key_set_id=7) == "keyset:7"


def _call(*, scope: str, path: str = INNER_APPLY, max_wait: float = ratelimit.MAX_WAIT_S) -> None:
    """One call answered at once: take a token, then settle it."""
    token = acquire(scope=scope, path=path, max_wait=max_wait).token
    ratelimit.settle(scope=scope, path=path, token=token)


def test_tokens_within_the_limit_are_immediate_and_the_next_waits_for_the_window(any_limiter):
    scope = f"test-{uuid.uuid4().hex}"
    started = time.monotonic()
    _call(scope=scope)
    _call(scope=scope)
    assert time.monotonic() - started < 0.5
    _call(scope=scope)
    assert time.monotonic() - started >= WINDOW / 1000 - 0.05


def test_endpoints_and_scopes_are_limited_independently(any_limiter):
    scope, other = f"test-{uuid.uuid4().hex}", f"test-{uuid.uuid4().hex}"
    started = time.monotonic()
    for _ in range(2):
        acquire(scope=scope, path=INNER_APPLY)
        acquire(scope=other, path=INNER_APPLY)
        acquire(scope=scope, path="/openApi/api/asset/v1/transfer")
    assert time.monotonic() - started < 0.5


def test_busy_beyond_the_bound_raises_before_anything_is_sent(any_limiter):
    scope = f"test-{uuid.uuid4().hex}"
    _call(scope=scope)
    _call(scope=scope)
    with pytest.raises(RateLimitUnavailable) as info:
        acquire(scope=scope, path=INNER_APPLY, max_wait=0.2)
    assert 0 < info.value.retry_in <= WINDOW / 1000


def test_a_100410_block_holds_every_caller_until_the_named_time(any_limiter):
    scope = f"test-{uuid.uuid4().hex}"
    named = int(time.time() * 1000) + 1500
    wait_ms = block(scope=scope, path=INNER_APPLY, retry_after_ms=named)
    assert 1300 <= wait_ms <= 1500
    with pytest.raises(RateLimitUnavailable):
        acquire(scope=scope, path=INNER_APPLY, max_wait=0.5)
    started = time.monotonic()
    acquire(scope=scope, path=INNER_APPLY, max_wait=5)
    assert time.time() * 1000 >= named - 20
    assert time.monotonic() - started > 0.5


def test_block_prefers_the_relative_wait_and_is_bounded(any_limiter):
    scope = f"test-{uuid.uuid4().hex}"
    assert block(scope=scope, path=INNER_APPLY, retry_in_ms=800, retry_after_ms=1) == 800
    assert block(scope=scope, path=INNER_APPLY) == ratelimit.DEFAULT_BLOCK_MS
    far = int(time.time() * 1000) + 24 * 3600 * 1000
    assert block(scope=scope, path=INNER_APPLY, retry_after_ms=far) == ratelimit.MAX_BLOCK_MS


def _grab(scope: str, count: int, queue: "multiprocessing.Queue[list[float]]", overrides: dict) -> None:
    # A spawned process: its own interpreter, Django set up from scratch with the test's settings.
    # (fork would copy the parent's broker sockets and threads, and kombu's after-fork cleanup can hang.)
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bingxadmin.settings_test")
    django.setup()
    from django.conf import settings as child_settings

    for name, value in overrides.items():
        setattr(child_settings, name, value)
    stamps = []
    for _ in range(count):
        _call(scope=scope, max_wait=30)
        stamps.append(time.time())
    queue.put(stamps)


@pytest.mark.slow
def test_the_limit_holds_across_processes(any_limiter, settings):
    settings.BINGX_RATE_LIMIT_SCALE = 2.5  # 5 per window
    overrides = {
        "BINGX_RATE_LIMIT_SCALE": 2.5,
        "RATE_LIMIT_URL": settings.RATE_LIMIT_URL,
        "VAR_DIR": settings.VAR_DIR,
    }
    scope = f"test-{uuid.uuid4().hex}"
    ctx = multiprocessing.get_context("spawn")
    queue: multiprocessing.Queue[list[float]] = ctx.Queue()
    procs = [ctx.Process(target=_grab, args=(scope, 8, queue, overrides)) for _ in range(3)]
    for proc in procs:
        proc.start()
    stamps = sorted(s for _ in procs for s in queue.get(timeout=120))
    for proc in procs:
        proc.join(timeout=10)
    assert len(stamps) == 24
    limit = 5
    # Any limit+1 consecutive grants span at least one window (moving window, all processes together).
    for first, last in zip(stamps, stamps[limit:], strict=False):
        assert last - first >= WINDOW / 1000 - 0.01
    # ... and the limiter does not waste capacity: 24 tokens at 5 per window take about 4 windows.
    assert stamps[-1] - stamps[0] < 5 * WINDOW / 1000


def test_redis_down_fails_closed(settings):
    settings.RATE_LIMIT_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    with pytest.raises(RateLimitUnavailable, match="unavailable") as info:
        acquire(scope=f"test-{uuid.uuid4().hex}", path=INNER_APPLY)
    assert info.value.retry_in > 0


def test_server_time_is_not_limited(file_limiter):
    scope = f"test-{uuid.uuid4().hex}"
    started = time.monotonic()
    for _ in range(20):
        acquire(scope=scope, path="/openApi/swap/v2/server/time")
    assert time.monotonic() - started < 0.5


def test_the_pacer_takes_one_token_per_request(file_limiter):
    scope = f"test-{uuid.uuid4().hex}"
    pacer = ratelimit.Pacer(scope=scope, max_wait=0.1)
    pacer.before_request("POST", INNER_APPLY)
    pacer.before_request("POST", INNER_APPLY)
    with pytest.raises(RateLimitUnavailable):
        pacer.before_request("POST", INNER_APPLY)


def test_a_call_still_in_flight_holds_its_slot_past_the_window(any_limiter):
    # BingX counts a call when it arrives; a slow call may arrive long after its token was granted.
    scope = f"test-{uuid.uuid4().hex}"
    acquire(scope=scope, path=INNER_APPLY)
    acquire(scope=scope, path=INNER_APPLY)
    time.sleep(WINDOW / 1000 + 0.1)
    with pytest.raises(RateLimitUnavailable):
        acquire(scope=scope, path=INNER_APPLY, max_wait=0.3)


def test_a_settled_call_counts_from_its_answer_not_from_its_token(any_limiter):
    scope = f"test-{uuid.uuid4().hex}"
    first = acquire(scope=scope, path=INNER_APPLY)
    second = acquire(scope=scope, path=INNER_APPLY)
    time.sleep(0.4)  # the answers come back 400 ms after the tokens were granted
    answered = time.monotonic()
    ratelimit.settle(scope=scope, path=INNER_APPLY, token=first.token)
    ratelimit.settle(scope=scope, path=INNER_APPLY, token=second.token)
    acquire(scope=scope, path=INNER_APPLY, max_wait=5)
    # A full window after the answers, not after the grants (which would be 0.6 s from `answered`).
    assert time.monotonic() - answered >= WINDOW / 1000 - 0.02


def test_the_pacer_settles_when_the_answer_is_reported(file_limiter):
    scope = f"test-{uuid.uuid4().hex}"
    pacer = ratelimit.Pacer(scope=scope, max_wait=5)
    for _ in range(2):
        pacer.before_request("POST", INNER_APPLY)
        pacer.after_response(INNER_APPLY)
    started = time.monotonic()
    pacer.before_request("POST", INNER_APPLY)  # settled slots free up one window later, not after 30 s
    assert time.monotonic() - started < WINDOW / 1000 + 0.2


def test_an_unsettled_token_frees_its_slot_after_its_hold(any_limiter):
    # A worker killed mid-call never settles; its slot comes back once no answer can be late any more.
    scope = f"test-{uuid.uuid4().hex}"
    acquire(scope=scope, path=INNER_APPLY, hold_ms=300)
    acquire(scope=scope, path=INNER_APPLY, hold_ms=300)
    started = time.monotonic()
    _call(scope=scope, max_wait=5)
    waited = time.monotonic() - started
    assert 0.3 + WINDOW / 1000 - 0.05 <= waited < 0.3 + WINDOW / 1000 + 0.5


def test_clients_hold_a_slot_for_their_own_timeouts(settings):
    settings.BINGX_TIMEOUT_CONNECT, settings.BINGX_TIMEOUT_READ = 3.05, 10.0
    assert ratelimit.Pacer(scope="s").hold_ms == 14_050


def test_the_key_prefix_keeps_two_limiters_apart(redis_limiter, settings):
    scope = f"test-{uuid.uuid4().hex}"
    _call(scope=scope)
    _call(scope=scope)
    settings.RATE_LIMIT_KEY_PREFIX = f"other-{uuid.uuid4().hex}:"
    started = time.monotonic()
    _call(scope=scope)  # a fresh window under the other prefix
    assert time.monotonic() - started < 0.5
