"""The real client against the sandbox over HTTP: every 100410 answer variant the sandbox can give
(the "unblocked after <ms>" text, plain "rate limited", HTTP 429 with Retry-After, and the mix of the
three) and the 100202 lockout all surface as :class:`bingx.RateLimited`, with the retry time when the
exchange names one and None (or the Retry-After fallback) when it does not."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests

from bingx import Client, InsufficientBalance, RateLimited
from bingx.sandbox import variants
from bingx.sandbox.server import SandboxServer

SEED_PATH = Path(__file__).resolve().parents[2] / "bingx" / "sandbox" / "seeds" / "demo.json"
SEED: dict[str, Any] = json.loads(SEED_PATH.read_text())
KEYS = {a["uid"]: (a["api_keys"][0]["api_key"], a["api_keys"][0]["secret"]) for a in SEED["accounts"]}
MAIN = 10000001
SUPPORT_COINS = "/openApi/api/asset/v1/transfer/supportCoins"  # 2/s per UID
PENALTY_MS = 300_000


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(seed=SEED_PATH, variants=variants.from_env()) as server:  # CI's variant runs
        yield server


@pytest.fixture
def fresh(sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> SandboxServer:
    sandbox.reset()
    sandbox.set_rate_limit(
        enabled=True, scale=1.0, window="sliding", penalty_ms=PENALTY_MS, answer="unblock_time"
    )
    Client.reset_time_offsets()
    monkeypatch.setattr(Client, "retry_backoff_s", 0.01)
    return sandbox


def client(server: SandboxServer) -> Client:
    return Client(*KEYS[MAIN], base_url=server.base_url, timeout=(2.0, 2.0))


def set_answer(server: SandboxServer, answer: str) -> None:
    # Through the control API, as a separate process would; the default 300 s penalty stays on.
    r = requests.post(f"{server.base_url}/_sandbox/ratelimit", json={"answer": answer}, timeout=5)
    assert r.status_code == 200, r.text
    assert r.json()["penalty_ms"] == PENALTY_MS


def refusals(server: SandboxServer, n: int) -> list[RateLimited]:
    """Two accepted calls (the 2/s limit), then ``n`` refused ones."""
    c = client(server)
    c.transferable_coins("fund", "spot")
    c.transferable_coins("fund", "spot")
    out = []
    for _ in range(n):
        with pytest.raises(RateLimited) as info:
            c.transferable_coins("fund", "spot")
        out.append(info.value)
    return out


def journal_count(server: SandboxServer) -> int:
    return len(server.journal(path=SUPPORT_COINS))


def assert_unblock_time(err: RateLimited) -> None:
    assert err.code == 100410
    assert err.http_status == 200
    assert err.retry_after_ms is not None
    now = int(time.time() * 1000)
    assert now + PENALTY_MS - 5_000 <= err.retry_after_ms <= now + PENALTY_MS
    assert err.retry_in_ms is not None
    assert PENALTY_MS - 5_000 <= err.retry_in_ms <= PENALTY_MS


def assert_plain(err: RateLimited) -> None:
    assert err.code == 100410
    assert err.http_status == 200
    assert err.message == "rate limited"
    assert err.retry_after_ms is None
    assert err.retry_in_ms is None


def assert_http_429(err: RateLimited) -> None:
    assert err.http_status == 429
    assert err.code == 100410
    assert err.retry_after_ms is None  # no exchange time in the answer ...
    assert err.retry_in_ms == PENALTY_MS  # ... but the Retry-After header (300 s) is used


def test_unblock_time_variant(fresh: SandboxServer) -> None:
    set_answer(fresh, "unblock_time")
    (err,) = refusals(fresh, 1)
    assert_unblock_time(err)
    assert journal_count(fresh) == 3  # a refusal is not retried


def test_plain_variant(fresh: SandboxServer) -> None:
    set_answer(fresh, "plain")
    (err,) = refusals(fresh, 1)
    assert_plain(err)
    assert journal_count(fresh) == 3


def test_http_429_variant(fresh: SandboxServer) -> None:
    set_answer(fresh, "http429")
    (err,) = refusals(fresh, 1)
    assert_http_429(err)
    assert journal_count(fresh) == 3


def test_mixed_variant_gives_each_in_turn(fresh: SandboxServer) -> None:
    set_answer(fresh, "mixed")
    errors = refusals(fresh, 4)
    assert_unblock_time(errors[0])
    assert_plain(errors[1])
    assert_http_429(errors[2])
    assert_unblock_time(errors[3])
    # Every refusal names the same unblock time: calls during the block do not extend it.
    assert errors[0].retry_after_ms == errors[3].retry_after_ms
    assert journal_count(fresh) == 6


def test_insufficient_assets_on_asset_transfer_lead_to_the_lockout(fresh: SandboxServer) -> None:
    fresh.set_rate_limit(enabled=False)  # Asset Transfer New allows 2/s; only the lockout is under test
    c = client(fresh)
    for _ in range(20):
        with pytest.raises(InsufficientBalance):
            c.transfer(from_account="fund", to_account="spot", asset="USDT", amount=Decimal("99999999"))
    with pytest.raises(RateLimited) as info:
        c.transfer(from_account="fund", to_account="spot", asset="USDT", amount=Decimal("1"))
    err = info.value
    assert err.code == 100410
    assert "over 20 error code:100202 requests within 480000 ms" in err.message
    assert err.retry_after_ms is not None
    assert err.retry_after_ms > int(time.time() * 1000) + 470_000
    assert err.retry_in_ms is not None
    assert 470_000 < err.retry_in_ms <= 480_000
