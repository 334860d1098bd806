"""Template helpers for the people pages: `{% load people %}{% if user|desk_admin %}…{% endif %}`."""

from __future__ import annotations

from typing import Any

from django import template

from accounts.access import user_is_admin
from accounts.models import User

register = template.Library()


@register.filter
def desk_admin(user: Any) -> bool:
    """Whether to show administrators' links (the pages and services check again)."""
    return isinstance(user, User) and user_is_admin(user=user)
