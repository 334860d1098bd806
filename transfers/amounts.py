"""Exact amounts on every database. SQLite has no decimal type: a DecimalField is stored as a float
that keeps 15 significant digits, so 12345678.12345678 reads back as 12345678.1234568. The canonical
payload (JSON text) always holds the exact amount; these helpers recognise a column value that is
that amount as the database stored it, so reads can restore it and record matching can compare it."""

from __future__ import annotations

import decimal
from decimal import Decimal

from django.db import connections

SQLITE_DIGITS = 15  # what SQLite keeps of a REAL (and what Django's converter rounds to)
MONEY_PLACES = 18  # accounts.models.MONEY


def amount_as_stored(amount: Decimal, *, using: str = "default") -> Decimal:
    """`amount` as it reads back from the database `using` (itself, except on SQLite)."""
    if connections[using].vendor != "sqlite":
        return amount
    rounded = decimal.Context(prec=SQLITE_DIGITS).create_decimal_from_float(float(amount))
    return rounded.quantize(Decimal(1).scaleb(-MONEY_PLACES), context=decimal.Context(prec=38))


def amount_matches(*, exact: Decimal, stored: Decimal | None, using: str = "default") -> bool:
    """True when a column value is `exact`, or `exact` as the database could store it."""
    if stored is None:
        return False
    return stored == exact or stored == amount_as_stored(exact, using=using)
