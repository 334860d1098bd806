"""Template helpers for the workflow pages: `{% load transfers_tags %}{{ amount|plain }}`."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django import template

register = template.Library()


@register.filter
def plain(value: Any) -> str:
    """A decimal as plain text without exponent or trailing zeros (10000, 0.015)."""
    if value is None or value == "":
        return ""
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return str(value)
    return format(number.normalize(), "f") if number.is_finite() else str(value)
