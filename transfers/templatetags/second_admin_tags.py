"""{% second_admin_waiting as items %}: what waits for a second administrator (for the dashboard)."""

from __future__ import annotations

from typing import Any

from django import template

from transfers.second_admin import WaitingItem, second_admin_waiting_for

register = template.Library()


@register.simple_tag(takes_context=True)
def second_admin_waiting(context: dict[str, Any]) -> list[WaitingItem]:
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return []
    return second_admin_waiting_for(user=user)
