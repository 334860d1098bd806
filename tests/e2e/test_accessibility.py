"""Accessibility (WCAG 2.0/2.1/2.2 A and AA) and the phone layout, in Chromium, on every page.

axe-core (vendored from the npm registry: tests/e2e/vendor/axe.min.js, tools/vendor_axe.sh) runs on
every page for every role — requester, approver, administrator, viewer, auditor — at 1440x900 and at
390x844, and on the key pages in the dark theme too. Any violation fails the test, with its rule, the
elements and axe's summary. At 390 px no page may scroll sideways (`scrollWidth <= 390`).

A page a role may not open (403) is still checked: the error page is a page too. Screenshots of every
page go to test-artifacts/screenshots/a11y-*.png (gitignored).

The page list is checked against the URL confs: a new named URL is either listed here as a page or
named below as not a page (a POST action, an htmx fragment, a download), so no page is left unchecked.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from playwright.sync_api import Browser, Page, ViewportSize

from accounts.models import ApiKeySet, User
from tests.e2e import test_two_person_flow as flow
from tests.factories import KeySetGrantFactory
from tests.transfers.workflow_support import member, new_request, two_leg_batch
from transfers.models import Status, TransferRequest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

sandbox_url = flow.sandbox_url
desk = flow.desk
enqueued = flow.enqueued

AXE = (Path(__file__).parent / "vendor" / "axe.min.js").read_text()
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]
# Open every <details> first: what a person can unfold is checked too.
RUN = """async (tags) => {
  document.querySelectorAll('details').forEach(d => { d.open = true; });
  const r = await axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']});
  return r.violations.map(v => v.id + ' (' + v.impact + '): ' + v.help + ' — ' + v.nodes.slice(0, 4).map(
      n => n.target.join(' ') + ' [' + (n.failureSummary || '').replace(/\\s+/g, ' ').slice(0, 160) + ']'
  ).join('; '));
}"""
READY = (
    "window.bxSite === true && document.readyState === 'complete' && !document.querySelector('.htmx-request')"
)
SHOTS = flow.SHOTS
SHOT_TAKEN: set[str] = set()  # a screenshot per page, width and theme (test-artifacts/screenshots/a11y-*)
DESKTOP: ViewportSize = {"width": 1440, "height": 900}
PHONE: ViewportSize = {"width": 390, "height": 844}

# Named URLs that are not pages a person opens: POST-only actions, htmx fragments, downloads, and
# pages with their own tests (login's second step, enrolment, one-time links, Django's admin).
NOT_PAGES = {
    "login", "logout", "health",
    "second_factor:verify", "second_factor:enrol", "second_factor:recovery_regenerate",
    "second_factor:passkey_delete", "people:password_set", "people:propose", "people:change_approve",
    "people:change_reject", "people:change_cancel",
    "transfers:request_available", "transfers:request_status", "transfers:request_state",
    "transfers:request_approve", "transfers:request_reject", "transfers:request_cancel",
    "transfers:batch_progress", "transfers:batch_state", "transfers:batch_approve",
    "transfers:batch_reject", "transfers:batch_cancel", "transfers:recipient_approve",
    "transfers:recipient_reject", "transfers:recipient_remove", "transfers:policy_rule_delete",
    "transfers:policy_limit_delete", "transfers:policy_change_approve", "transfers:policy_change_reject",
    "transfers:policy_change_cancel", "transfers:rule_approve", "transfers:rule_reject",
    "transfers:rule_cancel", "transfers:rule_run", "transfers:audit_export",
    "transfers:reconciliation_sync", "transfers:record_acknowledge", "transfers:record_link",
    "accounts:keyset_replace_secret", "accounts:keyset_activate", "accounts:keyset_deactivate",
    "accounts:keyset_verify", "accounts:keyset_refresh", "accounts:keyset_refresh_progress",
    "accounts:keyset_discover", "accounts:keyset_grant_revoke",
    "api:token_revoke", "api:webhook_approve", "api:webhook_reject", "api:webhook_remove",
    "api:webhook_resume", "api:webhook_redeliver",
}  # fmt: skip
# The key pages also checked in the dark theme, as the approver and the administrator (time: each
# check is about a second; every role's pages use the same stylesheet).
DARK_ROLES = {"bob", "admin"}
DARK = {"transfers:dashboard", "transfers:request_detail", "transfers:history", "accounts:balances",
        "accounts:keyset_detail", "transfers:charts"}  # fmt: skip


def url_names() -> set[str]:
    names: set[str] = set()

    def walk(patterns: list[Any], prefix: str) -> None:
        for p in patterns:
            if isinstance(p, URLResolver):
                if p.namespace in ("admin", "api-v1"):  # Django's admin; the JSON API
                    continue
                walk(p.url_patterns, f"{prefix}{p.namespace}:" if p.namespace else prefix)
            elif isinstance(p, URLPattern) and p.name:
                names.add(prefix + p.name)

    walk(get_resolver().url_patterns, "")
    return names


def pages(key_set: ApiKeySet, pending: int, succeeded: int, batch: int, person: int) -> list[tuple[str, str]]:
    """(url name, path): every page, each kind of new transfer, a request pending and one succeeded."""
    new = reverse("transfers:request_new")
    return [
        ("transfers:dashboard", reverse("transfers:dashboard")),
        ("transfers:request_new", new + "?kind=wallet"),
        ("transfers:request_new", new + "?kind=inner"),
        ("transfers:request_new", new + "?kind=sub_inner"),
        ("transfers:request_new", new + "?kind=family"),
        ("transfers:queue", reverse("transfers:queue")),
        ("transfers:history", reverse("transfers:history")),
        ("transfers:request_detail", reverse("transfers:request_detail", args=[pending]) + "?pending"),
        ("transfers:request_detail", reverse("transfers:request_detail", args=[succeeded]) + "?succeeded"),
        ("transfers:batch_new", reverse("transfers:batch_new")),
        ("transfers:batch_detail", reverse("transfers:batch_detail", args=[batch])),
        ("transfers:reconciliation", reverse("transfers:reconciliation")),
        ("transfers:audit_log", reverse("transfers:audit_log")),
        ("transfers:charts", reverse("transfers:charts")),
        ("accounts:keyset_list", reverse("accounts:keyset_list")),
        ("accounts:keyset_add", reverse("accounts:keyset_add")),
        ("accounts:keyset_detail", reverse("accounts:keyset_detail", args=[key_set.pk])),
        ("accounts:keyset_edit", reverse("accounts:keyset_edit", args=[key_set.pk])),
        ("accounts:keyset_grants", reverse("accounts:keyset_grants", args=[key_set.pk])),
        ("accounts:balances", reverse("accounts:balances")),
        ("transfers:recipients", reverse("transfers:recipients")),
        ("transfers:policy", reverse("transfers:policy")),
        ("transfers:policy_rule_new", reverse("transfers:policy_rule_new")),
        ("transfers:policy_limit_edit", reverse("transfers:policy_limit_edit")),
        ("transfers:rules", reverse("transfers:rules")),
        ("transfers:rule_new", reverse("transfers:rule_new")),
        ("people:list", reverse("people:list")),
        ("people:new", reverse("people:new")),
        ("people:detail", reverse("people:detail", args=[person])),
        ("preferences:edit", reverse("preferences:edit")),
        ("second_factor:manage", reverse("second_factor:manage")),
        ("api:tokens", reverse("api:tokens")),
        ("api:webhooks", reverse("api:webhooks")),
    ]


# Pages whose URL needs an object this test does not make (each has its form tested elsewhere).
NEEDS_OBJECT = {"transfers:policy_rule_edit", "transfers:rule_edit", "api:webhook_detail"}


def test_the_page_list_covers_every_named_url() -> None:
    listed = {name for name, _ in pages(ApiKeySet(pk=1), 1, 2, 3, 4)}
    missing = url_names() - listed - NOT_PAGES - NEEDS_OBJECT
    assert missing == set(), f"pages not checked for accessibility: {sorted(missing)}"


def check(page: Page, path: str, label: str, phone: bool, refused: set[str]) -> list[str]:
    response = page.goto(path)
    assert response is not None
    assert response.status < 500, (path, response.status)
    if response.status == 403:  # the role may not open it: the 403 page, checked once per width
        if label in refused:
            return []
        refused.add(label)
    # static/js/site.js has run (tables wrapped) and no htmx fragment is still loading. Polled from
    # here: Playwright's wait_for_function evaluates a string, which the page's CSP (no eval) refuses.
    for _ in range(100):
        if page.evaluate(READY):
            break
        page.wait_for_timeout(50)
    else:
        raise AssertionError(f"{path}: not settled (site.js not run or htmx still loading)")
    page.evaluate(AXE)
    problems = [f"{label} {path}: {v}" for v in page.evaluate(RUN, TAGS)]
    if phone:
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > PHONE["width"]:
            problems.append(f"{label} {path}: the page scrolls sideways ({width} px wide at 390 px)")
    slug = re.sub(r"[^a-z_]+", "-", re.sub(r"\d+", "n", path)).strip("-") or "dashboard"
    if response.status == 403:
        slug = "403"
    shot = f"{label.split('-', 1)[1]}-{slug}"  # width (and theme) and page: once per run, the first role
    if shot not in SHOT_TAKEN:
        SHOT_TAKEN.add(shot)
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"a11y-{shot}.png"), full_page=True)
    return problems


@pytest.mark.parametrize("username", ["rita", "bob", "admin", "vera", "audrey"])
def test_every_page_has_no_axe_violation_at_both_widths(
    chromium_path: str,
    browser: Browser,
    live_server: Any,
    desk: ApiKeySet,
    enqueued: list[int],
    username: str,
) -> None:
    """rita requests, bob approves, admin administers, vera views, audrey audits."""
    alice = User.objects.get(username="alice")
    if username == "rita":
        KeySetGrantFactory(key_set=desk, user=member("rita", "requester"), can_view=True, can_request=True)
    elif username == "admin":
        member("admin", "administrator", is_staff=True)
    elif username == "audrey":
        member("audrey", "auditor")
    pending = new_request(requester=alice, key_set=desk, amount="12.5")
    done = new_request(requester=alice, key_set=desk, amount="30")
    TransferRequest.objects.filter(pk=done.pk).update(status=Status.SUCCEEDED)
    batch = two_leg_batch(requester=alice, key_set=desk)
    context, page = flow.login(browser, live_server.url, username)
    problems: list[str] = []
    refused: set[str] = set()
    try:
        for width_label, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
            page.set_viewport_size(viewport)
            for _name, path in pages(desk, pending.pk, done.pk, batch.pk, alice.pk):
                problems += check(page, path, f"{username}-{width_label}", viewport is PHONE, refused)
        if username in DARK_ROLES:
            page.emulate_media(color_scheme="dark")
            for viewport_label, viewport in (("dark-desktop", DESKTOP), ("dark-phone", PHONE)):
                page.set_viewport_size(viewport)
                for name, path in pages(desk, pending.pk, done.pk, batch.pk, alice.pk):
                    if name in DARK:
                        label = f"{username}-{viewport_label}"
                        problems += check(page, path, label, viewport is PHONE, refused)
    finally:
        context.close()
    assert problems == [], f"{len(problems)} problem(s):\n" + "\n".join(problems)


def test_the_persons_theme_wins_over_the_device_and_system_follows_it(
    chromium_path: str, browser: Browser, live_server: Any, desk: ApiKeySet, enqueued: list[int]
) -> None:
    """Dark chosen on a light device is dark; light on a dark device is light; system follows."""
    from accounts.preferences import preferences_update

    vera = User.objects.get(username="vera")
    context, page = flow.login(browser, live_server.url, "vera")
    background = "() => getComputedStyle(document.body).backgroundColor"
    light, dark = "rgb(245, 246, 248)", "rgb(16, 22, 29)"  # --bg of each theme
    try:
        for device in ("light", "dark"):
            page.emulate_media(color_scheme=device)
            for choice, expected in (("system", light if device == "light" else dark), ("dark", dark),
                                     ("light", light)):  # fmt: skip
                preferences_update(user=vera, time_zone="UTC", emails={}, theme=choice)
                page.goto("/transfers/history/")
                assert page.evaluate("document.documentElement.dataset.theme") == choice
                assert page.evaluate(background) == expected, (device, choice)
        page.goto("/account/preferences/")
        page.check("input[name=theme][value=dark]")
        page.click("#preferences-form button[type=submit]")
        assert page.evaluate("document.documentElement.dataset.theme") == "dark"
        assert page.evaluate(background) == dark
    finally:
        context.close()
