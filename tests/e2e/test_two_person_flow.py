"""The two-person workflow in a real browser: alice requests, cannot approve her own request, bob
approves with a code from his authenticator app (a second flow: bob rejects). Two browser contexts,
two people.

The key set talks to an in-process sandbox exchange, so the form's "available on the exchange"
widget shows real numbers. Execution is not part of this flow: the enqueue is recorded instead.
Screenshots of the main pages land in test-artifacts/screenshots/ (gitignored).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from accounts.audit_verify import audit_verify_run
from accounts.models import AccountKind, ApiKeySet, SubAccount, User
from accounts.second_factor import second_factor_required
from bingx import Client
from bingx.sandbox import SandboxServer
from tests.factories import ApiKeySetFactory, KeySetGrantFactory
from tests.stepup_support import totp_code
from tests.transfers.workflow_support import MAIN_UID, PASSWORD, SUB1_UID, SUB2_UID, member
from transfers.models import Status, TransferRequest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
SEED_PATH = ROOT / "bingx" / "sandbox" / "seeds" / "demo.json"
SHOTS = ROOT / "test-artifacts" / "screenshots"


def demo_main_key() -> tuple[str, str]:
    import json

    seed = json.loads(SEED_PATH.read_text())
    account = next(a for a in seed["accounts"] if a["uid"] == MAIN_UID)
    return account["api_keys"][0]["api_key"], account["api_keys"][0]["secret"]


@pytest.fixture
def sandbox_url() -> Iterator[str]:
    server = SandboxServer(seed=SEED_PATH, port=0)
    server.start()
    Client.reset_time_offsets()
    try:
        yield server.base_url
    finally:
        server.stop()
        Client.reset_time_offsets()


@pytest.fixture
def desk(sandbox_url: str, settings, tmp_path) -> ApiKeySet:
    settings.RATE_LIMIT_URL = ""  # a private file-backed rate limiter
    settings.VAR_DIR = tmp_path
    api_key, secret = demo_main_key()
    key_set = ApiKeySetFactory(
        label="Demo main",
        base_url=sandbox_url,
        uid=MAIN_UID,
        account_kind=AccountKind.MAIN,
        permissions=[1, 2, 4, 5],
        api_key=api_key,
        secret=secret,
    )
    SubAccount.objects.create(main_key_set=key_set, sub_uid=SUB1_UID, name="demosub1")
    SubAccount.objects.create(main_key_set=key_set, sub_uid=SUB2_UID, name="demosub2")
    alice = member("alice", "requester", "approver")
    bob = member("bob", "approver")
    vera = member("vera", "viewer")
    KeySetGrantFactory(key_set=key_set, user=alice, can_view=True, can_request=True, can_approve=True)
    KeySetGrantFactory(key_set=key_set, user=bob, can_view=True, can_approve=True)
    KeySetGrantFactory(key_set=key_set, user=vera, can_view=True)
    return key_set


@pytest.fixture
def enqueued(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    from transfers import dispatch

    calls: list[int] = []
    # At the dispatch boundary: how the message is published (delay, apply_async) does not matter.
    monkeypatch.setattr(
        dispatch, "transfer_execute_enqueue", lambda *, request_id, **_: calls.append(request_id)
    )
    return calls


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 1000


def login(browser: Browser, base_url: str, username: str) -> tuple[BrowserContext, Page]:
    context = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto("/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    user = User.objects.get(username=username)
    code = totp_code(user) if second_factor_required(user=user) else ""  # enrols the app on first use
    page.click("main button[type=submit]")
    if code:  # the login's second step: the app's current code
        expect(page).to_have_url(re.compile(r"/account/second-factor/"))
        page.fill("#stepup-code", code)
        page.click("main button[type=submit]")
    expect(page.locator("header .who")).to_have_text(username)
    return context, page


def request_wallet_transfer(page: Page, amount: str, take_shot: bool = False) -> int:
    page.goto("/transfers/new/?kind=wallet")
    expect(page.locator("#available")).to_contain_text("Transferable from fund to spot", timeout=15_000)
    expect(page.locator("#available")).to_contain_text("USDT")
    page.select_option("#id_from_wallet", "fund")
    page.select_option("#id_to_wallet", "spot")
    page.fill("#id_asset", "USDT")
    page.fill("#id_amount", amount)
    page.fill("#id_note", "browser test")
    if take_shot:
        shot(page, "02-new-request")
    page.click("#request-form button[type=submit]")
    expect(page).to_have_url(re.compile(r"/transfers/\d+/$"))
    return int(re.search(r"/transfers/(\d+)/$", page.url).group(1))  # type: ignore[union-attr]


def test_alice_requests_bob_approves_and_another_is_rejected(
    chromium_path: str, browser: Browser, live_server, desk: ApiKeySet, enqueued: list[int]
) -> None:
    alice_ctx, alice = login(browser, live_server.url, "alice")
    bob_ctx, bob = login(browser, live_server.url, "bob")
    bob_user = User.objects.get(username="bob")

    # alice asks for a transfer; the form shows what the exchange says can be moved.
    pk = request_wallet_transfer(alice, "100.5", take_shot=True)
    req = TransferRequest.objects.get(pk=pk)
    assert req.status == Status.PENDING
    assert req.payload["amount"] == "100.5"
    expect(alice.locator("#payload-hash")).to_have_text(req.payload_sha256)
    expect(alice.locator("#status-badge")).to_have_text("Pending approval")
    expect(alice.locator("#quorum")).to_have_text("0 of 1")

    # alice cannot approve her own request: no buttons, a reason instead.
    expect(alice.locator("#approve")).to_have_count(0)
    expect(alice.locator("#reject")).to_have_count(0)
    expect(alice.locator("#cannot-decide")).to_contain_text("someone else must approve")
    shot(alice, "03-detail-pending")

    # bob finds it in his queue and approves with a code from his app.
    bob.goto("/transfers/queue/")
    expect(bob.locator("#queue")).to_contain_text(f"#{pk}")
    shot(bob, "04-queue")
    bob.click(f"#queue a:text-is('#{pk}')")
    expect(bob.locator("#approve")).to_be_visible()
    bob.fill("#stepup-code", totp_code(bob_user))
    bob.fill("#id_comment", "checked the amount")
    bob.click("#approve")
    expect(bob.locator("#status-badge")).to_have_text("Approved, waiting for execution")
    expect(bob.locator("#decisions")).to_contain_text("bob")
    expect(bob.locator("#decisions")).to_contain_text("checked the amount")
    expect(bob.locator("#decisions .second-factor.totp")).to_have_text("TOTP")
    assert TransferRequest.objects.get(pk=pk).status == Status.APPROVED
    assert enqueued == [pk]

    # alice's open page follows without a reload of her own (htmx polling).
    expect(alice.locator("#status-badge")).to_have_text("Approved, waiting for execution", timeout=15_000)
    shot(alice, "05-detail-approved")

    # Second flow: another request, bob rejects it.
    pk2 = request_wallet_transfer(alice, "7")
    bob.goto(f"/transfers/{pk2}/")
    bob.fill("#stepup-code", totp_code(bob_user))
    bob.fill("#id_comment", "not this week")
    bob.click("#reject")
    expect(bob.locator("#status-badge")).to_have_text("Rejected")
    expect(alice.locator("#status-badge")).to_have_text("Rejected", timeout=15_000)
    assert TransferRequest.objects.get(pk=pk2).status == Status.REJECTED
    assert enqueued == [pk]  # nothing more to execute

    # A wrong code, or the password, changes nothing.
    pk3 = request_wallet_transfer(alice, "3")
    bob.goto(f"/transfers/{pk3}/")
    bob.fill("#stepup-code", PASSWORD)
    bob.click("#approve")
    expect(bob.locator(".messages")).to_contain_text("Nothing was changed")
    assert TransferRequest.objects.get(pk=pk3).status == Status.PENDING

    alice.goto("/")
    expect(alice.locator("#mine")).to_contain_text(f"#{pk2}")
    shot(alice, "01-dashboard")
    bob.goto("/transfers/history/")
    expect(bob.locator("#history")).to_contain_text(f"#{pk}")
    shot(bob, "06-history")

    vera_ctx, vera = login(browser, live_server.url, "vera")
    audit_verify_run(full=True)  # what beat (or the page's button, through a worker) runs
    vera.goto("/audit/")
    expect(vera.locator("#chain-report")).to_contain_text("Chain intact")
    expect(vera.locator("#audit")).to_contain_text("transfer.approve")
    expect(vera.locator("#audit")).to_contain_text("transfer.reject")
    shot(vera, "07-audit-log")

    for ctx in (alice_ctx, bob_ctx, vera_ctx):
        ctx.close()
