"""Every page, for each demo role, in Chromium under the Content-Security-Policy: no violation (no
inline script or style anywhere, htmx's injected styles included) and no console error.

The roles are the demo's: an administrator (admin), a requester and approver (alice), an approver
(bob) and a viewer (victor). Each visits every page of the menu, a request's page and a key set's page;
a page a role may not open (403) is still checked for violations."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse
from playwright.sync_api import Browser, Page

from accounts.models import ApiKeySet, User
from tests.e2e import test_two_person_flow as flow
from tests.factories import KeySetGrantFactory
from tests.transfers.workflow_support import member, new_request, two_leg_batch

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The two-person flow's fixtures: a key set on an in-process sandbox, and execution recorded, not run.
sandbox_url = flow.sandbox_url
desk = flow.desk
enqueued = flow.enqueued

# Records violations from inside the page (an init script runs outside the page's CSP).
LISTEN = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', e => {
  const where = (e.sourceFile || '') + ':' + e.lineNumber;
  window.__csp.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline') + ' ' + where);
});
"""


def pages(key_set: ApiKeySet, request_pk: int, batch_pk: int) -> list[str]:
    return [
        reverse("transfers:dashboard"),
        reverse("transfers:request_new"),
        reverse("transfers:request_new") + "?kind=family",
        reverse("transfers:queue"),
        reverse("transfers:history"),
        reverse("transfers:history") + "?date_from=0001-01-01",  # a form error is shown, styled
        reverse("transfers:request_detail", args=[request_pk]),
        reverse("transfers:batch_new"),
        reverse("transfers:batch_detail", args=[batch_pk]),
        reverse("transfers:recipients"),
        reverse("transfers:policy"),
        reverse("transfers:audit_log"),
        reverse("transfers:audit_log") + "?date_from=0001-01-01",  # the filter error box, styled
        reverse("transfers:reconciliation"),
        reverse("accounts:keyset_list"),
        reverse("accounts:balances"),
        reverse("accounts:keyset_detail", args=[key_set.pk]),
        reverse("people:list"),
        reverse("second_factor:manage"),
    ]


def visit(page: Page, path: str, console: list[str]) -> list[str]:
    del console[:]
    response = page.goto(path)
    assert response is not None
    page.wait_for_load_state("networkidle")
    problems: list[str] = [f"CSP {v}" for v in page.evaluate("window.__csp || []")]
    for text in console:
        # Chromium logs a page answered 4xx (no right, a refused filter) as a failed resource.
        if response.status in (400, 403, 404) and "Failed to load resource" in text:
            continue
        problems.append(text)
    assert response.status < 500, (path, response.status)
    return [f"{path}: {p}" for p in problems]


@pytest.mark.parametrize("username", ["admin", "alice", "bob", "victor"])
def test_every_page_loads_with_no_csp_violation_and_no_console_error(
    chromium_path: str,
    browser: Browser,
    live_server: Any,
    desk: ApiKeySet,
    enqueued: list[int],
    username: str,
) -> None:
    if username == "admin":
        member("admin", "administrator", is_staff=True)
    elif username == "victor":
        victor = member("victor", "viewer")
        KeySetGrantFactory(key_set=desk, user=victor, can_view=True)
    alice = User.objects.get(username="alice")
    req = new_request(requester=alice, key_set=desk, amount="12.5")
    batch = two_leg_batch(requester=alice, key_set=desk)
    context, page = flow.login(browser, live_server.url, username)
    console: list[str] = []
    page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: console.append(f"page error: {e}"))
    context.add_init_script(LISTEN)
    problems: list[str] = []
    for path in pages(desk, req.pk, batch.pk):
        problems += visit(page, path, console)
    response = page.goto("/health")
    assert response is not None
    assert "content-security-policy" in response.headers
    context.close()
    assert problems == [], "\n".join(problems)


def test_the_policy_header_forbids_inline_code_and_framing(client, admin_user) -> None:
    client.force_login(admin_user)
    response = client.get(reverse("transfers:dashboard"))
    policy = response["Content-Security-Policy"]
    directives = {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}
    assert directives["default-src"] == ["'self'"]
    assert directives["script-src"] == ["'self'"]
    assert directives["style-src"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["form-action"] == ["'self'"]
    assert directives["object-src"] == ["'none'"]
    assert "'unsafe-inline'" not in policy
    assert "'unsafe-eval'" not in policy
