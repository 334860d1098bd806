"""The approve flow without a mouse, on a phone (390x844): bob finds alice's request through the folded
menu and approves it with Tab, Enter and Space only. Also: the skip link is the first Tab stop and
jumps over the menu; the current menu item is marked; the Approve / Reject bar is on screen at once;
a screen reader hears the status change on alice's open page (the polite live region).
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from accounts.models import ApiKeySet, User
from tests.e2e import test_accessibility as a11y
from tests.e2e import test_two_person_flow as flow
from tests.stepup_support import totp_code
from transfers.models import Status, TransferRequest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

sandbox_url = flow.sandbox_url
desk = flow.desk
enqueued = flow.enqueued

PHONE = {"width": 390, "height": 844}


def focused(page: Page) -> str:
    """A short description of the focused element: tag#id.class "text"."""
    return str(
        page.evaluate(
            """() => { const e = document.activeElement; if (!e) return '';
                return e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') +
                       ' "' + (e.textContent || e.value || '').trim().slice(0, 40) + '"'; }"""
        )
    )


def tab_to(page: Page, selector: str, limit: int = 60) -> int:
    """Press Tab until the element matching `selector` has the focus; the number of presses."""
    for presses in range(1, limit + 1):
        page.keyboard.press("Tab")
        if page.evaluate("s => document.activeElement && document.activeElement.matches(s)", selector):
            return presses
    raise AssertionError(f"{selector} not reached in {limit} Tab presses (at {focused(page)})")


def test_bob_approves_on_a_phone_with_the_keyboard_only(
    chromium_path: str, browser: Browser, live_server: Any, desk: ApiKeySet, enqueued: list[int]
) -> None:
    alice_ctx, alice = flow.login(browser, live_server.url, "alice")
    pk = flow.request_wallet_transfer(alice, "42")
    bob_ctx, bob = flow.login(browser, live_server.url, "bob")
    bob.set_viewport_size(PHONE)  # type: ignore[arg-type]
    bob_user = User.objects.get(username="bob")
    try:
        bob.goto("/")
        # The first Tab stop is the skip link; Enter moves on to the page's content, past the menu.
        bob.keyboard.press("Tab")
        expect(bob.locator(".skip-link")).to_be_focused()
        expect(bob.locator(".skip-link")).to_be_in_viewport()
        bob.keyboard.press("Enter")
        bob.keyboard.press("Tab")
        assert bob.evaluate("!!document.activeElement.closest('main')"), focused(bob)

        # On a phone the menu is folded behind "Menu"; open it with the keyboard and go to Approvals.
        bob.goto("/")
        expect(bob.locator("#site-menu")).to_be_hidden()
        assert tab_to(bob, "#menu-toggle") <= 3  # skip link, brand, Menu
        expect(bob.locator("#menu-toggle")).to_have_attribute("aria-expanded", "false")
        bob.keyboard.press("Enter")
        expect(bob.locator("#menu-toggle")).to_have_attribute("aria-expanded", "true")
        expect(bob.locator("#nav-approvals")).to_be_visible()
        # The open menu passes axe too (tests/e2e/test_accessibility.py checks pages with it folded).
        bob.evaluate(a11y.AXE)
        assert bob.evaluate(a11y.RUN, a11y.TAGS) == []
        assert bob.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        flow.shot(bob, "a11y-phone-menu-open")
        tab_to(bob, "#nav-approvals")
        bob.keyboard.press("Enter")
        expect(bob).to_have_url(f"{live_server.url}/transfers/queue/")
        expect(bob.locator("#nav-approvals")).to_have_attribute("aria-current", "page")
        assert bob.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

        # The request in the queue, by keyboard.
        tab_to(bob, f"#queue a[href='/transfers/{pk}/']")
        bob.keyboard.press("Enter")
        expect(bob).to_have_url(f"{live_server.url}/transfers/{pk}/")
        # The decision bar is on screen without scrolling (sticky at the bottom on a phone).
        expect(bob.locator("#approve")).to_be_in_viewport()
        box = bob.locator("#approve").bounding_box()
        assert box is not None
        assert box["y"] + box["height"] <= PHONE["height"]

        # Comment, code, then Approve with the space bar.
        tab_to(bob, "#id_comment")
        bob.keyboard.type("checked on my phone")
        tab_to(bob, "#stepup-code")
        bob.keyboard.type(totp_code(bob_user))
        tab_to(bob, "#approve")
        bob.keyboard.press("Space")
        expect(bob.locator("#status-badge")).to_have_text("Approved, waiting for execution")
        assert TransferRequest.objects.get(pk=pk).status == Status.APPROVED
        assert enqueued == [pk]
        expect(bob.locator("#decisions")).to_contain_text("checked on my phone")
        flow.shot(bob, "a11y-keyboard-approved-phone")

        # alice's open page tells a screen reader what happened, politely.
        live = alice.locator("#status-announce")
        expect(live).to_have_attribute("aria-live", "polite")
        expect(live).to_have_text("Status changed: Approved, waiting for execution", timeout=15_000)
    finally:
        alice_ctx.close()
        bob_ctx.close()
