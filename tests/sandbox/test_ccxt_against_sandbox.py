"""Independent faithfulness check: ccxt's BingX implementation (its own signer, URL builder and
parsers) works against the sandbox in strict mode."""

from __future__ import annotations

from typing import Any

import ccxt
import pytest

from bingx.sandbox import SandboxServer

from .conftest import MAIN, key_of, wallet


@pytest.fixture
def exchange(sandbox: SandboxServer) -> Any:
    api_key, secret = key_of(MAIN)
    ex = ccxt.bingx({"apiKey": api_key, "secret": secret, "enableRateLimit": False})
    # ccxt builds URLs as urls["api"][group] + "/" + type + "/" + version + "/" + path (see bingx.sign()).
    ex.urls["api"] = {group: sandbox.base_url + "/openApi" for group in ex.urls["api"]}
    # Skip load_markets (dozens of market-data endpoints the sandbox does not fake): give ccxt just
    # the currencies the transfer helpers need.
    currency = {"precision": 1e-8, "active": True, "networks": {}}
    ex.set_markets(
        {},
        {code: {**currency, "id": code, "code": code, "name": code} for code in ("USDT", "BTC", "ETH")},
    )
    return ex


def test_ccxt_fetch_time(exchange: Any) -> None:
    assert isinstance(exchange.fetch_time(), int)


def test_ccxt_balances_transfer_and_records(sandbox: SandboxServer, exchange: Any) -> None:
    raw = exchange.fundV1PrivateGetAccountBalance()
    assert {a["asset"] for a in raw["data"]["assets"]} == {"USDT", "BTC", "ETH"}
    funding = exchange.fetch_balance({"type": "funding"})
    assert funding["USDT"]["free"] == 10000.0
    spot = exchange.fetch_balance({"type": "spot"})
    assert spot["USDT"]["free"] == 2500.0

    transfer = exchange.transfer("USDT", 12.5, "funding", "spot")
    assert transfer["id"]
    assert wallet(sandbox, MAIN, "fund", "USDT") == "9987.5"
    assert exchange.fetch_balance({"type": "spot"})["USDT"]["free"] == 2512.5

    raw_transfer = exchange.apiAssetV1PrivatePostTransfer(
        {"fromAccount": "fund", "toAccount": "USDTMPerp", "asset": "USDT", "amount": "7.5"}
    )
    assert raw_transfer["data"]["transferId"]

    transfers = exchange.fetch_transfers("USDT", params={"fromAccount": "funding", "toAccount": "spot"})
    assert [t["amount"] for t in transfers] == [12.5]
    assert transfers[0]["fromAccount"] == "funding"
    assert transfers[0]["toAccount"] == "spot"
    records = exchange.apiV3PrivateGetAssetTransferRecord({"transferId": raw_transfer["data"]["transferId"]})
    assert records["total"] == 1
    assert records["rows"][0]["toAccount"] == "USDTMPerp"
    # Every ccxt call passed strict verification.
    assert all(c["code"] == 0 for c in sandbox.journal())


def test_ccxt_json_endpoint_and_inner_transfer(sandbox: SandboxServer, exchange: Any) -> None:
    # ccxt sends account/transfer POSTs as JSON bodies (sorted keys) — the sandbox's JSON verifier.
    # ccxt-python's custom_encode() concatenates values as str, so its own int nonce (and any int
    # param) raises TypeError there (a ccxt bug); send strings, as BingX recommends anyway (§3).
    exchange.nonce = lambda: str(exchange.milliseconds())
    out = exchange.accountTransferV1PrivatePostSubAccountTransferAsset(
        {
            "assetName": "USDT",
            "transferAmount": "3",
            "fromUid": str(MAIN),
            "fromType": "1",
            "fromAccountType": "1",
            "toUid": "10000002",
            "toType": "2",
            "toAccountType": "1",
            "remark": "ccxt",
        }
    )
    assert out["data"]["data"]["tranId"]
    inner = exchange.walletsV1PrivatePostCapitalInnerTransferApply(
        {"coin": "USDT", "userAccountType": 1, "userAccount": "10000009", "amount": "2", "walletType": 1}
    )
    assert inner["data"]["id"]
    assert wallet(sandbox, MAIN, "fund", "USDT") == "9995"
