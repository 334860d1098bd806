"""System checks: the second factor (deploy only) and the audit chain key (always)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register
from django.core.exceptions import ImproperlyConfigured


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


@register()
def audit_chain_key_check(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Without a valid AUDIT_CHAIN_KEYS entry events are written but never sealed into the chain."""
    from accounts.audit_keys import audit_keys  # reads settings only

    try:
        keys = audit_keys()
    except ImproperlyConfigured as exc:
        return [Error(str(exc), id="accounts.E001")]
    if keys:
        return []
    return [
        Warning(
            "AUDIT_CHAIN_KEYS is empty: audit events are recorded but not sealed into the chain.",
            hint="Set AUDIT_CHAIN_KEYS='<key id>:<base64 of 32 random bytes>' (bin/run generates one).",
            id="accounts.W002",
        )
    ]
