"""Per-UID rate limits at the §5 values, the scale factor, headers, and the 100202 lockout."""

from __future__ import annotations

import re
import time

import requests

from bingx.sandbox import SandboxServer

from .conftest import EXTERNAL, MAIN, SEED_PATH, Client, client_for

TRANSFER = "/openApi/api/asset/v1/transfer"
INNER = "/openApi/wallets/v1/capital/innerTransfer/apply"
FUND = "/openApi/fund/v1/account/balance"


def _transfer(c: Client, amount: str = "1") -> dict:
    return c.post(
        TRANSFER, {"fromAccount": "fund", "toAccount": "spot", "asset": "USDT", "amount": amount}
    ).json()


def test_asset_transfer_limited_at_2_per_second() -> None:
    with SandboxServer(seed=SEED_PATH) as s:
        c = client_for(s, MAIN)
        first, second, third = _transfer(c), _transfer(c), _transfer(c)
        assert first["code"] == second["code"] == 0
        assert third["code"] == 100410
        m = re.fullmatch(
            r"code:100410:The endpoint trigger frequency limit rule is currently in the disabled period "
            r"and will be unblocked after (\d+)",
            third["msg"],
        )
        assert m is not None
        unblock = int(m.group(1))
        server_now = requests.get(s.base_url + "/openApi/swap/v2/server/time", timeout=5).json()["data"][
            "serverTime"
        ]
        assert server_now < unblock <= server_now + 2100
        journal = s.journal(path=TRANSFER)
        assert [c["applied"] for c in journal] == [True, True, False]
        # Other endpoints and other users have their own buckets.
        assert c.get(FUND).json()["code"] == 0
        assert _transfer(client_for(s, EXTERNAL))["code"] == 0
        # After the disabled period the endpoint works again.
        time.sleep(max(0, (unblock - server_now) / 1000) + 0.05)
        assert _transfer(c)["code"] == 0


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


def test_control_api_switches_rate_limits() -> None:
    with SandboxServer(seed=SEED_PATH) as s:
        c = client_for(s, MAIN)
        r = requests.post(s.base_url + "/_sandbox/ratelimit", json={"enabled": False}, timeout=5)
        assert r.json()["enabled"] is False
        assert all(_transfer(c)["code"] == 0 for _ in range(5))
        requests.post(s.base_url + "/_sandbox/ratelimit", json={"enabled": True, "scale": 0.5}, timeout=5)
        assert [_transfer(c)["code"] for _ in range(2)] == [0, 100410]


def test_configurable_block_period() -> None:
    with SandboxServer(seed=SEED_PATH, rate_limit_block_ms=300_000) as s:
        c = client_for(s, MAIN)
        _transfer(c)
        _transfer(c)
        msg = _transfer(c)["msg"]
        unblock = int(msg.rsplit(" ", 1)[1])
        assert unblock - int(time.time() * 1000) > 290_000


def test_twenty_insufficient_errors_lock_the_endpoint(sandbox: SandboxServer) -> None:
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
    body = c.post(INNER, {**params, "amount": "1"}).json()
    assert body["code"] == 100410
    m = re.fullmatch(
        r"over 20 error code:100202 requests within 480000 ms for this api, please verify and fix it ,"
        r"can retry after time: (\d+)",
        body["msg"],
    )
    assert m is not None
    assert int(m.group(1)) > int(time.time() * 1000) + 470_000
    # Only that endpoint is locked.
    assert _transfer(c)["code"] == 0
    # The lockout ends 480 s after the first error (simulated with the clock control).
    sandbox.set_clock_skew(481_000)
    assert (
        c.post(INNER, {**params, "amount": "1"}, timestamp=int(time.time() * 1000) + 481_000).json()["code"]
        == 0
    )
