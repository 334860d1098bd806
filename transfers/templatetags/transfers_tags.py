"""Template helpers for the workflow pages: `{% load transfers_tags %}{{ amount|plain }}`."""

from __future__ import annotations

from typing import Any

from django import template

from accounts.templatetags.display import money, when, when_short
from accounts.templatetags.keysets import plain
from transfers.selectors import destination_text

register = template.Library()


register.filter("plain", plain)  # one definition, shared with the accounts pages
# One formatting for money and time on every page (accounts.formatting); also in {% load display %}.
register.filter("money", money)
register.filter("when", when)
register.filter("when_short", when_short)


KIND_SHORT = {"wallet": "Own wallets", "inner": "Inner", "sub_inner": "Sub inner", "family": "Family"}


@register.filter
def kind_short(kind: str) -> str:
    """A short name for a transfer kind, for tables (the full label goes in a tooltip)."""
    return KIND_SHORT.get(str(kind), str(kind))


@register.filter
def destination(req: Any) -> str:
    """Where the money goes, in words (own wallet spot, UID 10000002, sub-account 10000003 · funding)."""
    return destination_text(req)


# BingX's inner-transfer record statuses are numbers (spec §7); the other record endpoints use words.
INNER_RECORD_STATUS = {"4": "pending review", "5": "failed", "6": "completed"}


@register.filter
def record_status(status: Any) -> str:
    text = str(status or "")
    return INNER_RECORD_STATUS.get(text, text) or "—"
