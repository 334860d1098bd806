"""The sandbox is as strict as BingX on inputs: amount precision, asset names, times, UIDs, and the
family-history type list. Every refusal is 80014 and changes nothing."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from bingx.sandbox import SandboxServer, SandboxState
from bingx.sandbox.state import DOCUMENTED_FAMILY_TRANSFER_TYPES, FAMILY_TRANSFER_TYPES, family_type

from .conftest import MAIN, SEED, SUB1, SUB2, Client, client_for, wallet

TRANSFER = "/openApi/api/asset/v1/transfer"
LEGACY = "/openApi/api/v3/post/asset/transfer"
INNER = "/openApi/wallets/v1/capital/innerTransfer/apply"
SUB_INNER = "/openApi/wallets/v1/capital/subAccountInnerTransfer/apply"
FAMILY = "/openApi/account/transfer/v1/subAccount/transferAsset"
FAMILY_COINS = "/openApi/account/transfer/v1/subAccount/transferAsset/supportCoins"
HISTORY = "/openApi/account/transfer/v1/subAccount/asset/transferHistory"
OVERVIEW = "/openApi/account/v1/allAccountBalance"


def balances(server: SandboxServer) -> dict[str, Any]:
    """Every wallet of every account plus the authorised subs: the whole money state."""
    snap = server.snapshot(include_records=False)
    return {
        "wallets": {a["uid"]: a["wallets"] for a in snap["accounts"]},
        "authorised": snap["authorised_subs"],
        "records": snap["record_counts"],
    }


def refused_without_change(server: SandboxServer, send: Any) -> dict[str, Any]:
    before = balances(server)
    body: dict[str, Any] = send()
    assert body["code"] == 80014, body
    assert body["msg"].startswith("Invalid parameters, err: ")
    assert balances(server) == before
    return body


# (signer uid, path, transport, params without the amount / asset, amount name, asset name)
MONEY: list[tuple[int, str, str, dict[str, Any], str, str]] = [
    (MAIN, TRANSFER, "query", {"fromAccount": "fund", "toAccount": "spot"}, "amount", "asset"),
    (MAIN, LEGACY, "query", {"type": "FUND_PFUTURES"}, "amount", "asset"),
    (
        MAIN,
        INNER,
        "query",
        {"walletType": 1, "userAccountType": 1, "userAccount": str(SUB1)},
        "amount",
        "coin",
    ),
    (
        SUB1,  # authorised for sub → sub in the demo seed
        SUB_INNER,
        "query",
        {"walletType": 1, "userAccountType": 1, "userAccount": str(SUB2)},
        "amount",
        "coin",
    ),
    (
        MAIN,
        FAMILY,
        "json",
        {
            "fromUid": MAIN,
            "fromType": 1,
            "fromAccountType": 1,
            "toUid": SUB1,
            "toType": 2,
            "toAccountType": 1,
            "remark": "strict",
        },
        "transferAmount",
        "assetName",
    ),
]
MONEY_IDS = ["asset_transfer", "legacy_transfer", "inner_apply", "sub_inner_apply", "sub_transfer_asset"]


def send_money(server: SandboxServer, case: tuple[Any, ...], amount: str, asset: str = "USDT") -> Any:
    uid, path, mode, params, amount_name, asset_name = case
    body = {**params, amount_name: amount, asset_name: asset}
    return client_for(server, uid).post(path, body, mode=mode).json()


# ---------------------------------------------------------------------------------------------------
# 5. amount precision
# ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", MONEY, ids=MONEY_IDS)
@pytest.mark.parametrize("amount", ["0.000000000000000000001", "1.123456789", "0.000000001"])
def test_amount_beyond_precision_is_refused_and_moves_nothing(
    sandbox: SandboxServer, case: tuple[Any, ...], amount: str
) -> None:
    body = refused_without_change(sandbox, lambda: send_money(sandbox, case, amount))
    assert "more than 8 decimal places, the precision of USDT" in body["msg"]
    assert not any(c["applied"] for c in sandbox.journal())


@pytest.mark.parametrize("case", MONEY, ids=MONEY_IDS)
def test_amount_at_precision_moves(sandbox: SandboxServer, case: tuple[Any, ...]) -> None:
    # Trailing zeros do not count: the value has 8 decimal places.
    body = send_money(sandbox, case, "1.123456780000")
    assert body.get("code", 0) == 0, body  # the legacy endpoint answers a bare {"tranId"}
    assert sandbox.journal()[-1]["applied"] is True


def test_precision_is_configurable_per_asset_with_a_default_of_8(sandbox: SandboxServer) -> None:
    seed = copy.deepcopy(SEED)
    seed["precision"] = {"usdt": 2}  # names are upper-cased; BTC and ETH not listed → 8
    sandbox.reset(seed)
    main = client_for(sandbox, MAIN)
    params = {"fromAccount": "fund", "toAccount": "spot"}
    body = refused_without_change(
        sandbox, lambda: main.post(TRANSFER, {**params, "asset": "USDT", "amount": "1.001"}).json()
    )
    assert "more than 2 decimal places, the precision of USDT" in body["msg"]
    assert main.post(TRANSFER, {**params, "asset": "USDT", "amount": "1.01"}).json()["code"] == 0
    assert main.post(TRANSFER, {**params, "asset": "BTC", "amount": "0.00000001"}).json()["code"] == 0
    refused_without_change(
        sandbox, lambda: main.post(TRANSFER, {**params, "asset": "BTC", "amount": "0.000000001"}).json()
    )
    assert wallet(sandbox, MAIN, "spot", "USDT") == "2501.01"
    assert wallet(sandbox, MAIN, "spot", "BTC") == "0.10000001"
    assert sandbox.snapshot(include_records=False)["precision"] == {"USDT": 2}


def test_precision_seed_is_validated_and_survives_a_state_round_trip() -> None:
    state = SandboxState({**SEED, "precision": {"BTC": 6}})
    assert state.precision_of("BTC") == 6
    assert state.precision_of("USDT") == 8
    assert SandboxState(state.to_dict()).precision == {"BTC": 6}
    for bad in ("8", -1, 19, 2.5, True):
        with pytest.raises(ValueError, match="precision"):
            SandboxState({**SEED, "precision": {"USDT": bad}})


# ---------------------------------------------------------------------------------------------------
# 8b. asset names
# ---------------------------------------------------------------------------------------------------
BAD_ASSETS = ["U$DT", "US-DT", "US DT", "USDT;", "A" * 21, "ÜSDT"]


@pytest.mark.parametrize("case", MONEY, ids=MONEY_IDS)
@pytest.mark.parametrize("asset", BAD_ASSETS)
def test_odd_asset_names_are_refused_on_money_endpoints(
    sandbox: SandboxServer, case: tuple[Any, ...], asset: str
) -> None:
    body = refused_without_change(sandbox, lambda: send_money(sandbox, case, "1", asset))
    assert "must be 1 to 20 letters or digits" in body["msg"]


READS_WITH_ASSET = [
    (MAIN, "/openApi/fund/v1/account/balance", "asset"),
    (MAIN, "/openApi/wallets/v1/capital/innerTransfer/records", "coin"),
    (SUB1, "/openApi/wallets/v1/capital/subAccount/innerTransfer/records", "coin"),
]


@pytest.mark.parametrize(("uid", "path", "name"), READS_WITH_ASSET, ids=["fund", "inner", "sub_inner"])
@pytest.mark.parametrize("asset", BAD_ASSETS)
def test_odd_asset_names_are_refused_on_reads(
    sandbox: SandboxServer, uid: int, path: str, name: str, asset: str
) -> None:
    refused_without_change(sandbox, lambda: client_for(sandbox, uid).get(path, {name: asset}).json())


def test_lower_case_asset_names_are_still_accepted(sandbox: SandboxServer, main: Client) -> None:
    body = main.post(TRANSFER, {"fromAccount": "fund", "toAccount": "spot", "asset": "usdt", "amount": "1"})
    assert body.json()["code"] == 0
    assert wallet(sandbox, MAIN, "spot", "USDT") == "2501"


# ---------------------------------------------------------------------------------------------------
# 8c. negative times
# ---------------------------------------------------------------------------------------------------
TIME_FILTERED = [
    (MAIN, "/openApi/api/v3/asset/transferRecord", {"toAccount": "spot"}),
    (MAIN, "/openApi/api/v3/asset/transfer", {"type": "FUND_PFUTURES"}),
    (MAIN, "/openApi/wallets/v1/capital/innerTransfer/records", {"coin": "USDT"}),
    (SUB1, "/openApi/wallets/v1/capital/subAccount/innerTransfer/records", {"coin": "USDT"}),
    (MAIN, HISTORY, {"uid": SUB1}),
]
TIME_IDS = ["transfer_records", "legacy_records", "inner_records", "sub_inner_records", "family_history"]


@pytest.mark.parametrize(("uid", "path", "params"), TIME_FILTERED, ids=TIME_IDS)
@pytest.mark.parametrize("name", ["startTime", "endTime"])
@pytest.mark.parametrize("value", ["-5", "-1", "abc", "1.5"])
def test_negative_or_non_integer_times_are_refused(
    sandbox: SandboxServer, uid: int, path: str, params: dict[str, Any], name: str, value: str
) -> None:
    refused_without_change(
        sandbox, lambda: client_for(sandbox, uid).get(path, {**params, name: value}).json()
    )


@pytest.mark.parametrize(("uid", "path", "params"), TIME_FILTERED, ids=TIME_IDS)
def test_zero_and_positive_times_are_accepted(
    sandbox: SandboxServer, uid: int, path: str, params: dict[str, Any]
) -> None:
    body = client_for(sandbox, uid).get(path, {**params, "startTime": 0, "endTime": 4102444800000}).json()
    assert body.get("code", 0) == 0, body


# ---------------------------------------------------------------------------------------------------
# 8d. UIDs are positive integers
# ---------------------------------------------------------------------------------------------------
BAD_UIDS = ["abc", "-5", "0", "1e7", "10000002.0", " 10000002", "١٠٠٠٠٠٠٢", "99999999999999999999"]
UID_CALLS: list[tuple[str, str, str, dict[str, Any], str]] = [
    ("GET", "/openApi/subAccount/v1/list", "query", {"page": 1, "limit": 10}, "subUid"),
    ("GET", "/openApi/subAccount/v1/assets", "query", {}, "subUid"),
    ("GET", "/openApi/subAccount/v1/allAccountBalance", "query", {"pageIndex": 1, "pageSize": 10}, "subUid"),
    (
        "POST",
        "/openApi/account/v1/innerTransfer/authorizeSubAccount",
        "query",
        {"transferable": "true"},
        "subUids",
    ),
    ("GET", HISTORY, "query", {}, "uid"),
    (
        "POST",
        FAMILY_COINS,
        "json",
        {"fromUid": SUB1, "fromAccountType": 1, "toUid": MAIN, "toAccountType": 1},
        "toUid",
    ),
    (
        "POST",
        FAMILY,
        "json",
        {
            "assetName": "USDT",
            "transferAmount": "1",
            "fromUid": MAIN,
            "fromType": 1,
            "fromAccountType": 1,
            "toType": 2,
            "toAccountType": 1,
            "remark": "strict",
        },
        "toUid",
    ),
    (
        "POST",
        INNER,
        "query",
        {"coin": "USDT", "amount": "1", "walletType": 1, "userAccountType": 1},
        "userAccount",
    ),
]
UID_IDS = ["list", "assets", "all_balance", "authorize", "history", "family_coins", "family", "inner"]


@pytest.mark.parametrize(("method", "path", "mode", "params", "name"), UID_CALLS, ids=UID_IDS)
@pytest.mark.parametrize("value", BAD_UIDS)
def test_uid_parameters_must_be_positive_integers(
    sandbox: SandboxServer,
    main: Client,
    method: str,
    path: str,
    mode: str,
    params: dict[str, Any],
    name: str,
    value: str,
) -> None:
    body = refused_without_change(
        sandbox, lambda: main.request(method, path, {**params, name: value}, mode=mode).json()
    )
    assert body["msg"].endswith(f"{name} must be a positive integer")


def test_one_bad_uid_in_a_list_refuses_the_whole_authorisation(sandbox: SandboxServer, main: Client) -> None:
    path = "/openApi/account/v1/innerTransfer/authorizeSubAccount"
    refused_without_change(
        sandbox, lambda: main.post(path, {"subUids": f"{SUB2},abc", "transferable": "true"}).json()
    )
    assert SUB2 not in sandbox.snapshot(include_records=False)["authorised_subs"]


# ---------------------------------------------------------------------------------------------------
# 8a. the family-history type list is the list the history emits
# ---------------------------------------------------------------------------------------------------
def test_family_types_accepted_are_the_types_emitted() -> None:
    emitted = {
        family_type(a, x, b, y)
        for a in (1, 2)
        for b in (1, 2)
        for x in ("fund", "stdFutures", "USDTMPerp")
        for y in ("fund", "stdFutures", "USDTMPerp")
    }
    assert set(FAMILY_TRANSFER_TYPES) == emitted
    assert len(FAMILY_TRANSFER_TYPES) == len(emitted) == 36
    # BingX's documented enum (§6.16): the 18 master ↔ sub types, all accepted.
    assert len(DOCUMENTED_FAMILY_TRANSFER_TYPES) == 18
    assert set(FAMILY_TRANSFER_TYPES) >= DOCUMENTED_FAMILY_TRANSFER_TYPES
    assert "MAIN_CAPITAL_TO_SUB_SWAP" in DOCUMENTED_FAMILY_TRANSFER_TYPES
    assert "SUB_CAPITAL_TO_SUB_SWAP" not in DOCUMENTED_FAMILY_TRANSFER_TYPES


def test_history_accepts_the_type_its_own_rows_carry(sandbox: SandboxServer, main: Client) -> None:
    moved = main.post(
        FAMILY,
        {
            "assetName": "USDT",
            "transferAmount": "5",
            "fromUid": SUB1,
            "fromType": 2,
            "fromAccountType": 1,
            "toUid": SUB2,
            "toType": 2,
            "toAccountType": 3,
            "remark": "sub to sub",
        },
        mode="json",
    ).json()
    assert moved["code"] == 0
    rows = main.get(HISTORY, {"uid": SUB1}).json()["rows"]
    assert rows[0]["type"] == "SUB_CAPITAL_TO_SUB_SWAP"
    for row in rows:
        filtered = main.get(HISTORY, {"uid": SUB1, "type": row["type"]}).json()
        assert row["tranId"] in {r["tranId"] for r in filtered["rows"]}, row["type"]
    refused_without_change(sandbox, lambda: main.get(HISTORY, {"uid": SUB1, "type": "SUB_TO_MOON"}).json())


# ---------------------------------------------------------------------------------------------------
# 8e. the asset overview's "sopt" row is the funding account; the spot wallet has no row
# ---------------------------------------------------------------------------------------------------
def test_overview_rows_follow_the_docs_enum(sandbox: SandboxServer, main: Client) -> None:
    def rows() -> dict[str, str]:
        body = main.get(OVERVIEW).json()
        return {r["accountType"]: r["usdtBalance"] for r in body["data"]["result"]}

    before = rows()
    assert set(before) == {
        "sopt",
        "stdFutures",
        "coinMPerp",
        "USDTMPerp",
        "copyTrading",
        "grid",
        "eran",
        "c2c",
    }
    # "sopt" = funding wallet: 10000 USDT + 0.5 BTC at 60000 + 4 ETH at 3000.
    assert before["sopt"] == "52000"
    main.post(TRANSFER, {"fromAccount": "fund", "toAccount": "spot", "asset": "USDT", "amount": "100"})
    after = rows()
    # Fund → spot leaves the overview: the spot (trading) wallet is in no row
    # (docs: "spot: spot (fund account)").
    assert after["sopt"] == "51900"
    assert {k: v for k, v in after.items() if k != "sopt"} == {k: v for k, v in before.items() if k != "sopt"}
    assert main.get(OVERVIEW, {"accountType": "spot"}).json()["data"]["result"] == [
        {"accountType": "sopt", "usdtBalance": "51900"}
    ]
