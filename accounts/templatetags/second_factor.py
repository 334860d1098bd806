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


@register.simple_tag(takes_context=True)
def stepup_options(context: Any, purpose: str, subject: str, object_id: int, decision: str) -> dict[str, Any]:
    """`{% stepup_options "policy.approve" "policy-change" c.pk "approve" as opts %}`: the passkey
    challenge derived from that decision (accounts.stepup.stepup_binding), for the signed-in person."""
    from accounts.models import User
    from accounts.stepup import stepup_binding, stepup_challenge

    user = context["request"].user
    if not isinstance(user, User):
        return {}
    binding = stepup_binding(subject=subject, object_id=int(object_id), decision=decision)
    return stepup_challenge(user=user, purpose=purpose, binding=binding)
