"""Checks of key-set input shared by the forms and the key-set services. Raise ValidationError."""

from __future__ import annotations

import re

from django.conf import settings
from django.core.exceptions import ValidationError

from accounts.models import Environment
from exchange.base_urls import base_url_refusal

_CREDENTIAL_RE = re.compile(r"^[\x21-\x7e]{8,256}$")


def base_url_for(*, environment: str, base_url: str = "") -> str:
    """The base URL to store: the environment's default when empty, else the one entered if the
    base URL policy (exchange.base_urls) allows it. Raises ValidationError."""
    if environment not in Environment.values:
        raise ValidationError("Choose BingX or the sandbox exchange.")
    url = (base_url or "").strip().rstrip("/")
    if not url:
        bingx = environment == Environment.BINGX
        url = settings.BINGX_PRODUCTION_URL if bingx else settings.BINGX_SANDBOX_URL
    reason = base_url_refusal(environment=environment, base_url=url)
    if reason is not None:
        raise ValidationError(reason)
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
