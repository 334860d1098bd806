"""Times are shown in the person's own zone, with the zone named (issue 13, part 7)."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import PersonPreferences
from accounts.time_zone import PersonZone
from tests.transfers.test_approver_page import fact
from tests.transfers.workflow_support import new_request
from transfers.models import TransferRequest

pytestmark = pytest.mark.django_db


def test_each_person_sees_their_own_zone(alice, bob, carol, key_set):
    req = new_request(requester=alice, key_set=key_set)
    at = dt.datetime(2026, 7, 1, 10, 0, 5, tzinfo=dt.UTC)
    TransferRequest.objects.filter(pk=req.pk).update(created_at=at)
    PersonPreferences.objects.create(user=bob, time_zone="Europe/Berlin")
    PersonPreferences.objects.create(user=carol, time_zone="America/New_York")
    assert fact(bob, req, "fact-requester").endswith("at 2026-07-01 12:00:05 CEST")
    assert fact(carol, req, "fact-requester").endswith("at 2026-07-01 06:00:05 EDT")
    assert fact(alice, req, "fact-requester").endswith("at 2026-07-01 10:00:05 UTC")  # no preference


def test_the_zone_does_not_leak_into_the_next_request(alice, bob, key_set):
    PersonPreferences.objects.create(user=bob, time_zone="Asia/Tokyo")
    from tests.transfers.test_pages import client_for_user

    client_for_user(bob).get(reverse("transfers:dashboard"))
    assert timezone.get_current_timezone_name() == "UTC"


def test_person_zone_behaves_as_the_zone_itself(bob):
    PersonPreferences.objects.create(user=bob, time_zone="Europe/London")
    lazy, real = PersonZone(bob.pk), zoneinfo.ZoneInfo("Europe/London")
    # around the autumn change (01:00 UTC on 2026-10-25) and in summer and winter
    for moment in (
        dt.datetime(2026, 10, 25, 0, 30, tzinfo=dt.UTC),
        dt.datetime(2026, 10, 25, 1, 30, tzinfo=dt.UTC),
        dt.datetime(2026, 1, 15, 12, 0, tzinfo=dt.UTC),
    ):
        mine, theirs = moment.astimezone(lazy), moment.astimezone(real)
        assert (mine.replace(tzinfo=None), mine.tzname(), mine.utcoffset()) == (
            theirs.replace(tzinfo=None),
            theirs.tzname(),
            theirs.utcoffset(),
        )
