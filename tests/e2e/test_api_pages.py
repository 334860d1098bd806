"""The API's pages in Chromium under the Content-Security-Policy: the token page (a token created and
shown once), the webhook page, and Swagger UI rendering the schema from the desk's own static files."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from accounts.models import ApiKeySet
from api.models import ApiToken
from tests.e2e import test_two_person_flow as flow
from tests.e2e.test_content_security_policy import LISTEN, visit
from tests.transfers.workflow_support import member

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

sandbox_url = flow.sandbox_url
desk = flow.desk


def test_api_pages_and_swagger_ui_under_the_csp(
    chromium_path: str, browser: Browser, live_server: Any, desk: ApiKeySet
) -> None:
    member("admin", "administrator", is_staff=True)
    context, page = flow.login(browser, live_server.url, "admin")
    console: list[str] = []
    page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: console.append(f"page error: {e}"))
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    context.add_init_script(LISTEN)

    problems = visit(page, "/account/api-tokens/", console)
    page.fill("#id_name", "nightly sweep")
    page.select_option("#id_scope", "request")
    page.click("form.card button[type=submit]")
    token = page.locator("#new-token-value").inner_text()
    assert token.startswith("bxa_")
    assert ApiToken.objects.get().prefix == token[:12]
    page.goto("/account/api-tokens/")
    expect(page.locator("#tokens")).to_contain_text("nightly sweep")
    assert token not in page.content()

    problems += visit(page, "/webhooks/", console)
    problems += visit(page, "/api/v1/docs", console)
    expect(page.locator(".swagger-ui .opblock").first).to_be_visible(timeout=20_000)
    expect(page.locator(".swagger-ui")).to_contain_text("/api/v1/requests")
    problems += [f"CSP {v}" for v in page.evaluate("window.__csp || []")]
    context.close()
    outside = [url for url in requests if not url.startswith(live_server.url) and not url.startswith("data:")]
    assert outside == [], outside  # no CDN, no validator, nothing fetched from elsewhere
    assert problems == [], "\n".join(problems)
