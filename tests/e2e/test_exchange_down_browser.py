"""The exchange frozen, seen in a real browser: Refresh returns at once and the page follows the
background refresh by itself (htmx poll, reload when it ends); the banner says the exchange is not
answering. (The Available panel's short read is tested over HTTP in tests/transfers/test_exchange_down.py
and by the balance-check browser test.)"""

from __future__ import annotations

import time

import pytest
import requests
from playwright.sync_api import Browser, expect

from accounts import balance_refresh
from accounts.models import ApiKeySet, User
from exchange import health
from tests.e2e.test_two_person_flow import desk, enqueued, login, sandbox_url

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
__all__ = ["desk", "enqueued", "sandbox_url"]  # fixtures shared with the two-person flow


def freeze(base_url: str, path: str) -> None:
    body = {"path": path, "mode": "timeout_before_apply", "count": 20, "delay": 10}
    requests.post(f"{base_url}/_sandbox/faults", json=body, timeout=5).raise_for_status()


def test_frozen_exchange_in_the_browser(
    chromium_path: str,
    browser: Browser,
    live_server,
    desk: ApiKeySet,
    sandbox_url: str,
    settings,
    monkeypatch,
) -> None:
    from django.core.cache import cache

    cache.delete(health.KEY)
    asked: list[int] = []
    monkeypatch.setattr(
        balance_refresh, "_enqueue", lambda *, key_set_id, actor_id, ip: asked.append(actor_id)
    )
    ctx, page = login(browser, live_server.url, "alice")

    # The form works while the exchange answers.
    page.goto("/transfers/new/?kind=wallet")
    page.select_option("#id_from_wallet", "fund")
    page.select_option("#id_to_wallet", "spot")
    page.fill("#id_asset", "USDT")
    expect(page.locator("#available")).to_contain_text("USDT can be moved", timeout=15_000)

    freeze(sandbox_url, "/openApi/spot/v1/account/balance")

    # Refresh: the page comes back at once and shows the progress.
    page.goto("/keys/balances/")
    started = time.monotonic()
    page.click(f"form[action='/keys/{desk.pk}/refresh/'] button")
    expect(page.locator(f"#refresh-{desk.pk}")).to_contain_text("waiting for a worker")
    took = time.monotonic() - started
    print(f"\nRefresh in the browser with the exchange frozen: the page was back in {took:.2f} s")
    assert took < 3.0
    assert asked == [User.objects.get(username="alice").pk]
    # The worker's side (short timeouts so the test is quick); the open page reloads by itself.
    settings.BINGX_TIMEOUT_READ = 0.5
    assert balance_refresh.balance_refresh_run(key_set_id=desk.pk, actor_id=asked[0]).state == "failed"
    expect(page.locator(f"#refresh-{desk.pk}")).to_contain_text("Not refreshed", timeout=10_000)

    # The banner: the worker's read above ran in this process, and failed twice in a row at least.
    page.goto("/")
    expect(page.locator("#exchange-banner")).to_contain_text("is not answering")
    ctx.close()
