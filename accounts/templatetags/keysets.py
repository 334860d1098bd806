"""Template helpers for showing key sets and amounts: `{% load keysets %}{{ ks|keyset_badge }}`."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

from accounts.key_permissions import PERMISSION_NAMES
from accounts.models import ApiKeySet
from accounts.templatetags.display import money, when, when_short

register = template.Library()

# One formatting for money and time (accounts.formatting): the key-set pages load this library.
register.filter("money", money)
register.filter("when", when)
register.filter("when_short", when_short)


@register.filter
def plain(value: Any) -> str:
    """A decimal as plain text without exponent or trailing zeros (10000, 0.015), never "1E+4"."""
    if value is None or value == "":
        return ""
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return str(value)
    return format(number.normalize(), "f") if number.is_finite() else str(value)


@register.filter
def keyset_badge(key_set: ApiKeySet | None) -> SafeString | str:
    """The key set's label, followed by a "sandbox" badge when it talks to the sandbox exchange."""
    if key_set is None:
        return ""
    if key_set.is_sandbox:
        return format_html(
            '{} <span class="badge sandbox" title="Sandbox exchange, not real money">sandbox</span>',
            key_set.label,
        )
    return format_html("{}", key_set.label)


@register.filter
def keyset_status(key_set: ApiKeySet | None) -> SafeString | str:
    """The key set's status as a coloured badge."""
    if key_set is None:
        return ""
    return format_html('<span class="badge {}">{}</span>', key_set.status, key_set.get_status_display())


@register.filter
def permission_name(code: Any) -> str:
    try:
        return PERMISSION_NAMES.get(int(code), "unknown")
    except (TypeError, ValueError):
        return "unknown"
