"""Verification, balance sync and sub-account discovery against the sandbox exchange over HTTP."""

from __future__ import annotations

import copy
import logging
from decimal import Decimal

import pytest
from django.test import Client as WebClient
from django.urls import reverse

from accounts.models import AssetOverviewSnapshot, AuditEvent, BalanceSnapshot, KeySetStatus, SubAccount
from accounts.services.balances import balances_sync
from accounts.services.sub_accounts import sub_accounts_discover
from accounts.services.verification import key_set_verify
from accounts.tasks import balances_sync_all_task, balances_sync_task, key_set_verify_task
from bingx.sandbox import SandboxServer
from exchange.problems import ExchangeProblem
from tests.accounts.conftest import MAIN_UID, SEED, SUB1_UID, SUB2_UID, demo_key, sandbox_key_set
from tests.factories import ApiKeySetFactory

pytestmark = pytest.mark.django_db

MAIN_KEY, MAIN_SECRET = demo_key(MAIN_UID)


def _no_secret_anywhere(caplog, *texts: str) -> None:
    for text in (*texts, *(r.getMessage() for r in caplog.records), caplog.text):
        assert MAIN_SECRET not in text
        assert MAIN_KEY not in text


def test_verifying_the_demo_main_key_records_uid_permissions_and_warnings(sandbox, admin1, caplog):
    caplog.set_level(logging.DEBUG)
    for name in ("urllib3", "requests", "bingx", "accounts"):
        caplog.set_level(logging.DEBUG, logger=name)
    ks = sandbox_key_set(sandbox, MAIN_UID, status=KeySetStatus.PENDING_ACTIVATION)
    report = key_set_verify(key_set_id=ks.pk, actor=admin1)
    ks.refresh_from_db()
    assert report["ok"], report
    assert ks.uid == MAIN_UID
    assert ks.permissions == [1, 2, 4, 5]
    assert ks.ip_whitelist == []
    assert ks.last_verified_at is not None
    assert [(n["code"], n["present"]) for n in ks.verification["needs"]] == [(2, True), (4, True), (5, True)]
    warnings = " ".join(ks.verification["warnings"])
    assert "permission 1 (Spot trading) that nothing here needs" in warnings
    assert "no IP whitelist" in warnings
    event = AuditEvent.objects.get(verb="keyset.verify")
    assert event.after["uid"] == MAIN_UID
    loggers = {r.name.split(".")[0] for r in caplog.records}
    assert {"urllib3", "bingx"} <= loggers, loggers  # the HTTP layer's own lines were captured too
    _no_secret_anywhere(caplog, str(report), str(event.after), str(event.before))


def test_a_sub_key_with_what_it_needs_has_no_permission_warnings(sandbox, admin1):
    main = sandbox_key_set(sandbox, MAIN_UID)
    sub = sandbox_key_set(sandbox, SUB1_UID, account_kind="sub", parent=main)
    report = key_set_verify(key_set_id=sub.pk, actor=admin1)
    assert report["ok"]
    assert all(n["present"] for n in report["needs"])
    assert [w for w in report["warnings"] if "permission" in w] == []


def test_wrong_secret_gives_a_clear_message_and_keeps_previous_state(sandbox, admin1, caplog):
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="urllib3")
    ks = sandbox_key_set(sandbox, MAIN_UID, secret="definitely-the-wrong-secret-123")
    report = key_set_verify(key_set_id=ks.pk, actor=admin1)
    ks.refresh_from_db()
    assert not report["ok"]
    assert report["error"].startswith("Wrong API key or secret")
    assert "Traceback" not in report["error"]
    assert ks.last_verified_at is None
    assert ks.verification["error_kind"] == "auth"
    assert "definitely-the-wrong-secret" not in caplog.text


def test_missing_read_permission_is_named(sandbox, admin1):
    seed = copy.deepcopy(SEED)
    seed["accounts"][0]["api_keys"][0]["permissions"] = [4, 5]
    sandbox.reset(seed)
    ks = sandbox_key_set(sandbox, MAIN_UID)
    report = key_set_verify(key_set_id=ks.pk, actor=admin1)
    assert not report["ok"]
    assert report["error"].startswith("Permission missing")
    assert "Read" in report["error"]


def test_missing_transfer_permissions_show_in_the_report(sandbox, admin1):
    seed = copy.deepcopy(SEED)
    seed["accounts"][0]["api_keys"][0]["permissions"] = [2]
    seed["accounts"][0]["api_keys"][0]["ip_whitelist"] = ["127.0.0.1"]
    sandbox.reset(seed)
    ks = sandbox_key_set(sandbox, MAIN_UID)
    report = key_set_verify(key_set_id=ks.pk, actor=admin1)
    assert report["ok"]
    missing = [n["code"] for n in report["needs"] if not n["present"]]
    assert missing == [4, 5]
    text = " ".join(report["warnings"])
    assert "Missing permission 4 (Universal transfer)" in text
    assert "Missing permission 5 (Withdraw)" in text
    assert "no IP whitelist" not in text


def test_ip_not_whitelisted_gives_a_clear_message(sandbox, admin1):
    seed = copy.deepcopy(SEED)
    seed["accounts"][0]["api_keys"][0]["ip_whitelist"] = ["203.0.113.9"]
    sandbox.reset(seed)
    ks = sandbox_key_set(sandbox, MAIN_UID)
    report = key_set_verify(key_set_id=ks.pk, actor=admin1)
    assert not report["ok"]
    assert report["error"].startswith("IP not whitelisted")
    assert "100419" in report["error"]


def test_clock_skew_is_corrected_by_resyncing_server_time(sandbox, admin1):
    sandbox.set_clock_skew(120_000)
    ks = sandbox_key_set(sandbox, MAIN_UID)
    assert key_set_verify(key_set_id=ks.pk, actor=admin1)["ok"]


def test_clock_skew_that_cannot_be_corrected_gives_a_clear_message(sandbox, admin1):
    sandbox.set_clock_skew(120_000)
    sandbox.add_fault("/openApi/swap/v2/server/time", "http_500", count=10)
    ks = sandbox_key_set(sandbox, MAIN_UID)
    report = key_set_verify(key_set_id=ks.pk, actor=admin1)
    assert not report["ok"]
    assert report["error"].startswith("Clock skew")
    assert "NTP" in report["error"]


def test_rate_limit_names_the_time_to_try_again(admin1):
    with SandboxServer(seed=SEED, rate_limits_enabled=True, rate_limit_scale=0.2) as server:
        ks = sandbox_key_set(server, MAIN_UID)
        first = key_set_verify(key_set_id=ks.pk, actor=admin1)
        second = key_set_verify(key_set_id=ks.pk, actor=admin1)
    assert first["ok"]
    assert not second["ok"]
    assert second["error"].startswith("Rate limited by BingX")
    assert "try again after" in second["error"]
    assert "UTC" in second["error"]


def test_unreachable_exchange_gives_a_clear_message(admin1):
    ks = ApiKeySetFactory(base_url="http://127.0.0.1:9")  # discard port: connection refused
    report = key_set_verify(key_set_id=ks.pk, actor=admin1)
    assert not report["ok"]
    assert report["error"].startswith("Could not reach BingX")


def test_balance_sync_stores_snapshots_and_keeps_history(sandbox, admin1):
    ks = sandbox_key_set(sandbox, MAIN_UID)
    first = balances_sync(key_set_id=ks.pk, actor=admin1)
    assert first.balances == 5  # fund USDT, BTC, ETH; spot USDT, BTC
    fund_usdt = BalanceSnapshot.objects.get(key_set=ks, wallet="fund", asset="USDT")
    assert fund_usdt.free == Decimal("10000")
    assert fund_usdt.locked == 0
    overview = {o.account_type: o.usdt_balance for o in AssetOverviewSnapshot.objects.filter(key_set=ks)}
    assert overview["USDTMPerp"] == Decimal("5000")
    assert overview["stdFutures"] == Decimal("1500")
    assert overview["coinMPerp"] == Decimal("0.2") * 60000 + 1 * 3000
    balances_sync(key_set_id=ks.pk, actor=admin1)
    assert BalanceSnapshot.objects.filter(key_set=ks).count() == 10
    ks.refresh_from_db()
    assert ks.balances_synced_at is not None


def test_balance_sync_failure_writes_nothing(sandbox, admin1):
    ks = sandbox_key_set(sandbox, MAIN_UID, secret="wrong-secret-for-balances-1")
    with pytest.raises(ExchangeProblem, match="Wrong API key or secret"):
        balances_sync(key_set_id=ks.pk, actor=admin1)
    assert not BalanceSnapshot.objects.exists()
    assert not AssetOverviewSnapshot.objects.exists()


def test_discovery_finds_the_two_demo_subs_and_marks_the_ones_with_a_key_set(sandbox, admin1):
    main = sandbox_key_set(sandbox, MAIN_UID)
    sub1 = sandbox_key_set(sandbox, SUB1_UID, account_kind="sub", parent=main)
    key_set_verify(key_set_id=main.pk, actor=admin1)
    key_set_verify(key_set_id=sub1.pk, actor=admin1)
    result = sub_accounts_discover(key_set_id=main.pk, actor=admin1)
    assert (result.found, result.added, result.removed) == (2, 2, 0)
    subs = {s.sub_uid: s for s in SubAccount.objects.filter(main_key_set=main)}
    assert set(subs) == {SUB1_UID, SUB2_UID}
    assert subs[SUB1_UID].name == "demosub1"
    again = sub_accounts_discover(key_set_id=main.pk, actor=admin1)
    assert (again.found, again.added) == (2, 0)
    web = WebClient()
    web.force_login(admin1)
    body = web.get(reverse("accounts:keyset_detail", args=[main.pk])).content.decode()
    assert str(SUB2_UID) in body
    assert "no key set here" in body
    assert sub1.label in body


def test_discovery_is_for_main_key_sets_only(sandbox, admin1):
    main = sandbox_key_set(sandbox, MAIN_UID)
    sub = sandbox_key_set(sandbox, SUB1_UID, account_kind="sub", parent=main)
    from accounts.services.key_sets import KeySetRefused

    with pytest.raises(KeySetRefused, match="main-account"):
        sub_accounts_discover(key_set_id=sub.pk, actor=admin1)


def test_verify_and_refresh_buttons_show_messages(sandbox, viewer, admin1):
    ks = sandbox_key_set(sandbox, MAIN_UID)
    from tests.factories import KeySetGrantFactory

    KeySetGrantFactory(key_set=ks, user=viewer)
    web = WebClient()
    web.force_login(viewer)
    body = web.post(reverse("accounts:keyset_verify", args=[ks.pk]), follow=True).content.decode()
    assert f"Verified: BingX UID {MAIN_UID}" in body
    body = web.post(reverse("accounts:keyset_refresh", args=[ks.pk]), follow=True).content.decode()
    assert "Refreshing balances from the exchange in the background" in body  # a worker reads BingX
    from accounts.balance_refresh import balance_refresh_run

    progress = balance_refresh_run(key_set_id=ks.pk, actor_id=viewer.pk)  # the worker's side
    assert progress.state == "done", progress.message
    body = web.get(reverse("accounts:keyset_detail", args=[ks.pk])).content.decode()
    assert "Refreshed</span>" in body
    assert "10,000" in body
    body = web.get(reverse("accounts:balances")).content.decode()
    assert ks.label in body
    assert "5,000" in body
    assert MAIN_SECRET not in body


def test_verify_button_shows_a_human_error(sandbox, admin1):
    ks = sandbox_key_set(sandbox, MAIN_UID, secret="wrong-secret-for-button-1")
    web = WebClient()
    web.force_login(admin1)
    body = web.post(reverse("accounts:keyset_verify", args=[ks.pk]), follow=True).content.decode()
    assert "Verification failed. Wrong API key or secret" in body
    assert "Traceback" not in body


def test_tasks_verify_and_sync_by_id(sandbox):
    ks = sandbox_key_set(sandbox, MAIN_UID)
    key_set_verify_task(ks.pk)
    balances_sync_task(ks.pk)
    ks.refresh_from_db()
    assert ks.uid == MAIN_UID
    assert BalanceSnapshot.objects.filter(key_set=ks).exists()
    assert not AuditEvent.objects.filter(
        verb="keyset.balances_sync"
    ).exists()  # periodic syncs are not audited


def test_tasks_with_a_bad_id_or_failing_exchange_do_not_raise(sandbox, caplog):
    key_set_verify_task(987654)
    balances_sync_task(987654)
    ks = sandbox_key_set(sandbox, MAIN_UID, secret="wrong-secret-for-task-12")
    balances_sync_task(ks.pk)
    assert "balances not synced" in caplog.text
    assert not BalanceSnapshot.objects.exists()


def test_sync_all_enqueues_active_key_sets_only(sandbox, monkeypatch):
    active = sandbox_key_set(sandbox, MAIN_UID)
    sandbox_key_set(sandbox, SUB1_UID, label="pending", status=KeySetStatus.PENDING_ACTIVATION)
    sent = []
    monkeypatch.setattr(balances_sync_task, "delay", lambda key_set_id: sent.append(key_set_id))
    assert balances_sync_all_task() == 1
    assert sent == [active.pk]


def test_balance_sync_without_universal_transfer_still_reads_spot_and_values(sandbox, admin1):
    seed = copy.deepcopy(SEED)
    seed["accounts"][0]["api_keys"][0]["permissions"] = [2]
    sandbox.reset(seed)
    ks = sandbox_key_set(sandbox, MAIN_UID)
    result = balances_sync(key_set_id=ks.pk, actor=admin1)
    assert result.balances == 2  # spot USDT and BTC
    assert "permission 4 (Universal transfer)" in result.notes[0]
    assert not BalanceSnapshot.objects.filter(wallet="fund").exists()
    assert AssetOverviewSnapshot.objects.filter(key_set=ks, account_type="sopt").exists()
