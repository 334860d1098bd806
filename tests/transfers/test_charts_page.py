"""The charts page (issue 14, part 3): server-rendered SVG of the balance history and transfers per day
by status, each with a table of the same numbers, scoped to the key sets the person may view."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import ApiKeySet
from tests.accounts.test_balance_history import NOW, sync
from tests.transfers.workflow_support import grant, make_main_key_set, member, new_request
from transfers.activity_selectors import transfers_per_day
from transfers.models import Status, TransferRequest

pytestmark = pytest.mark.django_db


@pytest.fixture
def desk() -> tuple[ApiKeySet, ApiKeySet]:
    shown = make_main_key_set(label="Shown desk")
    hidden = make_main_key_set(label="Hidden desk", uid=10000099)
    sync(shown, NOW - dt.timedelta(days=2), fund={"USDT": "78000"}, spot={}, overview={"spot": "78000"})
    sync(
        shown,
        NOW - dt.timedelta(days=1),
        fund={"USDT": "77900"},
        spot={"USDT": "100", "BTC": "0.1"},
        overview={"spot": "77900"},
    )
    sync(
        hidden, NOW - dt.timedelta(days=1), fund={"USDT": "500"}, spot={"DOGE": "7"}, overview={"spot": "500"}
    )
    return shown, hidden


def requests_on(key_set: ApiKeySet, *statuses: Status, days_ago: int = 0) -> None:
    requester = member(f"req{key_set.pk}{days_ago}{len(statuses)}", "requester")
    grant(key_set, requester, request=True)
    approver = member(f"apr{key_set.pk}{days_ago}{len(statuses)}", "approver")
    grant(key_set, approver, approve=True)  # a request needs someone who may approve it
    for status in statuses:
        req = new_request(requester=requester, key_set=key_set)
        TransferRequest.objects.filter(pk=req.pk).update(
            status=status, created_at=timezone.now() - dt.timedelta(days=days_ago)
        )


def page(user, **params) -> tuple[int, str]:
    client = Client()
    client.force_login(user)
    response = client.get(reverse("transfers:charts"), params)
    return response.status_code, response.content.decode()


def test_a_viewer_sees_charts_and_tables_of_only_the_key_sets_they_may_view(desk):
    shown, hidden = desk
    viewer = member("vic", "viewer")
    grant(shown, viewer)
    requests_on(shown, Status.SUCCEEDED, Status.SUCCEEDED, Status.FAILED)
    requests_on(shown, Status.PENDING, days_ago=2)
    requests_on(hidden, Status.SUCCEEDED, Status.REJECTED)
    status, html = page(viewer)
    assert status == 200
    assert "Shown desk" in html
    assert "Hidden desk" not in html
    assert "DOGE" not in html
    # Every chart is an image with a description, and has a table of its numbers.
    assert (
        html.count('role="img"') == html.count('<details class="chart-table">') == 5
    )  # total, per key set, BTC, USDT, transfers
    assert "The desk&#x27;s total value in USDT" in html
    assert "excludes spot BTC (no USDT price here)" in html
    # The table view: the total stays 78,000 across the move to spot (spot USDT counted).
    assert html.count('<td class="num">78,000</td>') >= 2
    # Transfers per day: 4 requests of the shown key set, none of the hidden one.
    assert "4 transfer requests created in the last 30 days" in html
    assert "Rejected" not in html  # only the hidden key set had a rejected request
    today = timezone.localdate().isoformat()
    assert re.search(
        rf'<th scope="row">{today}</th>'
        r'<td class="num">2</td><td class="num">1</td><td class="num">0</td><td class="num">3</td>',
        html,
    )


def test_the_period_is_one_of_the_offered_ones(desk):
    admin = member("boss", "administrator")
    status, html = page(admin, days="7")
    assert status == 200
    assert 'aria-current="page">7 days</a>' in html
    status, html = page(admin, days="5")
    assert status == 400
    assert "Choose a period of 1, 7, 30, 90 days; showing 30." in html
    status, _ = page(admin, days="٣٠")  # Arabic-Indic digits are not a period
    assert status == 400


def test_someone_without_key_sets_gets_a_page_that_says_so():
    status, html = page(member("nobody", "viewer"))
    assert status == 200
    assert "No balances synced yet for the key sets shared with you." in html
    assert "0 transfer requests created" in html


def test_transfers_per_day_counts_by_day_in_the_persons_zone_and_status(desk):
    shown, _ = desk
    admin = member("boss", "administrator")
    requests_on(shown, Status.SUCCEEDED, Status.FAILED, Status.SUCCEEDED)
    requests_on(shown, Status.CANCELLED, days_ago=3)
    requests_on(shown, Status.SUCCEEDED, days_ago=10)  # outside a 7-day chart
    per_day = transfers_per_day(user=admin, days=7)
    assert len(per_day.days) == 7
    assert per_day.days[-1] == timezone.localdate()
    by_status = {value: counts for value, _, counts in per_day.statuses}
    assert list(by_status) == ["succeeded", "failed", "cancelled"]  # the stacking order
    assert by_status["succeeded"][-1] == 2
    assert by_status["failed"][-1] == 1
    assert by_status["cancelled"][-4] == 1
    assert per_day.total == 4


def test_the_balances_page_links_to_the_charts():
    client = Client()
    client.force_login(member("vic", "viewer"))
    html = client.get(reverse("accounts:balances")).content.decode()
    assert f'href="{reverse("transfers:charts")}"' in html
