"""Checks of key-set input shared by the forms and the key-set services. Raise ValidationError."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError

from accounts.models import Environment

_CREDENTIAL_RE = re.compile(r"^[\x21-\x7e]{8,256}$")
_BINGX_HOST_SUFFIXES = (".bingx.com", ".bingx.io")


def base_url_for(*, environment: str, base_url: str = "") -> str:
    """The base URL to store: BingX's by default, the sandbox only when chosen. Raises ValidationError."""
    if environment not in Environment.values:
        raise ValidationError("Choose BingX or the sandbox exchange.")
    url = (base_url or "").strip().rstrip("/")
    if not url:
        return (
            settings.BINGX_PRODUCTION_URL if environment == Environment.BINGX else settings.BINGX_SANDBOX_URL
        )
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError("Enter a full URL such as https://open-api.bingx.com.")
    if parts.path or parts.query or parts.fragment or parts.username or parts.password:
        raise ValidationError("Enter only scheme, host and port (no path, query or credentials).")
    host = parts.hostname.lower()
    is_bingx_host = host in ("bingx.com", "bingx.io") or host.endswith(_BINGX_HOST_SUFFIXES)
    if environment == Environment.BINGX:
        if parts.scheme != "https":
            raise ValidationError("A real BingX base URL must use https.")
        if not is_bingx_host:
            raise ValidationError(
                "A real BingX key set must point at a bingx.com host; "
                "choose “Sandbox exchange” for anything else."
            )
    elif is_bingx_host:
        raise ValidationError("This is a real BingX host; a sandbox key set cannot point at it.")
    return url


def credential_clean(*, value: str, what: str) -> str:
    value = (value or "").strip()
    if not value:
        raise ValidationError(f"Enter the {what}.")
    if not _CREDENTIAL_RE.match(value):
        raise ValidationError(f"The {what} must be 8-256 printable characters without spaces.")
    return value


def validation_message(exc: ValidationError) -> str:
    return " ".join(exc.messages)
