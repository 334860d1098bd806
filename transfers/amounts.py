"""Exact amounts on every database. SQLite has no decimal type: a DecimalField is stored as a float
that keeps 15 significant digits, so 12345678.12345678 reads back as 12345678.1234568. The canonical
payload (JSON text) always holds the exact amount; these helpers recognise a column value that is
that amount as the database stored it, so reads can restore it and record matching can compare it."""

from __future__ import annotations

import decimal
import re
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


# --- typed amounts ---------------------------------------------------------------------------------

_PLAIN_DECIMAL = re.compile(r"[0-9]+(?:\.[0-9]+)?", re.ASCII)
_SEPARATORS = frozenset(",'_\u2019\u00a0\u202f\u2009")  # thousands separators and decimal commas of locales


class AmountTextError(ValueError):
    """Typed amount text that is not a plain decimal; the message says what to change."""


def amount_parse_text(text: object) -> Decimal:
    """A typed amount: ASCII digits with at most one decimal point, nothing else — no exponent
    ("1e3"), no surrounding or inner spaces (" 25 "), no thousands or locale separators ("1,000",
    "1'000", "25,5"), no sign. Only the shape is checked here; payload.amount_clean checks the value."""
    if not isinstance(text, str):
        raise AmountTextError("Enter the amount as text, for example 25 or 0.015.")
    if text == "":
        raise AmountTextError("Enter the amount.")
    if _PLAIN_DECIMAL.fullmatch(text):
        return Decimal(text)
    if text != text.strip() or any(ch.isspace() for ch in text):
        raise AmountTextError("Remove the spaces: type only digits and one decimal point, e.g. 1250.5.")
    if "e" in text.lower():
        raise AmountTextError("Write the amount out in full (1000, not 1e3): no exponent.")
    if any(ch in _SEPARATORS for ch in text):
        raise AmountTextError(
            "Use no thousands separators and a point for decimals: digits and one decimal point, e.g. 1250.5."
        )
    if text[0] == "-":
        raise AmountTextError("The amount must be greater than zero.")
    if text[0] == "+":
        raise AmountTextError("Enter the amount without a sign.")
    raise AmountTextError("Enter the amount as a plain decimal number, for example 25 or 0.015.")
