"""`{{ user|theme }}`: the person's chosen theme for <html data-theme=...> in base.html."""

from __future__ import annotations

from typing import Any

from django import template

from accounts.preferences import theme_for

register = template.Library()


@register.filter
def theme(user: Any) -> str:
    return theme_for(user=user)
