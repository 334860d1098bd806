"""The desk's total value covers the spot wallet, which BingX's asset overview has no row for.

The overview's "spot"/"sopt" row is the funding account (docs: "spot: spot (fund account)"), so a
fund → spot move takes value out of the overview; the desk adds the spot wallet's USDT back from the
spot balances it syncs, and names what it cannot value.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client as WebClient
from django.urls import reverse

from accounts.selectors import balances_for_user, balances_latest
from accounts.services.balances import balances_sync
from bingx import Client
from tests.accounts.conftest import MAIN_UID, demo_key, sandbox_key_set

pytestmark = pytest.mark.django_db

# Demo seed, main account: fund 10000 USDT + 0.5 BTC + 4 ETH (52000), spot 2500 USDT + 0.1 BTC,
# stdFutures 1500, USDTMPerp 5000, coinMPerp 0.2 BTC + 1 ETH (15000).
OVERVIEW_TOTAL = Decimal(52000 + 1500 + 5000 + 15000)


def test_moving_100_usdt_from_fund_to_spot_leaves_the_total_unchanged(sandbox, admin1):
    ks = sandbox_key_set(sandbox, MAIN_UID)
    balances_sync(key_set_id=ks.pk, actor=admin1)
    ks.refresh_from_db()
    before = balances_latest(key_set=ks)
    assert before.total_usdt == OVERVIEW_TOTAL + 2500  # spot USDT at face value
    assert [(r.asset, r.total) for r in before.unvalued] == [("BTC", Decimal("0.1"))]

    with Client(*demo_key(MAIN_UID), base_url=sandbox.base_url) as client:
        client.transfer(from_account="fund", to_account="spot", asset="USDT", amount=Decimal(100))
    balances_sync(key_set_id=ks.pk, actor=admin1)
    ks.refresh_from_db()
    after = balances_latest(key_set=ks)

    overview = {w.wallet: w.usdt_value for w in after.wallets}
    assert overview["fund"] == Decimal(51900)  # the overview lost the 100 ...
    assert overview["spot"] == Decimal(2600)  # ... and the spot wallet holds it
    assert after.total_usdt == before.total_usdt
    assert balances_for_user(user=admin1).total_usdt == before.total_usdt


def test_the_balances_page_says_what_the_total_covers(sandbox, admin1):
    ks = sandbox_key_set(sandbox, MAIN_UID)
    balances_sync(key_set_id=ks.pk, actor=admin1)
    web = WebClient()
    web.force_login(admin1)
    html = web.get(reverse("accounts:balances")).content.decode()
    assert "Total value (asset overview + spot USDT)" in html
    assert "not included (no USDT price here): 0.1 BTC in spot" in html
    assert "Spot wallet value (spot USDT at face value)" in html
    # Round amounts read as people write them, never in exponent form ("7.6E+4", "1E+4").
    total = OVERVIEW_TOTAL + 2500
    assert f"<dd>{total:,} USDT" in html  # thousands separators (accounts.formatting)
    assert "E+" not in html
