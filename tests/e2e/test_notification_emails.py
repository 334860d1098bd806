"""Notifications in a real browser with a real SMTP server (aiosmtpd): alice requests, bob is emailed
and sees "Approvals (1)" in his menu, approves; alice is emailed "approved", then "succeeded" once the
worker's execution service has run against the sandbox. alice switches her request emails off on her
Preferences page; bob rejects her next request and she gets no email about it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from accounts.models import ApiKeySet, PersonPreferences, User
from tests.e2e.test_two_person_flow import desk, enqueued, login, sandbox_url
from tests.stepup_support import totp_code
from transfers.execution.execute import transfer_execute
from transfers.models import Status, TransferRequest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
__all__ = ["desk", "enqueued", "sandbox_url"]  # fixtures shared with the two-person flow


def request_wallet_transfer(page: Page, amount: str) -> int:
    page.goto("/transfers/new/?kind=wallet")
    page.select_option("#id_from_wallet", "fund")
    page.select_option("#id_to_wallet", "spot")
    page.fill("#id_asset", "USDT")
    page.fill("#id_amount", amount)
    expect(page.locator("#available")).to_contain_text("USDT", timeout=15_000)  # checked against BingX
    page.click("#request-form button[type=submit]")
    expect(page).to_have_url(re.compile(r"/transfers/\d+/$"))
    return int(re.search(r"/transfers/(\d+)/$", page.url).group(1))  # type: ignore[union-attr]


def test_two_people_act_and_the_smtp_server_receives_the_notifications(
    chromium_path: str, browser: Browser, live_server, desk: ApiKeySet, enqueued: list[int], smtp_inbox
) -> None:
    alice_ctx, alice = login(browser, live_server.url, "alice")
    bob_ctx, bob = login(browser, live_server.url, "bob")
    bob_user = User.objects.get(username="bob")

    pk = request_wallet_transfer(alice, "12.5")
    waiting = smtp_inbox.wait_for("bob@example.com", f"Transfer #{pk} waits for your approval")
    assert f"{live_server.url}/transfers/{pk}/" in waiting.body or f"/transfers/{pk}/" in waiting.body
    assert smtp_inbox.to("alice@example.com") == []

    bob.goto("/")
    expect(bob.locator("#nav-approvals")).to_have_text("Approvals (1)")
    bob.click("#nav-approvals")
    bob.goto(f"/transfers/{pk}/")
    bob.fill("#stepup-code", totp_code(bob_user))
    bob.fill("#id_comment", "fine")
    bob.click("#approve")
    expect(bob.locator("#status-badge")).to_contain_text("Approved")
    expect(bob.locator("#nav-approvals")).to_have_text("Approvals")
    smtp_inbox.wait_for("alice@example.com", f"Transfer #{pk} approved")

    assert enqueued == [pk]
    transfer_execute(request_id=pk)  # what the worker runs for the enqueued message
    assert TransferRequest.objects.get(pk=pk).status == Status.SUCCEEDED
    succeeded = smtp_inbox.wait_for("alice@example.com", f"Transfer #{pk} succeeded")
    assert "12.5 USDT" in succeeded.subject
    expect(alice.locator("#status-badge")).to_contain_text("Succeeded", timeout=15_000)

    # alice turns her request emails off on her Preferences page.
    alice.click("#nav-preferences")
    expect(alice).to_have_url(re.compile(r"/account/preferences/$"))
    alice.uncheck("#id_email_my_requests")
    alice.select_option("#id_time_zone", "Europe/Berlin")
    alice.click("#preferences-form button[type=submit]")
    expect(alice.locator(".messages")).to_contain_text("saved")
    prefs = PersonPreferences.objects.get(user__username="alice")
    assert prefs.email_my_requests is False
    assert prefs.time_zone == "Europe/Berlin"

    pk2 = request_wallet_transfer(alice, "3")
    smtp_inbox.wait_for("bob@example.com", f"Transfer #{pk2} waits for your approval")
    bob.goto(f"/transfers/{pk2}/")
    bob.fill("#stepup-code", totp_code(bob_user))
    bob.fill("#id_comment", "not today")
    bob.click("#reject")
    expect(bob.locator("#status-badge")).to_have_text("Rejected")
    assert TransferRequest.objects.get(pk=pk2).status == Status.REJECTED
    assert not any(f"#{pk2}" in s for s in smtp_inbox.subjects("alice@example.com"))  # switched off
    print(
        f"\nSMTP server received {len(smtp_inbox.messages)} messages: "
        + "; ".join(f"{m.to[0]}: {m.subject}" for m in smtp_inbox.messages)
    )

    for ctx in (alice_ctx, bob_ctx):
        ctx.close()
