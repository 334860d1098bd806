"""Each of the four paging conventions (§9): page 2 returns the next rows, totals are right, order is
newest first; plus time filters and the bulk generator's speed (100k records)."""

from __future__ import annotations

import time

import requests

from bingx.sandbox import SandboxServer

from .conftest import MAIN, SUB1, Client

T0 = 1_700_000_000_000


def _bulk(sandbox: SandboxServer, **body: object) -> dict:
    r = requests.post(f"{sandbox.base_url}/_sandbox/records/bulk", json=body, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def test_transfer_record_page_index_size(sandbox: SandboxServer, main: Client) -> None:
    _bulk(
        sandbox,
        uid=MAIN,
        kind="asset",
        count=25,
        start_time_ms=T0,
        from_account="spot",
        to_account="stdFutures",
    )
    path = "/openApi/api/v3/asset/transferRecord"
    p1 = main.get(path, {"fromAccount": "spot", "toAccount": "stdFutures"}).json()
    assert p1["total"] == 25
    assert len(p1["rows"]) == 10
    p3 = main.get(path, {"fromAccount": "spot", "toAccount": "stdFutures", "pageIndex": 3}).json()
    assert len(p3["rows"]) == 5
    all_rows = [
        r
        for i in (1, 2, 3)
        for r in main.get(path, {"fromAccount": "spot", "toAccount": "stdFutures", "pageIndex": i}).json()[
            "rows"
        ]
    ]
    stamps = [r["timestamp"] for r in all_rows]
    assert stamps == sorted(stamps, reverse=True)
    assert len(set(stamps)) == 25
    window = main.get(
        path, {"fromAccount": "spot", "toAccount": "stdFutures", "startTime": T0 + 5000, "endTime": T0 + 9000}
    ).json()
    assert window["total"] == 5


def test_legacy_records_current_size(sandbox: SandboxServer, main: Client) -> None:
    _bulk(
        sandbox,
        uid=MAIN,
        kind="asset",
        count=15,
        start_time_ms=T0,
        from_account="fund",
        to_account="stdFutures",
    )
    path = "/openApi/api/v3/asset/transfer"
    p1 = main.get(path, {"type": "FUND_SFUTURES", "size": 10}).json()
    p2 = main.get(path, {"type": "FUND_SFUTURES", "size": 10, "current": 2}).json()
    assert p1["total"] == p2["total"] == 15
    assert len(p2["rows"]) == 5
    assert p1["rows"][-1]["timestamp"] > p2["rows"][0]["timestamp"]


def test_inner_records_offset_limit(sandbox: SandboxServer, main: Client) -> None:
    _bulk(sandbox, uid=MAIN, kind="inner", count=30, asset="ETH", start_time_ms=T0, amount="0.0072366")
    path = "/openApi/wallets/v1/capital/innerTransfer/records"
    p1 = main.get(path, {"coin": "ETH", "limit": 20}).json()["data"]
    p2 = main.get(path, {"coin": "ETH", "limit": 20, "offset": 20}).json()["data"]
    assert p1["total"] == p2["total"] == 30
    assert len(p1["data"]) == 20
    assert len(p2["data"]) == 10
    ids = [r["id"] for r in p1["data"] + p2["data"]]
    assert len(set(ids)) == 30
    assert ids == sorted(ids, reverse=True)
    assert p1["data"][0]["amount"] == 0.0072366
    assert main.get(path, {"coin": "ETH", "limit": 1001}).json()["code"] == 80014
    default = main.get(path, {"coin": "ETH"}).json()["data"]
    assert len(default["data"]) == 30  # default limit 100


def test_sub_inner_records_paging(sandbox: SandboxServer, sub1: Client) -> None:
    _bulk(sandbox, uid=SUB1, kind="sub_inner", count=12, asset="BTC", start_time_ms=T0)
    path = "/openApi/wallets/v1/capital/subAccount/innerTransfer/records"
    p2 = sub1.get(path, {"coin": "BTC", "offset": 10, "limit": 10}).json()["data"]
    assert p2["total"] == 12
    assert len(p2["data"]) == 2
    assert all(r["recordType"] == "out" and r["receiver"] == MAIN for r in p2["data"])


def test_family_history_page_id_paging_size(sandbox: SandboxServer, main: Client) -> None:
    _bulk(sandbox, uid=MAIN, kind="family", count=23, start_time_ms=T0, counterparty_uid=SUB1)
    path = "/openApi/account/transfer/v1/subAccount/asset/transferHistory"
    p1 = main.get(path, {"uid": SUB1, "pagingSize": 20}).json()
    p2 = main.get(path, {"uid": SUB1, "pagingSize": 20, "pageId": 2}).json()
    assert p1["total"] == p2["total"] == 23
    assert len(p1["rows"]) == 20
    assert len(p2["rows"]) == 3
    assert {r["type"] for r in p1["rows"]} == {"MAIN_CAPITAL_TO_SUB_CAPITAL"}
    assert main.get(path, {"uid": SUB1, "pagingSize": 101}).json()["code"] == 80014


def test_bulk_100k_is_fast_and_queryable(sandbox: SandboxServer, main: Client) -> None:
    started = time.monotonic()
    out = _bulk(sandbox, uid=MAIN, kind="inner", count=100_000, asset="USDT", start_time_ms=T0, step_ms=10)
    assert out["created"] == 100_000
    assert time.monotonic() - started < 5
    started = time.monotonic()
    page = main.get(
        "/openApi/wallets/v1/capital/innerTransfer/records", {"coin": "USDT", "limit": 1000}
    ).json()
    assert page["data"]["total"] == 100_002  # + 2 seed records
    assert len(page["data"]["data"]) == 1000
    assert time.monotonic() - started < 2
