"""Per-UID rate limits (§10): sliding/fixed window, the violation penalty, the 100410 answer variants,
headers, the scale factor, the 100202 lockout (§9) on every money-moving endpoint, and the control API
and CLI for these settings."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
import requests

from bingx.sandbox import SandboxServer
from bingx.sandbox.__main__ import build_server
from bingx.sandbox.envelopes import ApiError
from bingx.sandbox.ratelimit import RateLimiter, RateLimitError

from .conftest import EXTERNAL, MAIN, SEED_PATH, SUB1, Client, client_for

TRANSFER = "/openApi/api/asset/v1/transfer"
INNER = "/openApi/wallets/v1/capital/innerTransfer/apply"
FAMILY = "/openApi/account/transfer/v1/subAccount/transferAsset"
FUND = "/openApi/fund/v1/account/balance"
UNBLOCK_RE = (
    r"code:100410:The endpoint trigger frequency limit rule is currently in the disabled period "
    r"and will be unblocked after (\d+)"
)
LOCKOUT_RE = (
    r"over 20 error code:100202 requests within 480000 ms for this api, please verify and fix it ,"
    r"can retry after time: (\d+)"
)


def _transfer(c: Client, amount: str = "1") -> dict:
    return c.post(
        TRANSFER, {"fromAccount": "fund", "toAccount": "spot", "asset": "USDT", "amount": amount}
    ).json()


def _unblock_time(msg: str) -> int:
    m = re.fullmatch(UNBLOCK_RE, msg)
    assert m is not None, msg
    return int(m.group(1))


def _server_now(s: SandboxServer) -> int:
    now: int = requests.get(s.base_url + "/openApi/swap/v2/server/time", timeout=5).json()["data"][
        "serverTime"
    ]
    return now


def _accepts(limiter: RateLimiter, now: int, limit: int = 5) -> bool:
    try:
        limiter.check(MAIN, FUND, limit, now)
    except RateLimitError:
        return False
    return True


# ---------------------------------------------------------------------------------------------------
# window: sliding (default) vs fixed
# ---------------------------------------------------------------------------------------------------
# 1 request at t=0, then 4 at 880..940 and 4 at 1000..1060: nine requests in 180 ms at a 5/s limit.
BURST = [0, 880, 900, 920, 940, 1000, 1020, 1040, 1060]


def test_fixed_window_lets_a_burst_straddle_two_windows() -> None:
    limiter = RateLimiter(window="fixed")
    assert [_accepts(limiter, t) for t in BURST] == [True] * 9


def test_sliding_window_is_the_default_and_refuses_that_burst() -> None:
    limiter = RateLimiter()
    assert limiter.window == "sliding"
    # At t=1000 the t=0 request has left the window (4 accepted within the last 1000 ms): accepted.
    # At t=1020 five were accepted within the last 1000 ms: refused (and blocked for 300 s).
    assert [_accepts(limiter, t) for t in BURST] == [True] * 6 + [False] * 3


def test_sliding_window_counts_accepted_requests_within_the_last_1000_ms() -> None:
    limiter = RateLimiter()
    assert [_accepts(limiter, t, limit=2) for t in (0, 500, 1000)] == [True, True, True]
    assert not _accepts(limiter, 1499, limit=2)  # 500 and 1000 are both within the last 1000 ms


def test_sliding_window_headers() -> None:
    limiter = RateLimiter()
    assert dict(limiter.check(MAIN, FUND, 3, 100)) == {
        "X-RateLimit-Requests-Remain": "2",
        "X-RateLimit-Requests-Expire": "1100",
    }
    limiter.check(MAIN, FUND, 3, 600)
    assert dict(limiter.check(MAIN, FUND, 3, 1150)) == {
        "X-RateLimit-Requests-Remain": "1",  # the request at 100 has left the window
        "X-RateLimit-Requests-Expire": "1600",
    }


def test_sliding_window_over_http() -> None:
    # Fund balance: 10/s. One call, then (clock +500 ms) nine, then (clock +1000 ms) two more.
    for window, expected in (("sliding", [0, 100410]), ("fixed", [0, 0])):
        with SandboxServer(seed=SEED_PATH, rate_limit_window=window) as s:
            c = client_for(s, MAIN)
            assert c.get(FUND).json()["code"] == 0
            s.set_clock_skew(500)
            assert [c.get(FUND).json()["code"] for _ in range(9)] == [0] * 9
            s.set_clock_skew(1000)
            ts = int(time.time() * 1000) + 1000
            assert [c.get(FUND, timestamp=ts).json()["code"] for _ in range(2)] == expected, window


def test_fund_balance_limit_10_and_headers() -> None:
    with SandboxServer(seed=SEED_PATH) as s:
        c = client_for(s, MAIN)
        responses = [c.get(FUND) for _ in range(11)]
        assert [r.json().get("code") for r in responses[:10]] == [0] * 10
        assert responses[10].json()["code"] == 100410
        assert responses[0].headers["X-RateLimit-Requests-Remain"] == "9"
        assert responses[9].headers["X-RateLimit-Requests-Remain"] == "0"
        assert int(responses[0].headers["X-RateLimit-Requests-Expire"]) > 0


def test_scale_halves_the_limit() -> None:
    with SandboxServer(seed=SEED_PATH, rate_limit_scale=0.5) as s:
        c = client_for(s, MAIN)
        codes = [c.get(FUND).json()["code"] for _ in range(6)]
        assert codes == [0, 0, 0, 0, 0, 100410]


# ---------------------------------------------------------------------------------------------------
# penalty
# ---------------------------------------------------------------------------------------------------
def test_default_penalty_is_five_minutes_from_the_violation() -> None:
    with SandboxServer(seed=SEED_PATH) as s:
        c = client_for(s, MAIN)
        assert [_transfer(c)["code"] for _ in range(2)] == [0, 0]
        before = _server_now(s)
        unblock = _unblock_time(_transfer(c)["msg"])
        assert before + 300_000 <= unblock <= _server_now(s) + 300_000
        # Still blocked 299 s later, with the same unblock time (refusals do not extend the block) ...
        s.set_clock_skew(299_000)
        ts = int(time.time() * 1000) + 299_000
        assert [_unblock_time(c.post(TRANSFER, {}, timestamp=ts).json()["msg"]) for _ in range(3)] == [
            unblock
        ] * 3
        # ... and open again after the unblock time.
        s.set_clock_skew(301_000)
        body = c.post(
            TRANSFER,
            {"fromAccount": "fund", "toAccount": "spot", "asset": "USDT", "amount": "1"},
            timestamp=int(time.time() * 1000) + 301_000,
        ).json()
        assert body["code"] == 0
        assert "tranId" in body["data"]
        assert [x["applied"] for x in s.journal(path=TRANSFER)] == [True, True] + [False] * 4 + [True]


def test_window_penalty_recovers_quickly() -> None:
    with SandboxServer(seed=SEED_PATH, rate_limit_penalty_ms="window") as s:
        c = client_for(s, MAIN)
        first, second, third = _transfer(c), _transfer(c), _transfer(c)
        assert first["code"] == second["code"] == 0
        assert third["code"] == 100410
        unblock = _unblock_time(third["msg"])
        server_now = _server_now(s)
        assert server_now < unblock <= server_now + 2100
        journal = s.journal(path=TRANSFER)
        assert [c["applied"] for c in journal] == [True, True, False]
        # Other endpoints and other users have their own buckets.
        assert c.get(FUND).json()["code"] == 0
        assert _transfer(client_for(s, EXTERNAL))["code"] == 0
        # After the disabled period the endpoint works again, with the full limit.
        time.sleep(max(0, (unblock - server_now) / 1000) + 0.05)
        assert [_transfer(c)["code"] for _ in range(3)] == [0, 0, 100410]


def test_penalty_in_milliseconds_and_refusals_take_no_slot() -> None:
    limiter = RateLimiter(penalty_ms=5000)
    assert [_accepts(limiter, t, limit=2) for t in (0, 10, 20)] == [True, True, False]
    with pytest.raises(RateLimitError) as info:
        limiter.check(MAIN, FUND, 2, 4999)
    assert _unblock_time(info.value.msg) == 5020  # violation at 20 + 5000, not moved by this refusal
    # Refused requests were never accepted: the full limit is available once the block ends.
    assert [_accepts(limiter, t, limit=2) for t in (5020, 5021, 5022)] == [True, True, False]


def test_fixed_window_with_window_penalty_blocks_until_window_end_plus_1s() -> None:
    limiter = RateLimiter(window="fixed", penalty_ms="window")
    assert [_accepts(limiter, t, limit=2) for t in (100, 200, 300)] == [True, True, False]
    with pytest.raises(RateLimitError) as info:
        limiter.check(MAIN, FUND, 2, 2099)
    assert _unblock_time(info.value.msg) == 2100  # window 100..1100, + 1 s
    assert _accepts(limiter, 2100, limit=2)


def test_zero_penalty_refuses_only_the_violating_request() -> None:
    limiter = RateLimiter(penalty_ms=0)
    assert [_accepts(limiter, t, limit=1) for t in (0, 10, 1000)] == [True, False, True]


# ---------------------------------------------------------------------------------------------------
# 100410 answer variants
# ---------------------------------------------------------------------------------------------------
def _burst_transfer(s: SandboxServer, n: int) -> list[requests.Response]:
    c = client_for(s, MAIN)
    return [
        c.post(TRANSFER, {"fromAccount": "fund", "toAccount": "spot", "asset": "USDT", "amount": "1"})
        for _ in range(n)
    ]


def test_answer_plain_rate_limited() -> None:
    with SandboxServer(seed=SEED_PATH, rate_limit_answer="plain") as s:
        r = _burst_transfer(s, 3)[2]
        assert r.status_code == 200
        assert r.json()["code"] == 100410
        assert r.json()["msg"] == "rate limited"
        assert "Retry-After" not in r.headers


def test_answer_http_429_with_retry_after_seconds() -> None:
    with SandboxServer(seed=SEED_PATH, rate_limit_answer="http429") as s:
        responses = _burst_transfer(s, 4)
        for r in responses[2:]:
            assert r.status_code == 429
            assert r.reason == "Too Many Requests"
            assert r.headers["Retry-After"] == "300"
            assert r.json()["code"] == 100410
        assert [(x["http_status"], x["code"]) for x in s.journal(path=TRANSFER)][2:] == [(429, 100410)] * 2


def test_answer_http_429_retry_after_rounds_up_for_the_window_penalty() -> None:
    limiter = RateLimiter(answer="http429", penalty_ms="window")
    limiter.check(MAIN, FUND, 1, 0)
    with pytest.raises(RateLimitError) as info:
        limiter.check(MAIN, FUND, 1, 10)
    assert info.value.http_status == 429
    assert info.value.headers == [("Retry-After", "2")]  # blocked until 2000: 1990 ms → 2 s


def test_answer_mixed_cycles_through_the_three_variants() -> None:
    with SandboxServer(seed=SEED_PATH, rate_limit_answer="mixed") as s:
        refused = _burst_transfer(s, 6)[2:]
        assert [r.status_code for r in refused] == [200, 200, 429, 200]
        assert re.fullmatch(UNBLOCK_RE, refused[0].json()["msg"])
        assert refused[1].json()["msg"] == "rate limited"
        assert refused[2].headers["Retry-After"] == "300"
        assert re.fullmatch(UNBLOCK_RE, refused[3].json()["msg"])


# ---------------------------------------------------------------------------------------------------
# the lockout after 20 insufficient-balance failures (§9, P16)
# ---------------------------------------------------------------------------------------------------
def _assert_locked(body: dict[str, Any]) -> int:
    assert body["code"] == 100410
    m = re.fullmatch(LOCKOUT_RE, body["msg"])
    assert m is not None, body
    retry = int(m.group(1))
    assert retry > int(time.time() * 1000) + 470_000
    return retry


def test_twenty_insufficient_errors_lock_the_inner_transfer(sandbox: SandboxServer) -> None:
    c = client_for(sandbox, MAIN)
    params = {
        "coin": "USDT",
        "amount": "99999999",
        "walletType": 1,
        "userAccountType": 1,
        "userAccount": str(EXTERNAL),
    }
    codes = [c.post(INNER, params).json()["code"] for _ in range(20)]
    assert codes == [100202] * 20
    _assert_locked(c.post(INNER, {**params, "amount": "1"}).json())
    # Only that endpoint is locked.
    assert _transfer(c)["code"] == 0
    # The lockout ends 480 s after the first error (simulated with the clock control).
    sandbox.set_clock_skew(481_000)
    assert (
        c.post(INNER, {**params, "amount": "1"}, timestamp=int(time.time() * 1000) + 481_000).json()["code"]
        == 0
    )


def test_twenty_insufficient_assets_lock_asset_transfer(sandbox: SandboxServer) -> None:
    # Asset Transfer New answers insufficient balance as code 0 + data.transferErrorMsg; it still counts.
    c = client_for(sandbox, MAIN)
    for _ in range(20):
        body = _transfer(c, amount="99999999")
        assert body["code"] == 0
        assert body["data"]["transferErrorMsg"] == "Insufficient assets"
    _assert_locked(_transfer(c, amount="1"))
    assert [x["applied"] for x in sandbox.journal(path=TRANSFER)] == [False] * 21
    # Another user is not locked.
    assert _transfer(client_for(sandbox, EXTERNAL))["code"] == 0


def test_illegal_transfer_type_does_not_count_toward_the_lockout(sandbox: SandboxServer) -> None:
    c = client_for(sandbox, MAIN)
    for _ in range(25):
        body = c.post(
            TRANSFER, {"fromAccount": "fund", "toAccount": "fund", "asset": "USDT", "amount": "1"}
        ).json()
        assert body["data"]["transferErrorMsg"] == "illegal transferType"
    assert _transfer(c)["code"] == 0


def test_twenty_insufficient_errors_lock_the_family_transfer(sandbox: SandboxServer) -> None:
    c = client_for(sandbox, MAIN)
    params = {
        "assetName": "USDT",
        "transferAmount": "99999999",
        "fromUid": MAIN,
        "fromType": 1,
        "fromAccountType": 1,
        "toUid": SUB1,
        "toType": 2,
        "toAccountType": 1,
        "remark": "lockout test",
    }
    codes = [c.post(FAMILY, params, mode="json").json()["code"] for _ in range(20)]
    assert codes == [100202] * 20
    _assert_locked(c.post(FAMILY, {**params, "transferAmount": "1"}, mode="json").json())


def test_lockout_needs_twenty_within_480_seconds() -> None:
    limiter = RateLimiter()
    for i in range(19):
        limiter.record_insufficient(MAIN, TRANSFER, 100 + i)
    limiter.check_lockout(MAIN, TRANSFER, 200)
    limiter.record_insufficient(MAIN, TRANSFER, 480_100)  # the error at 100 is now 480 s old: 19 count
    limiter.check_lockout(MAIN, TRANSFER, 480_100)
    limiter.record_insufficient(MAIN, TRANSFER, 480_100)
    with pytest.raises(ApiError, match=LOCKOUT_RE) as info:
        limiter.check_lockout(MAIN, TRANSFER, 480_100)
    assert info.value.msg.endswith("can retry after time: 480101")  # the oldest counted (101) + 480 s


# ---------------------------------------------------------------------------------------------------
# settings: constructor, CLI, in-process and control API
# ---------------------------------------------------------------------------------------------------
DEFAULTS = {
    "enabled": True,
    "scale": 1.0,
    "window": "sliding",
    "penalty_ms": 300_000,
    "answer": "unblock_time",
}


def test_defaults_are_as_strict_as_bingx() -> None:
    assert RateLimiter().settings() == DEFAULTS
    assert SandboxServer(seed=SEED_PATH).app.limiter.settings() == DEFAULTS
    assert build_server([]).app.limiter.settings() == DEFAULTS


def test_cli_flags() -> None:
    server = build_server(
        [
            "--rate-limit-window",
            "fixed",
            "--rate-limit-penalty-ms",
            "window",
            "--rate-limit-answer",
            "mixed",
            "--rate-limit-scale",
            "0.5",
        ]
    )
    assert server.app.limiter.settings() == {
        "enabled": True,
        "scale": 0.5,
        "window": "fixed",
        "penalty_ms": "window",
        "answer": "mixed",
    }
    assert build_server(["--rate-limit-penalty-ms", "1500"]).app.limiter.penalty_ms == 1500


@pytest.mark.parametrize(
    "argv",
    [
        ["--rate-limit-window", "tumbling"],
        ["--rate-limit-penalty-ms", "-1"],
        ["--rate-limit-penalty-ms", "soon"],
        ["--rate-limit-answer", "teapot"],
    ],
)
def test_cli_rejects_bad_values(argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        build_server(argv)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"rate_limit_window": "tumbling"},
        {"rate_limit_penalty_ms": -1},
        {"rate_limit_penalty_ms": "forever"},
        {"rate_limit_answer": "teapot"},
        {"rate_limit_scale": 0},
    ],
)
def test_constructor_rejects_bad_values(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        SandboxServer(seed=SEED_PATH, **kwargs)


def test_control_api_changes_and_reads_the_settings() -> None:
    with SandboxServer(seed=SEED_PATH) as s:
        url = s.base_url + "/_sandbox/ratelimit"
        assert requests.get(url, timeout=5).json() == DEFAULTS
        new = {"window": "fixed", "penalty_ms": "window", "answer": "http429", "scale": 2, "enabled": True}
        r = requests.post(url, json=new, timeout=5)
        assert r.status_code == 200
        assert r.json() == {**new, "scale": 2.0}
        assert requests.get(url, timeout=5).json() == {**new, "scale": 2.0}
        # Partial update keeps the rest.
        assert requests.post(url, json={"penalty_ms": 1234}, timeout=5).json()["answer"] == "http429"
        assert s.app.limiter.settings()["penalty_ms"] == 1234


def test_control_api_switches_rate_limits() -> None:
    with SandboxServer(seed=SEED_PATH) as s:
        c = client_for(s, MAIN)
        r = requests.post(s.base_url + "/_sandbox/ratelimit", json={"enabled": False}, timeout=5)
        assert r.json()["enabled"] is False
        assert all(_transfer(c)["code"] == 0 for _ in range(5))
        requests.post(s.base_url + "/_sandbox/ratelimit", json={"enabled": True, "scale": 0.5}, timeout=5)
        assert [_transfer(c)["code"] for _ in range(2)] == [0, 100410]


def test_settings_change_clears_blocks() -> None:
    with SandboxServer(seed=SEED_PATH) as s:
        c = client_for(s, MAIN)
        assert [_transfer(c)["code"] for _ in range(3)] == [0, 0, 100410]
        s.set_rate_limit(answer="plain")
        assert _transfer(c)["code"] == 0


@pytest.mark.parametrize(
    ("body", "mentions"),
    [
        (b'{"window": "tumbling"}', "window"),
        (b'{"penalty_ms": -1}', "penalty_ms"),
        (b'{"penalty_ms": 1.5}', "penalty_ms"),
        (b'{"penalty_ms": "300000"}', "penalty_ms"),
        (b'{"penalty_ms": true}', "penalty_ms"),
        (b'{"penalty_ms": null}', "penalty_ms"),
        (b'{"answer": "teapot"}', "answer"),
        (b'{"answer": 429}', "answer"),
        (b'{"scale": "fast"}', "scale"),
        (b'{"scale": 0}', "scale"),
        (b'{"scale": -2}', "scale"),
        (b'{"enabled": "yes"}', "enabled"),
        (b'{"block_ms": 1000}', "penalty_ms"),
        (b'{"enabled": false, "window": "bogus"}', "window"),  # a valid part is not applied either
        (b"{not json", "JSON"),
        (b"[1, 2]", "JSON object"),
        (b'"sliding"', "JSON object"),
    ],
)
def test_control_api_rejects_bad_settings_and_changes_nothing(body: bytes, mentions: str) -> None:
    with SandboxServer(seed=SEED_PATH) as s:
        url = s.base_url + "/_sandbox/ratelimit"
        custom = {"enabled": True, "scale": 0.5, "window": "fixed", "penalty_ms": 1234, "answer": "plain"}
        assert requests.post(url, json=custom, timeout=5).status_code == 200
        c = client_for(s, MAIN)
        assert c.get(FUND).json()["code"] == 0  # a window in progress must survive a rejected change
        r = requests.post(url, data=body, timeout=5)
        assert r.status_code == 400
        error = r.json()["error"]
        assert isinstance(error, str)
        assert mentions in error
        assert requests.get(url, timeout=5).json() == custom
        assert c.get(FUND).headers["X-RateLimit-Requests-Remain"] == "3"  # 5 allowed, 2 used


def test_in_process_bad_settings_raise_and_change_nothing() -> None:
    s = SandboxServer(seed=SEED_PATH)
    for kwargs in ({"window": "x"}, {"penalty_ms": -5}, {"answer": "x"}, {"scale": 0.0}):
        with pytest.raises(ValueError):
            s.set_rate_limit(enabled=False, **kwargs)
        assert s.app.limiter.settings() == DEFAULTS
