"""Which servers a key set may send its signed calls to. Checked when a key set is saved
(accounts.services.validation) and again by `client_for` before any call (fail closed).

- A real BingX key set talks to `BINGX_PRODUCTION_URL`; another https bingx.com host only when
  `BINGX_ALLOW_CUSTOM_BASE_URL` is on.
- A sandbox key set talks only to a host on `BINGX_SANDBOX_ALLOWED_HOSTS` (loopback by default), so
  nobody points a key — and the API key header it carries — at a server of their own that answers any
  UID, at a cloud metadata address or at an internal host.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings

from exchange.credentials import CredentialsUnavailable

# accounts.models.Environment's values (the exchange layer does not import accounts).
ENV_BINGX = "bingx"
ENV_SANDBOX = "sandbox"

_BINGX_HOSTS = ("bingx.com", "bingx.io")


class BaseUrlRefused(CredentialsUnavailable):
    """The key set's base URL is not allowed: its credentials are not handed to that server."""


def is_bingx_host(host: str) -> bool:
    host = host.lower()
    return host in _BINGX_HOSTS or host.endswith(tuple(f".{h}" for h in _BINGX_HOSTS))


def sandbox_allowed_hosts() -> list[str]:
    return [h.strip().strip("[]").lower() for h in settings.BINGX_SANDBOX_ALLOWED_HOSTS if h.strip()]


def base_url_refusal(*, environment: str, base_url: str) -> str | None:
    """Why a key set of `environment` must not call `base_url`, or None when it may."""
    parts = urlsplit((base_url or "").strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "Enter a full URL such as https://open-api.bingx.com."
    if parts.username or parts.password or parts.path.strip("/") or parts.query or parts.fragment:
        return "Enter only scheme, host and port (no path, query or credentials)."
    host = parts.hostname.lower()
    if environment == ENV_BINGX:
        if parts.scheme != "https":
            return "A real BingX base URL must use https."
        if not is_bingx_host(host):
            return (
                "A real BingX key set must point at a bingx.com host; "
                "choose “Sandbox exchange” for anything else."
            )
        production = urlsplit(settings.BINGX_PRODUCTION_URL)
        same = host == (production.hostname or "") and (parts.port or 443) == (production.port or 443)
        if not same and not settings.BINGX_ALLOW_CUSTOM_BASE_URL:
            return (
                f"Custom BingX base URLs are turned off (BINGX_ALLOW_CUSTOM_BASE_URL); a real BingX key set "
                f"uses {settings.BINGX_PRODUCTION_URL}. Leave the base URL empty."
            )
        return None
    if environment == ENV_SANDBOX:
        if is_bingx_host(host):
            return "This is a real BingX host; a sandbox key set cannot point at it."
        allowed = sandbox_allowed_hosts()
        if host not in allowed:
            return (
                "A sandbox key set may only point at an allowed sandbox host "
                f"({', '.join(allowed) or 'none'}; setting BINGX_SANDBOX_ALLOWED_HOSTS); "
                f"{host} is not one of them."
            )
        return None
    return "Choose BingX or the sandbox exchange."


def base_url_ensure(*, environment: str, base_url: str) -> None:
    """Raise BaseUrlRefused (nothing sent) when the key set must not call `base_url`."""
    reason = base_url_refusal(environment=environment, base_url=base_url)
    if reason is not None:
        raise BaseUrlRefused(f"This key set's base URL {base_url} is not allowed: {reason}")


__all__ = ["BaseUrlRefused", "base_url_ensure", "base_url_refusal", "is_bingx_host", "sandbox_allowed_hosts"]
