"""One way to show money and time on every page, label, email and export (docs/workflow.md
"Formatting and time zone"): thousands separators, no trailing zeros, never an exponent; times in the
person's time zone with the zone named.
"""

from __future__ import annotations

import datetime as dt
from decimal import Context, Decimal, InvalidOperation
from typing import Any

from django.utils import timezone


def money_text(value: Any, *, separators: bool = True) -> str:
    """A decimal for people: "1,234,567.5", "0.05", "10,000" — never "1E+4" or "0.050000000000000000".
    Anything that is not a number comes back as given (so a label never breaks on odd input)."""
    if value is None or value == "":
        return ""
    if isinstance(value, float):
        value = repr(value)
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return str(value)
    if not number.is_finite():
        return str(value)
    if number == 0:
        return "0"
    # A wide context: normalize() must drop trailing zeros, never round (1e15 with 18 decimals).
    return format(number.normalize(Context(prec=80)), ",f" if separators else "f")


def is_decimal_text(value: Any) -> bool:
    """True for a plain decimal string such as "25" or "0.050000000000000000" (what audit rows hold)."""
    if not isinstance(value, str) or not value or len(value) > 60:
        return False
    body = value[1:] if value[0] == "-" else value
    whole, _, fraction = body.partition(".")
    return (
        whole.isascii()
        and whole.isdigit()
        and (fraction == "" or (fraction.isascii() and fraction.isdigit()))
    )


def zone_name(moment: dt.datetime) -> str:
    """The zone's short name at that moment ("UTC", "CET", "CEST"); the full name when it has none."""
    name = moment.tzname() or ""
    if not name or name.startswith(("+", "-")):
        return str(getattr(moment.tzinfo, "key", "") or name or "UTC")
    return name


def when_text(value: Any, *, seconds: bool = True) -> str:
    """A moment in the current (the person's) time zone, with the zone shown: "2026-11-26 12:50:22 CET"."""
    if value is None or value == "":
        return ""
    if not isinstance(value, dt.datetime):
        return str(value)
    moment = timezone.localtime(value) if timezone.is_aware(value) else value
    text = moment.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")
    return f"{text} {zone_name(moment)}" if timezone.is_aware(moment) else text


def amount_label(*, amount: Any, asset: str) -> str:
    """ "0.05 BTC" — what audit labels and emails say about an amount."""
    return f"{money_text(amount)} {asset}".strip()


def diff_rows(before: Any, after: Any) -> list[tuple[str, str, str, bool]]:
    """An audit event's before/after as rows (field, before, after, changed), values readable:
    decimals formatted, lists joined, absent values shown as "—"."""
    b = before if isinstance(before, dict) else {}
    a = after if isinstance(after, dict) else {}
    rows = []
    for key in list(dict.fromkeys([*b.keys(), *a.keys()])):
        old, new = b.get(key, _ABSENT), a.get(key, _ABSENT)
        rows.append((key.replace("_", " "), _value_text(old), _value_text(new), old != new))
    return rows


_ABSENT = object()


def value_text(value: Any) -> str:
    """One stored value for people: decimals formatted, lists joined, yes/no, "—" for nothing."""
    return _value_text(value)


def _value_text(value: Any) -> str:
    if value is _ABSENT or value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
        return str(value) if isinstance(value, int) else money_text(value)
    if isinstance(value, str):
        return money_text(value) if is_decimal_text(value) and "." in value else value
    if isinstance(value, list):
        return ", ".join(_value_text(v) for v in value) or "—"
    if isinstance(value, dict):
        return "; ".join(f"{k.replace('_', ' ')}: {_value_text(v)}" for k, v in value.items()) or "—"
    return str(value)
