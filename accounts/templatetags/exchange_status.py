"""{% exchange_unreachable as down %}: the exchanges that did not answer lately (exchange.health);
{% keyset_refresh_progress ks as refresh %}: a key set's background balance refresh."""

from __future__ import annotations

from django import template

from accounts.balance_refresh import RefreshProgress, balance_refresh_progress
from accounts.models import ApiKeySet
from exchange.health import Unreachable
from exchange.health import exchange_unreachable as _unreachable

register = template.Library()


@register.simple_tag
def exchange_unreachable() -> list[Unreachable]:
    return _unreachable()


@register.simple_tag
def keyset_refresh_progress(key_set: ApiKeySet) -> RefreshProgress | None:
    """The background balance refresh of a key set, if one was asked for lately."""
    return balance_refresh_progress(key_set=key_set)
