"""Every client method over HTTP against the in-process sandbox exchange (strict signature checking),
error classification from real sandbox answers, and fault handling checked in the sandbox journal."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests

from bingx import (
    Ambiguous,
    ApiPermissions,
    AssetOverviewEntry,
    AuthenticationError,
    Balance,
    CallInfo,
    Client,
    InnerTransferRecord,
    InnerTransferResult,
    InsufficientBalance,
    InvalidParameters,
    NotSent,
    Page,
    PermissionDenied,
    RateLimited,
    ServerTime,
    SubAccount,
    SubAccountTransferableCoin,
    SubAccountTransferRecord,
    SubAccountTransferResult,
    TransferableCoin,
    TransferRecord,
    TransferResult,
)
from bingx.sandbox import variants
from bingx.sandbox.server import SandboxServer

SEED_PATH = Path(__file__).resolve().parents[2] / "bingx" / "sandbox" / "seeds" / "demo.json"
SEED: dict[str, Any] = json.loads(SEED_PATH.read_text())
KEYS = {a["uid"]: (a["api_keys"][0]["api_key"], a["api_keys"][0]["secret"]) for a in SEED["accounts"]}
MAIN, SUB1, SUB2, EXTERNAL = 10000001, 10000002, 10000003, 10000009
TRANSFER = "/openApi/api/asset/v1/transfer"
INNER = "/openApi/wallets/v1/capital/innerTransfer/apply"
FAMILY = "/openApi/account/transfer/v1/subAccount/transferAsset"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(seed=SEED_PATH, rate_limits_enabled=False, variants=variants.from_env()) as server:
        yield server


@pytest.fixture(autouse=True)
def fresh(sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> None:
    control(sandbox, "POST", "reset")
    control(sandbox, "POST", "ratelimit", {"enabled": False, "scale": 1.0})
    Client.reset_time_offsets()
    monkeypatch.setattr(Client, "retry_backoff_s", 0.01)


def control(server: SandboxServer, method: str, what: str, body: Any = None) -> Any:
    resp = requests.request(
        method,
        f"{server.base_url}/_sandbox/{what}",
        data=None if body is None else json.dumps(body),
        timeout=5,
    )
    assert resp.status_code == 200, resp.text
    return resp.json()


def journal(server: SandboxServer, path: str) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = control(server, "GET", f"journal?path={path}")["calls"]
    return calls


def wallet(server: SandboxServer, uid: int, name: str, asset: str) -> Decimal:
    for acct in control(server, "GET", "state?records=false")["accounts"]:
        if acct["uid"] == uid:
            value = acct["wallets"][name].get(asset, "0")
            return Decimal(value["free"] if isinstance(value, dict) else value)
    raise KeyError(uid)


def client(server: SandboxServer, uid: int = MAIN, **kw: Any) -> Client:
    kw.setdefault("timeout", (2.0, 2.0))
    return Client(*KEYS[uid], base_url=server.base_url, **kw)


# ---------------------------------------------------------------------------------------------------
# identity and balances
# ---------------------------------------------------------------------------------------------------
def test_server_time_and_sync(sandbox):
    c = client(sandbox)
    st = c.server_time()
    assert isinstance(st, ServerTime)
    assert abs(st.server_time - time.time() * 1000) < 60_000
    assert abs(c.sync_time()) < 60_000


def test_uid_and_permissions(sandbox):
    c = client(sandbox)
    assert c.uid() == str(MAIN)
    perms = c.api_permissions()
    assert isinstance(perms, ApiPermissions)
    assert perms.permissions == (1, 2, 4, 5)
    assert perms.note == "demo main account key"


def test_spot_and_fund_balances(sandbox):
    c = client(sandbox)
    spot = {b.asset: b for b in c.spot_balances()}
    assert spot["USDT"] == Balance("USDT", Decimal("2500"), Decimal("0"), "USDT")
    fund = {b.asset: b.free for b in c.fund_balances()}
    assert fund == {"USDT": Decimal("10000"), "BTC": Decimal("0.5"), "ETH": Decimal("4")}
    (btc,) = c.fund_balances(asset="BTC")
    assert btc.free == Decimal("0.5")


def test_asset_overview(sandbox):
    overview = client(sandbox).asset_overview()
    assert all(isinstance(e, AssetOverviewEntry) for e in overview)
    by_type = {e.account_type: e.usdt_balance for e in overview}
    assert by_type["USDTMPerp"] == Decimal("5000")
    (only,) = client(sandbox).asset_overview(account_type="stdFutures")
    assert only.usdt_balance == Decimal("1500")


# ---------------------------------------------------------------------------------------------------
# own-account transfers
# ---------------------------------------------------------------------------------------------------
def test_transfer_moves_balance_and_appears_in_records(sandbox):
    c = client(sandbox)
    result = c.transfer(from_account="fund", to_account="spot", asset="USDT", amount=Decimal("12.5"))
    assert isinstance(result, TransferResult)
    assert result.transfer_id
    assert result.tran_id
    assert wallet(sandbox, MAIN, "fund", "USDT") == Decimal("9987.5")
    assert wallet(sandbox, MAIN, "spot", "USDT") == Decimal("2512.5")
    page = c.transfer_records(transfer_id=result.transfer_id)
    assert isinstance(page, Page)
    (record,) = page.rows
    assert isinstance(record, TransferRecord)
    assert (record.transfer_id, record.amount, record.from_account, record.to_account) == (
        result.transfer_id,
        Decimal("12.5"),
        "fund",
        "spot",
    )


def test_transferable_coins(sandbox):
    coins = {c.asset: c for c in client(sandbox).transferable_coins("fund", "spot")}
    assert isinstance(coins["USDT"], TransferableCoin)
    assert coins["USDT"].amount == Decimal("10000")


def test_transfer_records_paging(sandbox):
    c = client(sandbox)
    for i in range(5):
        c.transfer(from_account="fund", to_account="USDTMPerp", asset="USDT", amount=Decimal(i + 1))
    first = c.transfer_records(from_account="fund", to_account="USDTMPerp", page_index=1, page_size=2)
    second = c.transfer_records(from_account="fund", to_account="USDTMPerp", page_index=2, page_size=2)
    rest = c.transfer_records(from_account="fund", to_account="USDTMPerp", page_index=4, page_size=2)
    assert first.total == second.total == 6  # 5 new + 1 seeded
    assert len(first.rows) == len(second.rows) == 2
    assert not {r.transfer_id for r in first.rows} & {r.transfer_id for r in second.rows}
    assert rest.rows == ()


def test_transfer_insufficient_is_rejected_and_nothing_moves(sandbox):
    c = client(sandbox)
    with pytest.raises(InsufficientBalance):
        c.transfer(from_account="spot", to_account="fund", asset="ETH", amount=Decimal("1"))
    assert wallet(sandbox, MAIN, "fund", "ETH") == Decimal("4")


def test_transfer_illegal_type_is_invalid_parameters(sandbox):
    with pytest.raises(InvalidParameters):
        client(sandbox).transfer(from_account="fund", to_account="fund", asset="USDT", amount=Decimal("1"))


def test_legacy_transfer_and_records(sandbox):
    c = client(sandbox)
    result = c.legacy_transfer(type="FUND_PFUTURES", asset="USDT", amount=Decimal("3"))
    assert result.tran_id is not None
    assert wallet(sandbox, MAIN, "USDTMPerp", "USDT") == Decimal("5003")
    page = c.legacy_transfer_records("FUND_PFUTURES")
    assert page.rows[0].tran_id == result.tran_id
    assert page.rows[0].amount == Decimal("3")
    by_id = c.legacy_transfer_records("FUND_PFUTURES", tran_id=result.tran_id)
    assert [r.tran_id for r in by_id] == [result.tran_id]


# ---------------------------------------------------------------------------------------------------
# inner transfers
# ---------------------------------------------------------------------------------------------------
def test_inner_transfer_to_external_main_by_uid_and_email(sandbox):
    c = client(sandbox)
    result = c.inner_transfer(
        coin="USDT",
        user_account_type=1,
        user_account=str(EXTERNAL),
        amount=Decimal("10"),
        wallet_type=1,
        transfer_client_id="payout42",
    )
    assert isinstance(result, InnerTransferResult)
    assert result.transfer_client_id == "payout42"
    c.inner_transfer(
        coin="USDT",
        user_account_type=3,
        user_account="external-user@example.org",
        amount=Decimal("5"),
        wallet_type=1,
    )
    assert wallet(sandbox, EXTERNAL, "fund", "USDT") == Decimal("765")
    page = c.inner_transfer_records("USDT", transfer_client_id="payout42")
    (record,) = page.rows
    assert isinstance(record, InnerTransferRecord)
    assert (record.id, record.receiver, record.amount, record.status, record.record_type) == (
        result.id,
        str(EXTERNAL),
        Decimal("10"),
        6,
        "out",
    )
    assert int(record.id) > 2**53
    assert c.inner_transfer_records("USDT", id=result.id).rows[0].transfer_client_id == "payout42"


def test_inner_transfer_records_paging(sandbox):
    c = client(sandbox)
    first = c.inner_transfer_records("USDT", offset=0, limit=2)
    second = c.inner_transfer_records("USDT", offset=2, limit=2)
    assert first.total == second.total == 2
    assert len(first.rows) == 2
    assert second.rows == ()


def test_inner_transfer_by_phone_needs_calling_code(sandbox):
    c = client(sandbox)
    c.inner_transfer(
        coin="USDT",
        user_account_type=2,
        user_account="5550100009",
        amount=Decimal("1"),
        wallet_type=1,
        calling_code="44",
    )
    with pytest.raises(InvalidParameters):
        c.inner_transfer(
            coin="USDT", user_account_type=2, user_account="5550100009", amount=Decimal("1"), wallet_type=1
        )


def test_sub_account_inner_transfer_and_records(sandbox):
    sub1 = client(sandbox, SUB1)
    result = sub1.sub_account_inner_transfer(
        coin="USDT", user_account_type=1, user_account=str(SUB2), amount=Decimal("7"), wallet_type=1
    )
    assert wallet(sandbox, SUB2, "fund", "USDT") == Decimal("507")
    page = sub1.sub_account_inner_transfer_records("USDT")
    assert page.rows[0].id == result.id
    assert page.rows[0].record_type == "out"
    incoming = client(sandbox, SUB2).sub_account_inner_transfer_records("USDT", id=result.id)
    assert [(r.record_type, r.from_uid) for r in incoming] == [("in", str(SUB1))]


def test_authorize_sub_account_transfer_enables_sub2(sandbox):
    sub2 = client(sandbox, SUB2)
    with pytest.raises(PermissionDenied):
        sub2.sub_account_inner_transfer(
            coin="USDT", user_account_type=1, user_account=str(SUB1), amount=Decimal("1"), wallet_type=1
        )
    assert client(sandbox).authorize_sub_account_transfer(sub_uids=[SUB1, SUB2], transferable=True) is True
    sub2.sub_account_inner_transfer(
        coin="USDT", user_account_type=1, user_account=str(SUB1), amount=Decimal("1"), wallet_type=1
    )
    assert client(sandbox).authorize_sub_account_transfer(sub_uids=[SUB2], transferable=False) is True


# ---------------------------------------------------------------------------------------------------
# family transfers and sub-accounts
# ---------------------------------------------------------------------------------------------------
def test_sub_account_transfer_json_mode_and_history(sandbox):
    c = client(sandbox)
    result = c.sub_account_transfer(
        asset="USDT",
        amount=Decimal("25.5"),
        from_uid=MAIN,
        from_type=1,
        from_account_type=1,
        to_uid=SUB2,
        to_type=2,
        to_account_type=3,
        remark="top-up",
    )
    assert isinstance(result, SubAccountTransferResult)
    assert wallet(sandbox, SUB2, "USDTMPerp", "USDT") == Decimal("175.5")
    page = c.sub_account_transfer_history(SUB2)
    assert page.total == 2
    latest = page.rows[0]
    assert isinstance(latest, SubAccountTransferRecord)
    assert (latest.tran_id, latest.amount, latest.type, latest.from_uid, latest.to_uid) == (
        result.tran_id,
        Decimal("25.5"),
        "MAIN_CAPITAL_TO_SUB_SWAP",
        str(MAIN),
        str(SUB2),
    )
    only = c.sub_account_transfer_history(SUB2, tran_id=result.tran_id)
    assert [r.tran_id for r in only] == [result.tran_id]
    second_page = c.sub_account_transfer_history(SUB2, page_id=2, paging_size=1)
    assert [r.tran_id for r in second_page] == ["1051323892566796963878"]


def test_sub_account_transfer_from_sub_back_to_main(sandbox):
    client(sandbox).sub_account_transfer(
        asset="USDT",
        amount=Decimal("100"),
        from_uid=SUB1,
        from_type=2,
        from_account_type=1,
        to_uid=MAIN,
        to_type=1,
        to_account_type=1,
        remark="sweep",
    )
    assert wallet(sandbox, SUB1, "fund", "USDT") == Decimal("900")


def test_sub_account_transferable_coins(sandbox):
    coins = client(sandbox).sub_account_transferable_coins(SUB1, 1, MAIN, 1)
    assert all(isinstance(c, SubAccountTransferableCoin) for c in coins)
    assert {c.asset: c.available_amount for c in coins} == {"ETH": Decimal("0.5"), "USDT": Decimal("1000")}


def test_sub_accounts_and_assets(sandbox):
    c = client(sandbox)
    page = c.sub_accounts()
    assert [s.sub_uid for s in page] == [str(SUB1), str(SUB2)]
    assert isinstance(page.rows[0], SubAccount)
    assert page.rows[0].sub_account_string == "demosub1"
    assert [s.sub_uid for s in c.sub_accounts(page=2, limit=1)] == [str(SUB2)]
    assert [s.sub_uid for s in c.sub_accounts(sub_uid=SUB2)] == [str(SUB2)]
    assets = {b.asset: b.free for b in c.sub_account_assets(SUB1)}
    assert assets == {"ETH": Decimal("0.5"), "USDT": Decimal("1000")}


def test_sub_account_overview_values_each_wallet_in_usdt(sandbox):
    """The master reads a sub-account's futures wallets only as USDT values (allAccountBalance)."""
    c = client(sandbox)
    values = {e.account_type: e.usdt_balance for e in c.sub_account_overview(SUB1)}
    assert values["USDTMPerp"] == Decimal("300")
    assert values["stdFutures"] == Decimal("200")
    (only,) = c.sub_account_overview(SUB2, "USDTMPerp")
    assert (only.account_type, only.usdt_balance) == ("USDTMPerp", Decimal("150"))


# ---------------------------------------------------------------------------------------------------
# classification of real sandbox refusals
# ---------------------------------------------------------------------------------------------------
def test_wrong_secret_is_authentication_error(sandbox):
    c = Client(KEYS[MAIN][0], "wrong-secret", base_url=sandbox.base_url)
    with pytest.raises(AuthenticationError) as info:
        c.uid()
    assert info.value.code == 100001


def test_unknown_key_is_authentication_error(sandbox):
    with pytest.raises(AuthenticationError) as info:
        Client("no-such-key", "x", base_url=sandbox.base_url).fund_balances()
    assert info.value.code == 100413


def test_missing_permission_is_permission_denied(sandbox):
    # sub-account 1's key has no Withdraw (5) permission
    with pytest.raises(PermissionDenied):
        client(sandbox, SUB1).inner_transfer(
            coin="USDT", user_account_type=1, user_account=str(MAIN), amount=Decimal("1"), wallet_type=1
        )


def test_clock_skew_is_fixed_by_resync(sandbox):
    control(sandbox, "POST", "clock", {"skew_ms": 120_000})
    c = client(sandbox)
    result = c.transfer(from_account="fund", to_account="spot", asset="USDT", amount=Decimal("1"))
    assert result.transfer_id
    assert abs(c.time_offset_ms - 120_000) < 5_000
    calls = journal(sandbox, TRANSFER)
    assert [(x["code"], x["applied"]) for x in calls] == [(100421, False), (0, True)]
    # another client on the same base URL now uses the shared offset from the start
    client(sandbox).transfer(from_account="fund", to_account="spot", asset="USDT", amount=Decimal("1"))
    assert [x["code"] for x in journal(sandbox, TRANSFER)] == [100421, 0, 0]


def test_rate_limit_is_rate_limited_with_retry_after(sandbox):
    control(sandbox, "POST", "ratelimit", {"enabled": True})
    c = client(sandbox)
    c.transferable_coins("fund", "spot")
    c.transferable_coins("fund", "spot")
    with pytest.raises(RateLimited) as info:
        c.transferable_coins("fund", "spot")
    err = info.value
    assert err.code == 100410
    assert err.retry_after_ms is not None
    assert err.retry_after_ms > int(time.time() * 1000) + 295_000  # BingX's 5-minute disabled period
    assert err.retry_in_ms is not None
    assert 295_000 <= err.retry_in_ms <= 300_000
    # RateLimited is a refusal: not retried
    assert len(journal(sandbox, "/openApi/api/asset/v1/transfer/supportCoins")) == 3


def test_repeated_insufficient_balance_locks_the_endpoint(sandbox):
    c = client(sandbox)
    for _ in range(20):
        with pytest.raises(InsufficientBalance):
            c.inner_transfer(
                coin="USDT",
                user_account_type=1,
                user_account=str(EXTERNAL),
                amount=Decimal("1000000"),
                wallet_type=1,
            )
    with pytest.raises(RateLimited) as info:
        c.inner_transfer(
            coin="USDT", user_account_type=1, user_account=str(EXTERNAL), amount=Decimal("1"), wallet_type=1
        )
    assert info.value.retry_after_ms is not None
    assert info.value.retry_after_ms > int(time.time() * 1000) + 400_000


# ---------------------------------------------------------------------------------------------------
# faults: ambiguous vs not sent, and no retry of money-moving POSTs
# ---------------------------------------------------------------------------------------------------
def arm(server: SandboxServer, path: str, mode: str, **extra: Any) -> None:
    control(server, "POST", "faults", {"path": path, "mode": mode, **extra})


@pytest.mark.parametrize(
    ("mode", "applied"),
    [("lose_response_after_apply", True), ("http_504_after_apply", True), ("http_500", False)],
)
def test_transfer_faults_are_ambiguous_and_sent_once(sandbox, mode, applied):
    arm(sandbox, TRANSFER, mode, count=5)
    with pytest.raises(Ambiguous):
        client(sandbox, read_retries=3).transfer(
            from_account="fund", to_account="spot", asset="USDT", amount=Decimal("2")
        )
    (call,) = journal(sandbox, TRANSFER)
    assert call["applied"] is applied
    assert wallet(sandbox, MAIN, "spot", "USDT") == Decimal("2502" if applied else "2500")


def test_timeout_before_apply_is_ambiguous_and_sent_once(sandbox):
    arm(sandbox, INNER, "timeout_before_apply", count=5, delay=1.5)
    with pytest.raises(Ambiguous):
        client(sandbox, timeout=(2.0, 0.5)).inner_transfer(
            coin="USDT", user_account_type=1, user_account=str(EXTERNAL), amount=Decimal("1"), wallet_type=1
        )
    (call,) = journal(sandbox, INNER)
    assert call["applied"] is False


def test_family_transfer_lost_answer_can_be_reconciled_from_history(sandbox):
    arm(sandbox, FAMILY, "lose_response_after_apply")
    c = client(sandbox)
    with pytest.raises(Ambiguous):
        c.sub_account_transfer(
            asset="USDT",
            amount=Decimal("9"),
            from_uid=MAIN,
            from_type=1,
            from_account_type=1,
            to_uid=SUB1,
            to_type=2,
            to_account_type=1,
            remark="lost",
        )
    assert len(journal(sandbox, FAMILY)) == 1
    latest = c.sub_account_transfer_history(SUB1).rows[0]
    assert latest.amount == Decimal("9")


def test_inner_transfer_lost_answer_is_found_by_client_id(sandbox):
    arm(sandbox, INNER, "lose_response_after_apply")
    c = client(sandbox)
    with pytest.raises(Ambiguous):
        c.inner_transfer(
            coin="USDT",
            user_account_type=1,
            user_account=str(EXTERNAL),
            amount=Decimal("4"),
            wallet_type=1,
            transfer_client_id="req000123",
        )
    (record,) = c.inner_transfer_records("USDT", transfer_client_id="req000123").rows
    assert record.amount == Decimal("4")


def test_error_code_fault_100500_is_ambiguous_not_a_refusal(sandbox):
    arm(sandbox, TRANSFER, "error_code", code=100500, msg="Internal system error")
    with pytest.raises(Ambiguous) as info:
        client(sandbox).transfer(from_account="fund", to_account="spot", asset="USDT", amount=Decimal("1"))
    assert info.value.code == 100500
    assert len(journal(sandbox, TRANSFER)) == 1


def test_error_code_fault_is_classified_by_code(sandbox):
    arm(sandbox, TRANSFER, "error_code", code=100419, msg="IP does not match IP whitelist")
    with pytest.raises(Exception) as info:
        client(sandbox).transfer(from_account="fund", to_account="spot", asset="USDT", amount=Decimal("1"))
    assert type(info.value).__name__ == "IPNotWhitelisted"


@pytest.mark.parametrize("mode", ["lose_response_after_apply", "http_500", "http_504_after_apply"])
def test_reads_are_retried_after_faults(sandbox, mode):
    path = "/openApi/fund/v1/account/balance"
    arm(sandbox, path, mode, count=2)
    infos: list[CallInfo] = []
    balances = client(sandbox, read_retries=2, on_response=infos.append).fund_balances()
    assert {b.asset for b in balances} == {"USDT", "BTC", "ETH"}
    assert len(journal(sandbox, path)) == 3
    assert [i.error for i in infos] == ["Ambiguous", "Ambiguous", None]


def test_read_gives_up_after_read_retries(sandbox):
    path = "/openApi/account/v1/uid"
    arm(sandbox, path, "http_504_after_apply", count=10)
    with pytest.raises(Ambiguous):
        client(sandbox, read_retries=1).uid()
    assert len(journal(sandbox, path)) == 2


def test_read_only_json_post_is_retried(sandbox):
    path = "/openApi/account/transfer/v1/subAccount/transferAsset/supportCoins"
    arm(sandbox, path, "http_500")
    assert client(sandbox).sub_account_transferable_coins(MAIN, 1, SUB1, 1)
    assert len(journal(sandbox, path)) == 2


def test_stopped_exchange_is_not_sent():
    server = SandboxServer(seed=SEED_PATH).start()
    base_url = server.base_url
    server.stop()
    with pytest.raises(NotSent):
        Client(*KEYS[MAIN], base_url=base_url, read_retries=0).transfer(
            from_account="fund", to_account="spot", asset="USDT", amount=Decimal("1")
        )


def test_audit_hook_sees_every_attempt_without_secrets(sandbox):
    infos: list[CallInfo] = []
    control(sandbox, "POST", "clock", {"skew_ms": -90_000})
    client(sandbox, on_response=infos.append).transfer(
        from_account="fund", to_account="spot", asset="USDT", amount=Decimal("1.25")
    )
    assert [(i.code, i.error) for i in infos] == [(100421, "TimestampError"), (0, None)]
    for info in infos:
        assert info.params["amount"] == "1.25"
        assert "signature" not in info.params
        assert KEYS[MAIN][1] not in repr(info)
