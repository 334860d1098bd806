"""`{% load second_factor %}{{ stepup|stepup_json }}`: step-up options as JSON for a data attribute."""

from __future__ import annotations

import json
from typing import Any

from django import template

register = template.Library()


@register.filter
def stepup_json(options: dict[str, Any] | None) -> str:
    """Autoescaped by the template into the attribute; static/js/stepup.js parses it back."""
    return json.dumps(options or {}, separators=(",", ":"))


@register.filter
def has_passkeys(options: dict[str, Any] | None) -> bool:
    return bool((options or {}).get("allowCredentials"))
