"""The client against every sandbox response variant (bingx/sandbox/variants.py), switched on explicitly
so the default test run covers them all; CI additionally runs the whole client suite once per variant.

What must hold whatever the form: string ``code``/``timestamp`` parse (§3, §6.2), a ``transferErrorMsg``
at the top level or as a bare body is a refusal classified like the in-``data`` form (§4, §6.4), and
nothing moves on a refusal."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bingx import CallInfo, Client, InsufficientBalance, InvalidParameters, PermissionDenied
from bingx.sandbox import SandboxServer, variants

SEED_PATH = Path(__file__).resolve().parents[2] / "bingx" / "sandbox" / "seeds" / "demo.json"
SEED: dict[str, Any] = json.loads(SEED_PATH.read_text())
KEYS = {a["uid"]: (a["api_keys"][0]["api_key"], a["api_keys"][0]["secret"]) for a in SEED["accounts"]}
MAIN, SUB1 = 10000001, 10000002
LEGACY = "/openApi/api/v3/post/asset/transfer"
TRANSFER = "/openApi/api/asset/v1/transfer"

VARIANT_SETS = [(), *((name,) for name in variants.NAMES), variants.NAMES]
IDS = ["default", *variants.NAMES, "all"]


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    with SandboxServer(seed=SEED_PATH, rate_limits_enabled=False) as sandbox:
        yield sandbox


@pytest.fixture(params=VARIANT_SETS, ids=IDS)
def sandbox(server: SandboxServer, request: pytest.FixtureRequest) -> SandboxServer:
    server.reset()
    server.set_variants(request.param)
    return server


def client(server: SandboxServer, uid: int = MAIN, **kw: Any) -> Client:
    return Client(*KEYS[uid], base_url=server.base_url, timeout=(2.0, 2.0), read_retries=0, **kw)


def free(server: SandboxServer, uid: int, wallet: str, asset: str) -> Decimal:
    acct = next(a for a in server.snapshot(include_records=False)["accounts"] if a["uid"] == uid)
    value = acct["wallets"][wallet].get(asset, "0")
    return Decimal(value["free"] if isinstance(value, dict) else value)


def test_reads_parse_and_audit_codes_are_numbers(sandbox: SandboxServer) -> None:
    calls: list[CallInfo] = []
    c = client(sandbox, on_response=calls.append)
    c.sync_time()
    assert c.uid() == str(MAIN)
    assert {b.asset: b.free for b in c.fund_balances()}["USDT"] == Decimal("10000")
    assert c.spot_balances()
    assert c.asset_overview()
    assert calls
    assert all(info.code == 0 and info.error is None for info in calls)


def test_refusal_codes_classify_whatever_their_json_type(sandbox: SandboxServer) -> None:
    with pytest.raises(PermissionDenied) as err:
        client(sandbox, uid=SUB1).inner_transfer(
            coin="USDT", user_account_type=1, user_account=str(MAIN), amount=Decimal("1"), wallet_type=1
        )
    assert err.value.code == 100004  # an int, also when the body said "100004"


def test_double_wrapped_family_transfer_succeeds(sandbox: SandboxServer) -> None:
    result = client(sandbox).sub_account_transfer(
        asset="USDT",
        amount=Decimal("2"),
        from_uid=SUB1,
        from_type=2,
        from_account_type=1,
        to_uid=MAIN,
        to_type=1,
        to_account_type=1,
        remark="variant",
    )
    assert result.tran_id
    assert free(sandbox, SUB1, "fund", "USDT") == Decimal("998")


def test_asset_transfer_refusals_are_classified_and_move_nothing(sandbox: SandboxServer) -> None:
    c = client(sandbox)
    with pytest.raises(InsufficientBalance) as poor:
        c.transfer(from_account="fund", to_account="spot", asset="USDT", amount=Decimal("999999"))
    assert poor.value.message == "Insufficient assets"
    with pytest.raises(InvalidParameters):
        c.transfer(from_account="fund", to_account="fund", asset="USDT", amount=Decimal("1"))
    assert free(sandbox, MAIN, "fund", "USDT") == Decimal("10000")
    assert not any(call["applied"] for call in sandbox.journal(path=TRANSFER))
    ok = c.transfer(from_account="fund", to_account="spot", asset="USDT", amount=Decimal("1"))
    assert ok.transfer_id


def test_legacy_transfer_refusals_are_classified_and_move_nothing(sandbox: SandboxServer) -> None:
    c = client(sandbox)
    with pytest.raises(InsufficientBalance):
        c.legacy_transfer(type="FUND_PFUTURES", asset="USDT", amount=Decimal("999999"))
    with pytest.raises(InvalidParameters):
        c.legacy_transfer(type="FUND_NOWHERE", asset="USDT", amount=Decimal("1"))
    assert free(sandbox, MAIN, "USDTMPerp", "USDT") == Decimal("5000")
    assert not any(call["applied"] for call in sandbox.journal(path=LEGACY))
    assert c.legacy_transfer(type="FUND_PFUTURES", asset="USDT", amount=Decimal("1")).tran_id
