"""Error pages in Chromium at 1440 and 390 px (issue 14, part 5): 404, 403, 500 and the CSRF failure page,
each in the site's layout, with no Content-Security-Policy violation and nothing of the error shown.
Screenshots: test-artifacts/screenshots/14-error-<status>-<width>.png."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e import test_two_person_flow as flow
from tests.e2e.test_content_security_policy import LISTEN
from tests.transfers.workflow_support import member
from transfers import selectors

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def check(page: Page, heading: str, name: str, width: int) -> None:
    expect(page.locator("main h1")).to_have_text(heading)
    expect(page.locator("main")).to_contain_text("What you can do")
    expect(page.locator("main a.button.primary")).to_have_attribute("href", "/")
    assert page.evaluate("window.__csp") == []
    box = page.locator("main section.card").bounding_box()
    assert box is not None
    assert box["x"] >= 0
    assert box["x"] + box["width"] <= width
    flow.shot(page, f"14-error-{name}-{width}")


@pytest.mark.parametrize("width", [1440, 390])
def test_error_pages_in_the_site_layout(
    chromium_path: str, browser: Browser, live_server: Any, monkeypatch: pytest.MonkeyPatch, width: int
) -> None:
    member("vic", "viewer")
    context, page = flow.login(browser, live_server.url, "vic")
    page.set_viewport_size({"width": width, "height": 900 if width > 400 else 844})
    context.add_init_script(LISTEN)

    response = page.goto("/no-such-page/")
    assert response is not None
    assert response.status == 404
    check(page, "Page not found", "404", width)
    expect(page.locator("header .who")).to_have_text("vic")  # the menu of a signed-in person

    response = page.goto("/keys/add/")  # administrators only
    assert response is not None
    assert response.status == 403
    check(page, "This page is not open to you", "403", width)
    expect(page.locator("header .who")).to_have_text("vic")

    def crash(**_: Any) -> None:
        raise RuntimeError("secret detail /srv/app/x.py")

    monkeypatch.setattr(selectors, "dashboard_for", crash)
    response = page.goto("/")
    assert response is not None
    assert response.status == 500
    check(page, "Something went wrong on our side", "500", width)
    expect(page.locator("body")).not_to_contain_text("secret detail")
    monkeypatch.undo()

    # A form sent after the CSRF cookie is gone (another tab signed out and in again, say).
    page.goto("/account/preferences/")
    context.clear_cookies(name="csrftoken")
    page.locator("#preferences-form button[type=submit]").click()
    expect(page.locator("main h1")).to_have_text("This form has expired")
    check(page, "This form has expired", "csrf", width)
    expect(page.locator("header .who")).to_have_text("vic")
    context.close()
