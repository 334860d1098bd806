"""Balance history from stored snapshots (issue 14, part 3): the series the charts page draws.

The finding: after 100 USDT moved from funding to spot, BingX's asset overview (whose "spot" row is the
funding wallet) dropped 78 000 → 77 900. The history adds the spot wallet's USDT, so the desk's total stays
78 000, and names the spot assets it cannot value.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.balance_history import balance_history_for
from accounts.models import ApiKeySet, AssetOverviewSnapshot, BalanceSnapshot, Wallet
from tests.factories import ApiKeySetFactory, KeySetGrantFactory
from tests.transfers.workflow_support import member

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def sync(
    key_set: ApiKeySet,
    at: dt.datetime,
    *,
    fund: dict[str, str],
    spot: dict[str, str],
    overview: dict[str, str],
) -> None:
    """One stored sync, as accounts.services.balances.balances_sync writes it."""
    for wallet, rows in ((Wallet.FUND, fund), (Wallet.SPOT, spot)):
        for asset, amount in rows.items():
            BalanceSnapshot.objects.create(
                key_set=key_set, wallet=wallet, asset=asset, free=Decimal(amount), taken_at=at
            )
    for account_type, usdt in overview.items():
        AssetOverviewSnapshot.objects.create(
            key_set=key_set, account_type=account_type, usdt_balance=Decimal(usdt), taken_at=at
        )
    ApiKeySet.objects.filter(pk=key_set.pk).update(balances_synced_at=at)


@pytest.fixture
def main() -> ApiKeySet:
    ks = ApiKeySetFactory(label="Desk main")
    t1, t2 = NOW - dt.timedelta(days=3), NOW - dt.timedelta(days=1)
    sync(ks, t1, fund={"USDT": "78000"}, spot={}, overview={"spot": "78000", "USDTMPerp": "0"})
    # 100 USDT moved from funding to spot; 0.1 BTC arrived in spot (no USDT price on the desk)
    sync(
        ks,
        t2,
        fund={"USDT": "77900"},
        spot={"USDT": "100", "BTC": "0.1"},
        overview={"spot": "77900", "USDTMPerp": "0"},
    )
    return ks


@pytest.fixture
def other() -> ApiKeySet:
    ks = ApiKeySetFactory(label="Other desk")
    sync(ks, NOW - dt.timedelta(days=2), fund={"USDT": "5000"}, spot={}, overview={"spot": "5000"})
    return ks


def test_the_total_includes_spot_so_a_move_from_funding_to_spot_leaves_it_unchanged(main):
    history = balance_history_for(user=member("boss", "administrator"), days=30)
    (only,) = history.key_sets
    assert [v for _, v in only.total_series(start=history.start)] == [Decimal(78000), Decimal(78000)]
    assert [v for _, v in history.desk_total()] == [Decimal(78000), Decimal(78000)]
    assert history.unvalued_assets == ["BTC"]  # the page says the total leaves it out
    assert only.syncs[-1].unvalued == (("BTC", Decimal("0.1")),)


def test_per_asset_series_hold_funding_plus_spot_and_zero_where_no_row_was_stored(main):
    history = balance_history_for(user=member("boss", "administrator"), days=30)
    per_asset = dict(history.per_asset())
    assert [v for _, v in per_asset["USDT"][0][1]] == [Decimal(78000), Decimal(78000)]
    assert [v for _, v in per_asset["BTC"][0][1]] == [Decimal(0), Decimal("0.1")]
    assert per_asset["BTC"][0][0] == "Desk main"


def test_the_desk_total_carries_each_key_set_forward_between_its_syncs(main, other):
    history = balance_history_for(user=member("boss", "administrator"), days=30)
    assert [v for _, v in history.desk_total()] == [Decimal(78000), Decimal(83000), Decimal(83000)]


def test_a_person_sees_only_the_key_sets_they_may_view(main, other):
    viewer = member("vic", "viewer")
    KeySetGrantFactory(key_set=other, user=viewer, can_view=True)
    history = balance_history_for(user=viewer, days=30)
    assert [k.key_set.label for k in history.key_sets] == ["Other desk"]
    assert [v for _, v in history.desk_total()] == [Decimal(5000)]
    assert balance_history_for(user=member("nobody", "viewer"), days=30).key_sets == []


def test_the_line_starts_with_the_last_sync_before_the_period(main):
    history = balance_history_for(user=member("boss", "administrator"), days=1)
    (only,) = history.key_sets
    assert only.total_series(start=history.start) == [(history.start, Decimal(78000))]  # t2, 1 day old


def test_longer_periods_keep_the_last_sync_of_each_day_in_the_persons_zone():
    ks = ApiKeySetFactory(label="Daily")
    zone = timezone.get_current_timezone()
    ten_days_ago = timezone.localdate() - dt.timedelta(days=10)
    for hour in (10, 11, 12):  # three syncs on one day: the 30-day chart keeps the last
        at = dt.datetime.combine(ten_days_ago, dt.time(hour), tzinfo=zone)
        sync(ks, at, fund={"USDT": str(hour)}, spot={}, overview={"spot": str(hour)})
    later = dt.datetime.combine(ten_days_ago + dt.timedelta(days=5), dt.time(9), tzinfo=zone)
    sync(ks, later, fund={"USDT": "99"}, spot={}, overview={"spot": "99"})
    history = balance_history_for(user=member("boss", "administrator"), days=30)
    series = history.key_sets[0].total_series(start=history.start)
    assert series == [
        (dt.datetime.combine(ten_days_ago, dt.time(12), tzinfo=zone), Decimal(12)),
        (later, Decimal(99)),
    ]
    # The last 24 hours show every sync.
    recent = [NOW - dt.timedelta(minutes=m) for m in (50, 40, 30)]
    for n, at in enumerate(recent):
        sync(ks, at, fund={"USDT": str(n)}, spot={}, overview={"spot": str(n)})
    history = balance_history_for(user=member("boss2", "administrator"), days=1)
    assert [s.taken_at for s in history.key_sets[0].syncs[1:]] == recent  # after the one before the period


def test_an_unknown_period_is_refused():
    with pytest.raises(ValueError, match="period"):
        balance_history_for(user=member("boss", "administrator"), days=5)
