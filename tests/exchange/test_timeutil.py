"""Epoch milliseconds ↔ aware UTC datetimes, exact to the millisecond."""

from __future__ import annotations

import datetime as dt

from exchange.timeutil import datetime_to_ms, ms_to_datetime


def test_ms_to_datetime_is_aware_utc_and_exact():
    moment = ms_to_datetime(1704164645678)
    assert moment == dt.datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=dt.UTC)
    assert moment.utcoffset() == dt.timedelta(0)
    assert ms_to_datetime(0) == dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def test_every_millisecond_survives_the_round_trip():
    for ms in (1, 999, 1000, 1704164645001, 1704164645999, 2**41 + 7):
        assert datetime_to_ms(ms_to_datetime(ms)) == ms


def test_strings_and_floats_of_whole_milliseconds_are_accepted():
    assert ms_to_datetime("1704164645678") == ms_to_datetime(1704164645678)  # type: ignore[arg-type]
