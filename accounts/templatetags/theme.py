"""`{{ request|theme }}`: the person's chosen theme for <html data-theme=...> in base.html (kept in
the session: accounts.preferences.page_preferences)."""

from __future__ import annotations

from typing import Any

from django import template

from accounts.preferences import theme_for

register = template.Library()


@register.filter
def theme(request: Any) -> str:
    return theme_for(user=getattr(request, "user", None), session=getattr(request, "session", None))
