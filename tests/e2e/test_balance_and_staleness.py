"""Balance-aware requests and scoped staleness in a real browser (issue 13, parts 1 and 2).

alice requests against the in-process sandbox (10000 USDT in the funding wallet): an amount above
what BingX says is available is refused, *Max* fills the available amount, an override needs a
reason and bob, approving in his own browser, sees it with the balance after. Then a policy change
that an administrator approves in her browser stales only the request it can affect, says which
before approval, and alice submits that one again; bob's approval of the other still counts.
"""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Browser, Page, expect

from accounts.models import ApiKeySet, AuditEvent, User
from tests.e2e import test_two_person_flow as flow
from tests.stepup_support import totp_code
from tests.transfers.workflow_support import member
from transfers.models import (
    PolicyChangeAction,
    PolicyChangeRequest,
    Status,
    TransferRequest,
)
from transfers.services.policy_changes import policy_change_propose

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The two-person flow's fixtures and helpers: the sandbox, the demo key set with alice, bob and vera.
sandbox_url, desk, enqueued = flow.sandbox_url, flow.desk, flow.enqueued
login, shot = flow.login, flow.shot


def open_wallet_form(page: Page) -> None:
    page.goto("/transfers/new/?kind=wallet")
    page.select_option("#id_from_wallet", "fund")
    page.select_option("#id_to_wallet", "spot")
    expect(page.locator("#available")).to_contain_text("Transferable from fund to spot", timeout=15_000)


def submit(page: Page) -> None:
    page.click("#request-form button[type=submit]")


def new_id(page: Page) -> int:
    expect(page).to_have_url(re.compile(r"/transfers/\d+/$"))
    return int(re.search(r"/transfers/(\d+)/$", page.url).group(1))  # type: ignore[union-attr]


def test_over_balance_is_refused_max_fills_and_an_override_is_shown_to_the_approver(
    chromium_path: str, browser: Browser, live_server, desk: ApiKeySet, enqueued: list[int]
) -> None:
    alice_ctx, alice = login(browser, live_server.url, "alice")
    bob_ctx, bob = login(browser, live_server.url, "bob")

    open_wallet_form(alice)
    # A pasted asset the exchange does not list is named, with what it does list.
    alice.fill("#id_asset", "DOGE")
    expect(alice.locator("#available-unlisted")).to_contain_text("BingX lists no DOGE", timeout=10_000)
    alice.fill("#id_asset", "USDT")
    expect(alice.locator("#available-asset")).to_contain_text(re.compile(r"10,?000 USDT"), timeout=10_000)

    # 99 999 999 USDT: the panel warns as it is typed, the submission is refused, nothing stored.
    alice.fill("#id_amount", "99999999")
    expect(alice.locator("#available-over")).to_be_visible(timeout=10_000)
    submit(alice)
    expect(alice.locator("#request-form .errorlist")).to_contain_text("Only 10000 USDT is available")
    assert not TransferRequest.objects.exists()
    shot(alice, "13a-over-balance-refused")

    # An exponent or spaces are refused with a message, never read as 1000 or 25.
    alice.fill("#id_amount", "1e3")
    submit(alice)
    expect(alice.locator("#request-form")).to_contain_text("no exponent")
    assert not TransferRequest.objects.exists()

    # Max fills what is available.
    alice.fill("#id_amount", "")
    expect(alice.locator("#available-asset")).to_contain_text("USDT", timeout=10_000)
    alice.click("#max-amount")
    expect(alice.locator("#id_amount")).to_have_value("10000")

    # Above it only with the box ticked and a reason.
    alice.fill("#id_amount", "12000")
    alice.locator("#balance-override summary").click()
    alice.check("#id_balance_override")
    alice.fill("#id_balance_override_reason", "5000 USDT deposit confirmed for 14:00")
    submit(alice)
    pk = new_id(alice)
    req = TransferRequest.objects.get(pk=pk)
    assert req.status == Status.PENDING
    assert AuditEvent.objects.filter(verb="transfer.balance_override", object_id=str(pk)).exists()

    # bob's queue flags it; his approval page shows the reason and the balance after.
    bob.goto("/transfers/queue/")
    expect(bob.locator(f"#over-balance-{pk}")).to_contain_text("5000 USDT deposit confirmed for 14:00")
    shot(bob, "13a-queue-over-balance")
    bob.goto(f"/transfers/{pk}/")
    expect(bob.locator("#balance-override")).to_contain_text("5000 USDT deposit confirmed for 14:00")
    expect(bob.locator("#balance-after")).to_contain_text(re.compile(r"-2,?000 USDT"))
    expect(bob.locator("#over-balance-badge")).to_be_visible()
    shot(bob, "13a-detail-override")
    alice_ctx.close()
    bob_ctx.close()


def test_a_policy_change_stales_only_what_it_affects_and_the_requester_submits_again(
    chromium_path: str, browser: Browser, live_server, desk: ApiKeySet, enqueued: list[int]
) -> None:
    admin1 = member("admin1", "administrator", is_staff=True)
    member("admin2", "administrator", is_staff=True)
    alice_ctx, alice = login(browser, live_server.url, "alice")
    admin_ctx, admin = login(browser, live_server.url, "admin2")
    bob_ctx, bob = login(browser, live_server.url, "bob")

    def request(amount: str) -> int:
        open_wallet_form(alice)
        alice.fill("#id_asset", "USDT")
        alice.fill("#id_amount", amount)
        submit(alice)
        return new_id(alice)

    small, big = request("25"), request("9000")
    change, _ = policy_change_propose(
        actor=admin1,
        action=PolicyChangeAction.RULE_CREATE,
        values={"name": "large USDT", "asset": "USDT", "min_amount": "5000", "required_approvals": 1},
    )

    # The second administrator sees, before approving, how many and which requests it stales.
    admin.goto("/policy/")
    preview = admin.locator(f"#stale-preview-{change.pk}")
    expect(preview).to_contain_text("1 pending request")
    expect(preview).to_contain_text(f"#{big}")
    expect(preview).not_to_contain_text(f"#{small} ")
    shot(admin, "13a-policy-preview")
    admin.fill(f"#change-{change.pk} #approve-code", totp_code(User.objects.get(username="admin2")))
    admin.click(f"#change-{change.pk} button.primary")
    expect(admin.locator(".messages")).to_contain_text("1 pending request(s) it could affect became stale")
    assert PolicyChangeRequest.objects.get(pk=change.pk).applied_version is not None

    assert TransferRequest.objects.get(pk=big).status == Status.STALE
    assert TransferRequest.objects.get(pk=small).status == Status.PENDING

    # bob approves the small one: its approval still counts.
    started = time.monotonic()
    bob.goto(f"/transfers/{small}/")
    bob.fill("#stepup-code", totp_code(User.objects.get(username="bob")))
    bob.fill("#id_comment", "fine")
    bob.click("#approve")
    expect(bob.locator("#status-badge")).to_have_text(re.compile("Approved"))
    assert TransferRequest.objects.get(pk=small).status == Status.APPROVED
    print(f"unaffected request approved after the policy change in {time.monotonic() - started:.2f} s")

    # alice's stale request offers Submit again: prefilled, a new request with new approvals.
    alice.goto(f"/transfers/{big}/")
    expect(alice.locator("#status-badge")).to_have_text(re.compile("Stale"))
    alice.click("#submit-again-button")
    expect(alice.locator("#submit-again-from")).to_contain_text(f"#{big}")
    expect(alice.locator("#id_amount")).to_have_value("9000")
    expect(alice.locator("#id_asset")).to_have_value("USDT")
    shot(alice, "13a-submit-again-form")
    submit(alice)
    again = new_id(alice)
    assert again != big
    new = TransferRequest.objects.get(pk=again)
    assert new.status == Status.PENDING
    assert new.approvals.count() == 0
    assert new.policy_rule is not None
    assert new.policy_rule.name == "large USDT"
    alice.goto(f"/transfers/{big}/")
    expect(alice.locator("#resubmitted-as")).to_contain_text(f"#{again}")
    for ctx in (alice_ctx, admin_ctx, bob_ctx):
        ctx.close()
