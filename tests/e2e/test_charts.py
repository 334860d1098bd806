"""The charts page in Chromium at 1440 and 390 px (issue 14, part 3): every chart drawn inside its box,
no Content-Security-Policy violation (the SVG has no inline style), a table view that opens by keyboard.
Screenshots: test-artifacts/screenshots/14-charts-1440.png and 14-charts-390.png."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import Browser, expect

from accounts.models import ApiKeySet
from tests.accounts.test_balance_history import sync
from tests.e2e import test_two_person_flow as flow
from tests.e2e.test_content_security_policy import LISTEN
from tests.transfers.workflow_support import grant, make_main_key_set, member, new_request
from transfers.models import Status, TransferRequest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def history() -> tuple[ApiKeySet, ApiKeySet]:
    now = timezone.now()
    main = make_main_key_set(label="Demo main")
    sub = make_main_key_set(label="Demo sub 1", uid=10000002)
    for day in range(30, 0, -1):
        at = now - dt.timedelta(days=day, hours=day % 5)
        usdt = Decimal(78000 - 350 * (day % 7) + 40 * (30 - day))
        spot = Decimal(100 * (day % 3))
        sync(
            main,
            at,
            fund={"USDT": str(usdt - spot), "BTC": "0.5"},
            spot={"USDT": str(spot), "BTC": "0.1"},
            overview={"spot": str(usdt - spot + 52000), "USDTMPerp": "5000"},
        )
        if day % 3 == 0:
            sync(
                sub,
                at + dt.timedelta(hours=2),
                fund={"USDT": str(2000 + 25 * day)},
                spot={},
                overview={"spot": str(2000 + 25 * day)},
            )
    admin = member("admin", "administrator")
    requester = member("rita", "requester")
    approver = member("abe", "approver")
    for ks in (main, sub):
        grant(ks, admin, approve=True)
        grant(ks, requester, request=True)
        grant(ks, approver, approve=True)
    statuses = [Status.SUCCEEDED] * 5 + [Status.FAILED, Status.REJECTED, Status.PENDING, Status.CANCELLED]
    for i in range(24):
        req = new_request(requester=requester, key_set=main, amount=str(10 + i))
        TransferRequest.objects.filter(pk=req.pk).update(
            status=statuses[i % len(statuses)], created_at=now - dt.timedelta(days=(i * 7) % 29)
        )
    return main, sub


@pytest.mark.parametrize("width", [1440, 390])
def test_charts_fit_the_screen_and_show_their_numbers(
    chromium_path: str, browser: Browser, live_server, history, width: int
) -> None:
    context, page = flow.login(browser, live_server.url, "admin")
    page.set_viewport_size({"width": width, "height": 900 if width > 400 else 844})
    page.add_init_script(LISTEN)
    page.goto("/charts/")
    expect(page.locator("h1")).to_have_text("Charts")
    charts = page.locator("svg.chart")
    expect(charts).to_have_count(5)  # total, per key set, BTC, USDT, transfers per day
    for i in range(5):
        box = charts.nth(i).bounding_box()
        assert box is not None
        assert box["width"] > 0.6 * min(width, 560) - 80
        assert box["x"] >= 0
        assert box["x"] + box["width"] <= width, f"chart {i} sticks out at {width} px"
        assert charts.nth(i).locator("path, rect.chart-bar").count() > 0
    # Lines take their colour from the stylesheet (classes, currentColor), not from the markup.
    stroke = page.locator("svg.chart .chart-line path").first.evaluate("p => getComputedStyle(p).stroke")
    assert stroke not in ("none", "rgb(0, 0, 0)")
    assert page.evaluate("window.__csp") == []
    # The table view opens from the keyboard and holds the chart's numbers.
    summary = page.locator("#transfers-per-day-title ~ details summary")
    summary.focus()
    page.keyboard.press("Enter")
    table = page.locator("#transfers-per-day-title ~ details table")
    expect(table).to_be_visible()
    expect(table.locator("thead")).to_contain_text("Succeeded")
    page.locator("#desk-total-title ~ details summary").click()
    expect(page.locator("#desk-total-title ~ details table")).to_contain_text("USDT")
    expect(page.locator("#desk-total-title ~ figcaption")).to_contain_text("excludes spot BTC")
    flow.shot(page, f"14-charts-{width}")
    for key in ("desk-total", "transfers-per-day"):  # close-ups, to look at the charts at phone size
        page.locator(f"#{key}-title").locator("xpath=ancestor::section[1]").screenshot(
            path=str(flow.SHOTS / f"14-charts-{width}-{key}.png")
        )
    context.close()
