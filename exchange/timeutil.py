"""BingX speaks epoch milliseconds; the desk stores aware UTC datetimes. One conversion each way."""

from __future__ import annotations

import datetime as dt


def ms_to_datetime(ms: int) -> dt.datetime:
    """Epoch milliseconds → aware UTC datetime, exact to the millisecond (no float rounding)."""
    seconds, millis = divmod(int(ms), 1000)
    return dt.datetime.fromtimestamp(seconds, tz=dt.UTC).replace(microsecond=millis * 1000)


def datetime_to_ms(moment: dt.datetime) -> int:
    """Aware datetime → epoch milliseconds (sub-millisecond parts are dropped)."""
    return int(moment.timestamp() * 1000)
