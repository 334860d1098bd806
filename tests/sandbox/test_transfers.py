"""Money movement: atomic balance changes, inner-transfer rules and idempotency, concurrency."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from bingx.sandbox import SandboxServer

from .conftest import EXTERNAL, MAIN, SUB1, SUB2, Client, client_for, wallet

INNER = "/openApi/wallets/v1/capital/innerTransfer/apply"
SUB_INNER = "/openApi/wallets/v1/capital/subAccountInnerTransfer/apply"
TRANSFER = "/openApi/api/asset/v1/transfer"


def test_asset_transfer_moves_both_wallets(sandbox: SandboxServer, main: Client) -> None:
    main.post(
        TRANSFER, {"fromAccount": "fund", "toAccount": "USDTMPerp", "asset": "USDT", "amount": "123.45"}
    )
    assert wallet(sandbox, MAIN, "fund", "USDT") == "9876.55"
    assert wallet(sandbox, MAIN, "USDTMPerp", "USDT") == "5123.45"
    calls = sandbox.journal(path=TRANSFER)
    assert calls[-1]["applied"] is True
    assert calls[-1]["transfer_id"]


def test_inner_transfer_by_uid_email_phone(sandbox: SandboxServer, main: Client) -> None:
    base = {"coin": "USDT", "amount": "10", "walletType": 1}
    assert main.post(INNER, {**base, "userAccountType": 1, "userAccount": str(EXTERNAL)}).json()["code"] == 0
    assert (
        main.post(INNER, {**base, "userAccountType": 3, "userAccount": "external-user@example.org"}).json()[
            "code"
        ]
        == 0
    )
    r = main.post(
        INNER, {**base, "userAccountType": 2, "userAccount": "5550100009", "callingCode": "44"}
    ).json()
    assert r["code"] == 0
    assert (
        main.post(INNER, {**base, "userAccountType": 2, "userAccount": "5550100009"}).json()["code"] == 100400
    )
    assert wallet(sandbox, MAIN, "fund", "USDT") == "9970"
    assert wallet(sandbox, EXTERNAL, "fund", "USDT") == "780"


def test_inner_transfer_from_futures_wallet_and_to_own_sub(sandbox: SandboxServer, main: Client) -> None:
    body = main.post(
        INNER,
        {"coin": "USDT", "amount": "100", "walletType": 3, "userAccountType": 1, "userAccount": str(SUB1)},
    )
    assert body.json()["code"] == 0
    assert wallet(sandbox, MAIN, "USDTMPerp", "USDT") == "4900"
    assert wallet(sandbox, SUB1, "fund", "USDT") == "1100"


def test_inner_transfer_rules(sandbox: SandboxServer, main: Client, sub1: Client, external: Client) -> None:
    base = {"coin": "USDT", "amount": "1", "walletType": 1, "userAccountType": 1}
    # another master's sub is not a legal payee
    assert external.post(INNER, {**base, "userAccount": str(SUB1)}).json()["code"] == 80014
    assert main.post(INNER, {**base, "userAccount": "99999999"}).json()["code"] == 80014
    assert main.post(INNER, {**base, "userAccount": str(MAIN)}).json()["code"] == 80014
    assert main.post(INNER, {**base, "userAccount": str(EXTERNAL), "walletType": 9}).json()["code"] == 80014
    assert main.post(INNER, {**base, "userAccount": str(EXTERNAL), "amount": "1e1"}).json()["code"] == 80014
    body = main.post(INNER, {**base, "userAccount": str(EXTERNAL), "amount": "100000"}).json()
    assert body["code"] == 100202
    assert body["msg"] == "Insufficient assets, please verify the assets status"
    assert wallet(sandbox, MAIN, "fund", "USDT") == "10000"


def test_inner_transfer_duplicate_client_id_never_moves_twice(sandbox: SandboxServer, main: Client) -> None:
    params = {
        "coin": "USDT",
        "amount": "40",
        "walletType": 1,
        "userAccountType": 1,
        "userAccount": str(EXTERNAL),
        "transferClientId": "payout42",
    }
    first = main.post(INNER, params).json()
    second = main.post(INNER, params).json()
    assert first["code"] == second["code"] == 0
    assert first["data"] == second["data"] == {"id": first["data"]["id"], "transferClientId": "payout42"}
    assert wallet(sandbox, MAIN, "fund", "USDT") == "9960"
    applied = [c["applied"] for c in sandbox.journal(path=INNER)]
    assert applied == [True, False]
    assert {c["transfer_id"] for c in sandbox.journal(path=INNER)} == {first["data"]["id"]}
    # The record can be found by transferClientId, and also by the platform id.
    recs = main.get(
        "/openApi/wallets/v1/capital/innerTransfer/records", {"coin": "USDT", "transferClientId": "payout42"}
    )
    rows = recs.json()["data"]["data"]
    assert len(rows) == 1
    assert str(rows[0]["id"]) == first["data"]["id"]
    # The payee sees it as an incoming record.
    ext = client_for(sandbox, EXTERNAL)
    incoming = ext.get(
        "/openApi/wallets/v1/capital/innerTransfer/records", {"coin": "USDT", "id": first["data"]["id"]}
    )
    assert incoming.json()["data"]["data"][0]["recordType"] == "in"


def test_client_id_must_be_alphanumeric(main: Client) -> None:
    params = {
        "coin": "USDT",
        "amount": "1",
        "walletType": 1,
        "userAccountType": 1,
        "userAccount": str(EXTERNAL),
    }
    assert main.post(INNER, {**params, "transferClientId": "has-dash"}).json()["code"] == 80014
    assert main.post(INNER, {**params, "transferClientId": "x" * 100}).json()["code"] == 80014


def test_concurrent_duplicate_client_ids_move_once(sandbox: SandboxServer, main: Client) -> None:
    params = {
        "coin": "USDT",
        "amount": "5",
        "walletType": 1,
        "userAccountType": 1,
        "userAccount": str(EXTERNAL),
    }
    params["transferClientId"] = "race1"

    def call(_: int) -> dict:
        return client_for(sandbox, MAIN).post(INNER, params).json()

    with ThreadPoolExecutor(10) as pool:
        results = list(pool.map(call, range(10)))
    assert len({r["data"]["id"] for r in results}) == 1
    assert wallet(sandbox, MAIN, "fund", "USDT") == "9995"


def test_sub_to_main_allowed_by_default(sandbox: SandboxServer, sub2: Client) -> None:
    body = sub2.post(
        SUB_INNER,
        {"coin": "usdt", "amount": "20", "walletType": 1, "userAccountType": 1, "userAccount": str(MAIN)},
    )
    assert body.json()["code"] == 0
    assert wallet(sandbox, SUB2, "fund", "USDT") == "480"
    assert wallet(sandbox, MAIN, "fund", "USDT") == "10020"


def test_sub_to_sub_needs_authorisation(
    sandbox: SandboxServer, main: Client, sub1: Client, sub2: Client
) -> None:
    to_sub1 = {"coin": "USDT", "amount": "1", "walletType": 1, "userAccountType": 1, "userAccount": str(SUB1)}
    assert sub2.post(SUB_INNER, to_sub1).json()["code"] == 100004  # SUB2 is not authorised in the seed
    main.post(
        "/openApi/account/v1/innerTransfer/authorizeSubAccount",
        {"subUids": str(SUB2), "transferable": "true"},
    )
    assert sub2.post(SUB_INNER, to_sub1).json()["code"] == 0
    to_sub2 = {
        **to_sub1,
        "userAccountType": 3,
        "userAccount": "demo-sub2@example.com",
    }
    assert sub1.post(SUB_INNER, to_sub2).json()["code"] == 0  # SUB1 authorised in the seed
    main.post(
        "/openApi/account/v1/innerTransfer/authorizeSubAccount",
        {"subUids": str(SUB1), "transferable": "false"},
    )
    assert sub1.post(SUB_INNER, to_sub2).json()["code"] == 100004


def test_sub_inner_rules(sandbox: SandboxServer, main: Client, sub1: Client) -> None:
    base = {"coin": "USDT", "amount": "1", "walletType": 1, "userAccountType": 1}
    # a master key cannot use the sub endpoint (and the main key lacks perm 7 anyway)
    assert main.post(SUB_INNER, {**base, "userAccount": str(SUB1)}).json()["code"] == 100004
    # subs cannot pay external users
    assert sub1.post(SUB_INNER, {**base, "userAccount": str(EXTERNAL)}).json()["code"] == 80014
    assert sub1.post(SUB_INNER, {**base, "userAccount": str(MAIN), "amount": "5000"}).json()["code"] == 100202


def test_concurrent_transfers_never_overdraw(sandbox: SandboxServer) -> None:
    sandbox.add_account(
        {
            "uid": 30000001,
            "wallets": {"fund": {"USDT": "100"}},
            "api_keys": [{"api_key": "race-key", "secret": "race-secret", "permissions": [2, 4, 5]}],
        }
    )

    def call(i: int) -> dict:
        c = Client(sandbox.base_url, "race-key", "race-secret")
        if i % 2:
            return c.post(
                TRANSFER, {"fromAccount": "fund", "toAccount": "spot", "asset": "USDT", "amount": "10"}
            ).json()
        params = {
            "coin": "USDT",
            "amount": "10",
            "walletType": 1,
            "userAccountType": 1,
            "userAccount": str(EXTERNAL),
        }
        return c.post(INNER, params).json()

    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(call, range(20)))
    ok = [r for r in results if r["code"] == 0 and "transferErrorMsg" not in r["data"]]
    assert len(ok) == 10
    assert wallet(sandbox, 30000001, "fund", "USDT") == "0"
    spot = wallet(sandbox, 30000001, "spot", "USDT")
    assert int(spot) + 10 * sum(1 for c in sandbox.journal(path=INNER) if c["applied"]) == 100
