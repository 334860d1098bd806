"""Money and time for every page: `{% load display %}{{ amount|money }} {{ moment|when }}`
(accounts.formatting holds the rules)."""

from __future__ import annotations

from typing import Any

from django import template

from accounts.formatting import diff_rows, money_text, value_text, when_text

register = template.Library()


@register.filter
def money(value: Any) -> str:
    """1234567.50000 → "1,234,567.5"; never an exponent."""
    return money_text(value)


@register.filter(name="value_text")
def value_text_filter(value: Any) -> str:
    """A stored value (a policy field, an audit field) for people: "10,000", "yes", "—"."""
    return value_text(value)


@register.filter
def when(value: Any) -> str:
    """A moment in the person's time zone with the zone named: "2026-11-26 12:50:22 CET"."""
    return when_text(value)


@register.filter
def when_short(value: Any) -> str:
    """As `when`, without seconds (tables)."""
    return when_text(value, seconds=False)


@register.simple_tag
def audit_diff(before: Any, after: Any) -> list[tuple[str, str, str, bool]]:
    """`{% audit_diff e.before e.after as rows %}`: (field, before, after, changed) rows."""
    return diff_rows(before, after)
