"""Success shapes and envelopes of every endpoint (§4, §6), plus parameter validation."""

from __future__ import annotations

from decimal import Decimal

import pytest
import requests

from bingx.sandbox import SandboxServer

from .conftest import EXTERNAL, MAIN, SUB1, SUB2, Client, wallet


def test_server_time_both_paths_public(sandbox: SandboxServer) -> None:
    for path in ("/openApi/swap/v2/server/time", "/openApi/spot/v1/server/time"):
        body = requests.get(sandbox.base_url + path, timeout=5).json()
        assert body["code"] == 0
        assert isinstance(body["data"]["serverTime"], int)


def test_unknown_path(main: Client) -> None:
    body = main.get("/openApi/does/not/exist").json()
    assert body["code"] == 100400
    assert body["msg"] == "this api is not exist"
    assert isinstance(body["timestamp"], int)


def test_uid(main: Client) -> None:
    body = main.get("/openApi/account/v1/uid").json()
    assert body["code"] == 0
    assert body["msg"] == ""
    assert isinstance(body["timestamp"], int)
    assert body["data"] == {"uid": MAIN}


def test_api_permissions_is_bare(main: Client) -> None:
    body = main.get("/openApi/v1/account/apiPermissions").json()
    assert set(body) == {"apiKey", "permissions", "ipAddresses", "note"}
    assert body["permissions"] == [1, 2, 4, 5]


def test_spot_balance_has_debug_msg(main: Client) -> None:
    body = main.get("/openApi/spot/v1/account/balance").json()
    assert body["debugMsg"] == ""
    rows = {b["asset"]: b for b in body["data"]["balances"]}
    assert rows["USDT"] == {"asset": "USDT", "displayName": "USDT", "free": "2500", "locked": "0"}


def test_fund_balance_uses_assets_key_and_filter(main: Client) -> None:
    body = main.get("/openApi/fund/v1/account/balance").json()
    assert "balances" not in body["data"]
    assert {a["asset"] for a in body["data"]["assets"]} == {"USDT", "BTC", "ETH"}
    only = main.get("/openApi/fund/v1/account/balance", {"asset": "BTC"}).json()["data"]["assets"]
    assert only == [{"asset": "BTC", "displayName": "BTC", "free": "0.5", "locked": "0"}]


@pytest.mark.parametrize("account_type", ["spot", "sopt"])
def test_all_account_balance_accepts_spot_and_sopt(main: Client, account_type: str) -> None:
    body = main.get("/openApi/account/v1/allAccountBalance", {"accountType": account_type}).json()
    assert body["data"]["result"] == [{"accountType": "sopt", "usdtBalance": "52000"}]


def test_all_account_balance_without_type_and_bad_type(main: Client) -> None:
    body = main.get("/openApi/account/v1/allAccountBalance").json()
    types = [r["accountType"] for r in body["data"]["result"]]
    assert {"sopt", "stdFutures", "USDTMPerp", "coinMPerp"} <= set(types)
    assert body["data"]["total"] == len(types)
    assert main.get("/openApi/account/v1/allAccountBalance", {"accountType": "moon"}).json()["code"] == 80014


def test_asset_support_coins(main: Client) -> None:
    body = main.get(
        "/openApi/api/asset/v1/transfer/supportCoins", {"fromAccount": "fund", "toAccount": "spot"}
    ).json()
    assert body["code"] == 0
    assert {"asset": "USDT", "amount": "10000"} in body["data"]["coins"]


def test_asset_transfer_success_shape(main: Client) -> None:
    body = main.post(
        "/openApi/api/asset/v1/transfer",
        {"fromAccount": "fund", "toAccount": "spot", "asset": "USDT", "amount": "1"},
    ).json()
    assert body["code"] == 0
    assert isinstance(body["data"]["tranId"], int)
    assert isinstance(body["data"]["transferId"], str)
    assert body["data"]["transferId"].isdigit()


@pytest.mark.parametrize(
    ("params", "msg"),
    [
        (
            {"fromAccount": "fund", "toAccount": "fund", "asset": "USDT", "amount": "1"},
            "illegal transferType",
        ),
        (
            {"fromAccount": "fund", "toAccount": "moon", "asset": "USDT", "amount": "1"},
            "illegal transferType",
        ),
        (
            {"fromAccount": "fund", "toAccount": "spot", "asset": "USDT", "amount": "99999999"},
            "Insufficient assets",
        ),
    ],
)
def test_asset_transfer_business_errors_use_transfer_error_msg(
    sandbox: SandboxServer, main: Client, params: dict[str, str], msg: str
) -> None:
    body = main.post("/openApi/api/asset/v1/transfer", params).json()
    assert body["code"] == 0
    assert body["data"] == {"transferErrorMsg": msg}
    assert wallet(sandbox, MAIN, "fund", "USDT") == "10000"


@pytest.mark.parametrize("amount", ["0", "-1", "1e3", "abc", "1.", "NaN"])
def test_bad_amounts_are_80014(main: Client, amount: str) -> None:
    body = main.post(
        "/openApi/api/asset/v1/transfer",
        {"fromAccount": "fund", "toAccount": "spot", "asset": "USDT", "amount": amount},
    ).json()
    assert body["code"] == 80014


def test_missing_param_is_100400(main: Client) -> None:
    body = main.post(
        "/openApi/api/asset/v1/transfer", {"fromAccount": "fund", "asset": "USDT", "amount": "1"}
    ).json()
    assert body["code"] == 100400


def test_legacy_transfer_and_records(sandbox: SandboxServer, main: Client) -> None:
    body = main.post(
        "/openApi/api/v3/post/asset/transfer", {"type": "FUND_PFUTURES", "asset": "USDT", "amount": "7"}
    ).json()
    assert set(body) == {"tranId"}
    assert isinstance(body["tranId"], int)
    assert wallet(sandbox, MAIN, "USDTMPerp", "USDT") == "5007"
    rec = main.get("/openApi/api/v3/asset/transfer", {"type": "FUND_PFUTURES"}).json()
    assert set(rec) == {"total", "rows"}
    assert rec["rows"][0] == {
        "asset": "USDT",
        "amount": "7.00000000000000000000",
        "type": "FUND_PFUTURES",
        "status": "CONFIRMED",
        "tranId": body["tranId"],
        "timestamp": rec["rows"][0]["timestamp"],
    }
    assert main.get("/openApi/api/v3/asset/transfer", {"tranId": body["tranId"]}).json()["total"] == 1
    assert main.get("/openApi/api/v3/asset/transfer").json()["code"] == 100400
    assert main.get("/openApi/api/v3/asset/transfer", {"type": "BAD"}).json()["code"] == 80014
    assert (
        main.post(
            "/openApi/api/v3/post/asset/transfer", {"type": "X_Y", "asset": "USDT", "amount": "1"}
        ).json()["code"]
        == 80014
    )


def test_transfer_record_is_bare_and_filters(main: Client) -> None:
    t = main.post(
        "/openApi/api/asset/v1/transfer",
        {"fromAccount": "fund", "toAccount": "spot", "asset": "USDT", "amount": "3.5"},
    ).json()["data"]
    body = main.get(
        "/openApi/api/v3/asset/transferRecord", {"fromAccount": "fund", "toAccount": "spot"}
    ).json()
    assert set(body) == {"total", "rows"}
    assert body["rows"][0] == {
        "asset": "USDT",
        "amount": "3.50000000000000000000",
        "status": "CONFIRMED",
        "transferId": t["transferId"],
        "timestamp": body["rows"][0]["timestamp"],
        "fromAccount": "fund",
        "toAccount": "spot",
    }
    by_id = main.get("/openApi/api/v3/asset/transferRecord", {"transferId": t["transferId"]}).json()
    assert by_id["total"] == 1
    by_tran = main.get("/openApi/api/v3/asset/transferRecord", {"tranId": t["tranId"]}).json()
    assert by_tran["total"] == 1
    assert main.get("/openApi/api/v3/asset/transferRecord").json()["code"] == 100400
    assert (
        main.get("/openApi/api/v3/asset/transferRecord", {"toAccount": "spot", "pageSize": 101}).json()[
            "code"
        ]
        == 80014
    )


def test_inner_records_shape_and_big_ids(main: Client) -> None:
    r = main.get("/openApi/wallets/v1/capital/innerTransfer/records", {"coin": "USDT"})
    assert '"id":1251111922229444435' in r.text  # > 2^53, emitted as a bare JSON number
    body = r.json()
    assert body["code"] == 0
    assert body["data"]["total"] == 2
    row = body["data"]["data"][0]
    assert set(row) >= {
        "id",
        "coin",
        "receiver",
        "amount",
        "time",
        "status",
        "transferClientId",
        "fromUid",
        "recordType",
    }
    assert row["status"] == 6
    assert row["recordType"] == "out"
    assert main.get("/openApi/wallets/v1/capital/innerTransfer/records").json()["code"] == 100400


def test_inner_records_only_for_masters(sub1: Client) -> None:
    assert (
        sub1.get("/openApi/wallets/v1/capital/innerTransfer/records", {"coin": "USDT"}).json()["code"]
        == 100004
    )


def test_sub_inner_records_signer_must_be_sub(main: Client, sub1: Client) -> None:
    path = "/openApi/wallets/v1/capital/subAccount/innerTransfer/records"
    assert main.get(path, {"coin": "USDT"}).json()["code"] == 100004
    body = sub1.get(path, {"coin": "USDT"}).json()
    kinds = {(r["fromUid"], r["recordType"]) for r in body["data"]["data"]}
    assert kinds == {(MAIN, "in"), (SUB1, "out")}


def test_authorize_sub_account(sandbox: SandboxServer, main: Client, sub1: Client) -> None:
    path = "/openApi/account/v1/innerTransfer/authorizeSubAccount"
    body = main.post(path, {"subUids": f"{SUB2}", "transferable": "true"}).json()
    assert body["data"] is True
    assert SUB2 in sandbox.snapshot(include_records=False)["authorised_subs"]
    assert main.post(path, {"subUids": f"{EXTERNAL}", "transferable": "true"}).json()["code"] == 80014
    assert main.post(path, {"subUids": f"{SUB2}", "transferable": "yes"}).json()["code"] == 80014
    assert sub1.post(path, {"subUids": f"{SUB2}", "transferable": "true"}).json()["code"] == 100004


def test_sub_transfer_support_coins_json(main: Client) -> None:
    body = main.post(
        "/openApi/account/transfer/v1/subAccount/transferAsset/supportCoins",
        {"fromUid": SUB1, "fromAccountType": 1, "toUid": MAIN, "toAccountType": 1},
        mode="json",
    ).json()
    coin = next(c for c in body["data"]["coins"] if c["name"] == "USDT")
    assert coin["availableAmount"] == "1000"
    assert set(coin) >= {
        "id",
        "name",
        "showName",
        "icon",
        "type",
        "fiatSymbol",
        "availableAmount",
        "usdtRate",
    }


def test_sub_transfer_asset_double_wrapped(sandbox: SandboxServer, main: Client) -> None:
    body = main.post(
        "/openApi/account/transfer/v1/subAccount/transferAsset",
        {
            "assetName": "USDT",
            "transferAmount": "25",
            "fromUid": SUB1,
            "fromType": 2,
            "fromAccountType": 1,
            "toUid": MAIN,
            "toType": 1,
            "toAccountType": 3,
            "remark": "sweep",
        },
        mode="json",
    ).json()
    assert body["code"] == 0
    assert body["data"]["code"] == 0
    tran_id = body["data"]["data"]["tranId"]
    assert isinstance(tran_id, str)
    assert wallet(sandbox, SUB1, "fund", "USDT") == "975"
    assert wallet(sandbox, MAIN, "USDTMPerp", "USDT") == "5025"
    hist = main.get(
        "/openApi/account/transfer/v1/subAccount/asset/transferHistory", {"uid": SUB1, "tranId": tran_id}
    ).json()
    assert hist["total"] == 1
    assert hist["rows"][0]["type"] == "SUB_CAPITAL_TO_MAIN_SWAP"
    assert hist["rows"][0]["amount"] == "25.00000000000000000000"


def test_sub_transfer_asset_validation(main: Client, sub1: Client) -> None:
    base = {
        "assetName": "USDT",
        "transferAmount": "1",
        "fromUid": SUB1,
        "fromType": 1,  # wrong: SUB1 is a sub-account
        "fromAccountType": 1,
        "toUid": MAIN,
        "toType": 1,
        "toAccountType": 1,
        "remark": "x",
    }
    path = "/openApi/account/transfer/v1/subAccount/transferAsset"
    assert main.post(path, base, mode="json").json()["code"] == 80014
    assert main.post(path, {**base, "fromType": 2, "fromUid": EXTERNAL}, mode="json").json()["code"] == 80014
    assert main.post(path, {**base, "fromType": 2, "remark": None}, mode="json").json()["code"] == 100400
    assert (
        main.post(path, {**base, "fromType": 2, "transferAmount": "5000"}, mode="json").json()["code"]
        == 100202
    )
    assert sub1.post(path, {**base, "fromType": 2}, mode="json").json()["code"] == 100004


def test_transfer_history_validation(main: Client) -> None:
    path = "/openApi/account/transfer/v1/subAccount/asset/transferHistory"
    assert main.get(path).json()["code"] == 100400
    assert main.get(path, {"uid": SUB2, "type": "NOPE"}).json()["code"] == 80014
    body = main.get(path, {"uid": SUB2, "type": "MAIN_CAPITAL_TO_SUB_SWAP"}).json()
    assert body["total"] == 1


def test_sub_account_list(main: Client, sub1: Client) -> None:
    body = main.get("/openApi/subAccount/v1/list", {"page": 1, "limit": 1}).json()
    assert body["data"]["total"] == 2
    assert body["data"]["pageId"] == 1
    assert body["data"]["result"] == [
        {
            "subUid": str(SUB1),
            "subAccountString": "demosub1",
            "note": body["data"]["result"][0]["note"],
            "freeze": False,
            "createTime": 1700847351000,
        }
    ]
    page2 = main.get("/openApi/subAccount/v1/list", {"page": 2, "limit": 1}).json()
    assert page2["data"]["result"][0]["subUid"] == str(SUB2)
    assert main.get("/openApi/subAccount/v1/list", {"page": 1}).json()["code"] == 100400
    assert sub1.get("/openApi/subAccount/v1/list", {"page": 1, "limit": 10}).json()["code"] == 100004


def test_sub_account_assets_numbers(main: Client) -> None:
    r = main.get("/openApi/subAccount/v1/assets", {"subUid": SUB1})
    assert '"free":1000' in r.text
    rows = {b["asset"]: b for b in r.json(parse_float=Decimal)["data"]["balances"]}
    assert rows["ETH"]["free"] == Decimal("0.5")
    assert main.get("/openApi/subAccount/v1/assets", {"subUid": EXTERNAL}).json()["code"] == 80014


def test_sub_all_account_balance(main: Client) -> None:
    path = "/openApi/subAccount/v1/allAccountBalance"
    body = main.get(path, {"pageIndex": 1, "pageSize": 10}).json()
    assert [r["subUid"] for r in body["data"]["result"]] == [str(SUB1), str(SUB2)]
    one = main.get(path, {"pageIndex": 1, "pageSize": 10, "subUid": SUB2, "accountType": "USDTMPerp"}).json()
    assert one["data"]["result"] == [
        {"subUid": str(SUB2), "accountBalances": [{"accountType": "USDTMPerp", "usdtBalance": "150"}]}
    ]
    assert main.get(path, {"pageIndex": 1, "pageSize": 11}).json()["code"] == 80014
