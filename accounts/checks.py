"""Deployment checks (`manage.py check --deploy`) for the second factor."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Warning, register


@register(deploy=True)
def passkey_relying_party_check(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Passkeys only work on the host they were registered for: WEBAUTHN_RP_ID must be a host this
    site answers to, or every passkey login and passkey-signed approval fails."""
    rp_id = settings.WEBAUTHN_RP_ID
    hosts = settings.ALLOWED_HOSTS
    served = any(h == "*" or h == rp_id or (h.startswith(".") and rp_id.endswith(h)) for h in hosts)
    if served:
        return []
    return [
        Warning(
            f"WEBAUTHN_RP_ID is {rp_id!r}, which is not one of DJANGO_ALLOWED_HOSTS ({', '.join(hosts)}).",
            hint="Set WEBAUTHN_RP_ID to the desk's host name, e.g. desk.example.com.",
            id="accounts.W001",
        )
    ]
