"""A batch built row by row in the browser: the legs are written into the CSV the server validates
line by line; a wrong row is named by its line and nothing is saved; fixed, the batch is created."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, expect

from accounts.models import ApiKeySet
from tests.e2e.test_two_person_flow import desk, login, sandbox_url, shot  # noqa: F401  (fixtures)
from transfers.models import TransferBatch

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_legs_entered_row_by_row_become_a_batch(
    chromium_path: str,
    browser: Browser,
    live_server,
    desk: ApiKeySet,  # noqa: F811
) -> None:
    context, page = login(browser, live_server.url, "alice")
    page.goto("/batches/new/")
    page.click("#add-leg")
    row = page.locator(".leg-row").nth(0)
    expect(row.locator(".leg-line")).to_have_text("Line 2")
    row.locator("[data-column=kind]").select_option("wallet")
    row.locator("[data-column=key_set]").select_option("Demo main")
    row.locator("[data-column=amount]").fill("5")
    row.locator("[data-column=from_wallet]").select_option("fund")
    row.locator("[data-column=to_wallet]").select_option("spot")
    page.click("#add-leg")
    second = page.locator(".leg-row").nth(1)
    expect(second.locator(".leg-line")).to_have_text("Line 3")
    second.locator("[data-column=kind]").select_option("wallet")
    second.locator("[data-column=amount]").fill("1e3")  # not a plain decimal
    second.locator("[data-column=from_wallet]").select_option("fund")
    second.locator("[data-column=to_wallet]").select_option("spot")
    csv = page.locator("#id_csv_text").input_value()
    assert csv.splitlines()[1].startswith("wallet,Demo main,USDT,5,")
    assert len(csv.splitlines()) == 3
    shot(page, "batch-builder")

    page.click("#submit-batch")
    expect(page.locator("#batch-errors")).to_contain_text("Line 3")
    assert TransferBatch.objects.count() == 0  # nothing saved while a line is wrong

    page.click("#add-leg")  # the builder picks the submitted CSV up again, then adds a row
    page.locator(".leg-row").nth(2).locator(".leg-remove").click()
    page.locator(".leg-row").nth(1).locator("[data-column=amount]").fill("7.5")
    page.click("#submit-batch")
    expect(page).to_have_url(re.compile(r"/batches/\d+/$"))
    batch = TransferBatch.objects.get()
    legs = list(batch.legs.order_by("leg_index"))
    assert [(leg.kind, str(leg.amount.normalize()), leg.payload["from_wallet"]) for leg in legs] == [
        ("wallet", "5", "fund"),
        ("wallet", "7.5", "fund"),
    ]
    context.close()
