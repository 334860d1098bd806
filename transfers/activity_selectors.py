"""Transfers per day by status, for the charts page: requests the person may view, days in their zone."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count
from django.db.models.functions import TruncDate
from django.utils import timezone

from accounts.models import User
from transfers.models import Status
from transfers.selectors import requests_visible_to

# Stacking order, bottom to top: how it ended, then what is still open.
STATUS_ORDER = (
    Status.SUCCEEDED,
    Status.FAILED,
    Status.UNKNOWN,
    Status.SUBMITTING,
    Status.APPROVED,
    Status.PENDING,
    Status.REJECTED,
    Status.CANCELLED,
    Status.EXPIRED,
    Status.STALE,
)


@dataclass(frozen=True)
class TransfersPerDay:
    days: list[dt.date]
    statuses: list[tuple[str, str, list[int]]]  # (status value, label, count per day), statuses seen only

    @property
    def total(self) -> int:
        return sum(sum(counts) for _, _, counts in self.statuses)

    def rows(self) -> list[tuple[dt.date, list[int], int]]:
        """The table view: per day, the count per status (in `statuses` order) and the day's total."""
        result = []
        for i, day in enumerate(self.days):
            counts = [c[i] for _, _, c in self.statuses]
            result.append((day, counts, sum(counts)))
        return result


def transfers_per_day(*, user: User, days: int) -> TransfersPerDay:
    """Requests created on each of the last `days` days (today included) by their current status."""
    zone = timezone.get_current_timezone()
    today = timezone.localdate()
    first = today - dt.timedelta(days=days - 1)
    start = dt.datetime.combine(first, dt.time.min, tzinfo=zone)
    counted = (
        requests_visible_to(user=user)
        .filter(created_at__gte=start)
        .annotate(day=TruncDate("created_at", tzinfo=zone))
        .values("day", "status")
        .annotate(n=Count("id"))
        .order_by()
    )
    by_status: dict[str, dict[dt.date, int]] = {}
    for row in counted:
        by_status.setdefault(row["status"], {})[row["day"]] = row["n"]
    day_list = [first + dt.timedelta(days=i) for i in range(days)]
    statuses = [
        (status.value, status.label, [by_status[status.value].get(d, 0) for d in day_list])
        for status in STATUS_ORDER
        if status.value in by_status
    ]
    return TransfersPerDay(days=day_list, statuses=statuses)
