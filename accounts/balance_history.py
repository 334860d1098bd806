"""Balance history from the stored snapshots (every sync is kept): reads for the charts page.

Values are computed exactly as the balances page computes the latest ones (accounts.selectors): the USDT
value of a key set is BingX's asset overview plus the spot wallet's USDT at face value, because the
overview has no row for the spot wallet; spot assets without a USDT price on the desk are named as
left out. Longer periods keep the last sync of each key set per hour (7 days) or per day (30, 90 days),
days and hours in the person's time zone; the last 24 hours show every sync.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Max, Q
from django.db.models.functions import Trunc
from django.utils import timezone

from accounts.models import ApiKeySet, AssetOverviewSnapshot, BalanceSnapshot, User
from accounts.selectors import _assemble as balances_assemble
from accounts.selectors import key_set_list_for

PERIOD_DAYS = (1, 7, 30, 90)
DEFAULT_PERIOD_DAYS = 30
BUCKET = {1: None, 7: "hour", 30: "day", 90: "day"}  # one point per key set and bucket (None: every sync)

Point = tuple[dt.datetime, Decimal]


@dataclass(frozen=True)
class SyncValue:
    """One key set at one sync: its USDT value and what that value leaves out."""

    taken_at: dt.datetime
    total_usdt: Decimal
    unvalued: tuple[tuple[str, Decimal], ...]  # spot assets with no USDT price here
    assets: dict[str, Decimal]  # funding + spot quantity per asset (assets with no row: 0)


@dataclass
class KeySetHistory:
    key_set: ApiKeySet
    syncs: list[SyncValue] = field(default_factory=list)  # oldest first; the first may predate the period

    def total_series(self, *, start: dt.datetime) -> list[Point]:
        return [(max(s.taken_at, start), s.total_usdt) for s in self.syncs]

    def asset_series(self, *, asset: str, start: dt.datetime) -> list[Point]:
        return [(max(s.taken_at, start), s.assets.get(asset, Decimal(0))) for s in self.syncs]


@dataclass
class BalanceHistory:
    start: dt.datetime
    end: dt.datetime
    days: int
    key_sets: list[KeySetHistory]

    @property
    def assets(self) -> list[str]:
        return sorted({a for k in self.key_sets for s in k.syncs for a in s.assets})

    @property
    def unvalued_assets(self) -> list[str]:
        """Assets some value on the charts leaves out (spot holdings without a USDT price)."""
        return sorted({a for k in self.key_sets for s in k.syncs for a, _ in s.unvalued})

    def desk_total(self) -> list[Point]:
        """At every sync of any key set: the sum of each key set's latest value at that moment."""
        moments = sorted({max(s.taken_at, self.start) for k in self.key_sets for s in k.syncs})
        points = []
        for moment in moments:
            total = Decimal(0)
            for k in self.key_sets:
                latest = [s for s in k.syncs if max(s.taken_at, self.start) <= moment]
                if latest:
                    total += latest[-1].total_usdt
            points.append((moment, total))
        return points

    def per_asset(self) -> list[tuple[str, list[tuple[str, list[Point]]]]]:
        """For every asset: (asset, [(key set label, points)]) for the key sets that ever held it."""
        result = []
        for asset in self.assets:
            lines = [
                (k.key_set.label, k.asset_series(asset=asset, start=self.start))
                for k in self.key_sets
                if any(asset in s.assets for s in k.syncs)
            ]
            result.append((asset, lines))
        return result


def _chosen_syncs(*, key_set_ids: list[int], start: dt.datetime, days: int) -> dict[int, list[dt.datetime]]:
    """Per key set: its last sync before the period (where its lines begin), then its last sync per bucket."""
    # Every sync stores one overview row per account type (zeros included), so the overview alone
    # names every sync: a few rows per sync instead of one per wallet and asset. The database groups.
    in_period = AssetOverviewSnapshot.objects.filter(key_set_id__in=key_set_ids, taken_at__gte=start)
    kind = BUCKET[days]
    if kind is None:
        found = in_period.values_list("key_set_id", "taken_at").distinct()
    else:
        found = (
            in_period.annotate(slot=Trunc("taken_at", kind, tzinfo=timezone.get_current_timezone()))
            .values("key_set_id", "slot")
            .annotate(last=Max("taken_at"))
            .values_list("key_set_id", "last")
            .order_by()
        )
    moments: dict[int, set[dt.datetime]] = defaultdict(set)
    for key_set_id, taken_at in found:
        moments[key_set_id].add(taken_at)
    chosen: dict[int, list[dt.datetime]] = {}
    for key_set_id in key_set_ids:
        before = (
            AssetOverviewSnapshot.objects.filter(key_set_id=key_set_id, taken_at__lt=start)
            .order_by("-taken_at")
            .values_list("taken_at", flat=True)
            .first()
        )
        chosen[key_set_id] = ([before] if before else []) + sorted(moments[key_set_id])
    return chosen


def balance_history_for(*, user: User, days: int = DEFAULT_PERIOD_DAYS) -> BalanceHistory:
    """Balance history of every key set the user may view, over the last `days` days."""
    if days not in PERIOD_DAYS:
        raise ValueError(f"period must be one of {PERIOD_DAYS} days")
    end = timezone.now()
    start = end - dt.timedelta(days=days)
    key_sets = list(key_set_list_for(user=user).filter(balances_synced_at__isnull=False))
    chosen = _chosen_syncs(key_set_ids=[k.pk for k in key_sets], start=start, days=days)
    wanted = Q(pk__in=[])
    for key_set_id, moments in chosen.items():
        if moments:
            wanted |= Q(key_set_id=key_set_id, taken_at__in=moments)
    rows: dict[tuple[int, dt.datetime], list[BalanceSnapshot]] = defaultdict(list)
    overview: dict[tuple[int, dt.datetime], list[AssetOverviewSnapshot]] = defaultdict(list)
    for row in BalanceSnapshot.objects.filter(wanted):
        rows[(row.key_set_id, row.taken_at)].append(row)
    for entry in AssetOverviewSnapshot.objects.filter(wanted):
        overview[(entry.key_set_id, entry.taken_at)].append(entry)
    histories = []
    for key_set in key_sets:
        history = KeySetHistory(key_set=key_set)
        for moment in chosen[key_set.pk]:
            synced = rows[(key_set.pk, moment)]
            values = balances_assemble(key_set=key_set, rows=synced, overview=overview[(key_set.pk, moment)])
            quantities: dict[str, Decimal] = defaultdict(Decimal)
            for row in synced:
                quantities[row.asset] += row.total
            unvalued: dict[str, Decimal] = defaultdict(Decimal)
            for row in values.unvalued:
                unvalued[row.asset] += row.total
            history.syncs.append(
                SyncValue(
                    taken_at=moment,
                    total_usdt=values.total_usdt,
                    unvalued=tuple(sorted(unvalued.items())),
                    assets=dict(quantities),
                )
            )
        histories.append(history)
    return BalanceHistory(start=start, end=end, days=days, key_sets=histories)
