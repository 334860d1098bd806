"""The one place a key set becomes a signed BingX client, and BingX errors become human messages."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

from django.conf import settings

from accounts.crypto import PURPOSE_API_KEY, PURPOSE_SECRET, SecretUnavailable, secret_decrypt
from accounts.models import ApiKeySet
from bingx import CallInfo, Client
from bingx.errors import (
    RATE_LIMIT_CODES,
    Ambiguous,
    AuthenticationError,
    BingXError,
    IPNotWhitelisted,
    NotSent,
    PermissionDenied,
    RateLimited,
    TimestampError,
    parse_retry_after_ms,
)
from transfers import ratelimit


class ExchangeProblem(Exception):
    """A read from BingX failed; the message is for people (no secrets, no stack trace)."""

    def __init__(self, message: str, *, code: int | str | None = None, kind: str = "error") -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.kind = kind


def before_request_hook(*, key_set: ApiKeySet) -> Callable[[str, str], None]:
    """A `before_request=` callable taking a token from the shared rate limiter (transfers.ratelimit)
    per (BingX UID, endpoint), so every process on every machine stays under BingX's limits."""
    return ratelimit.before_request(scope=ratelimit.scope_for(uid=key_set.uid, key_set_id=key_set.pk))


def on_response_hook(*, key_set: ApiKeySet, client: Client) -> Callable[[CallInfo], None]:
    """An `on_response=` callable: a 100410 answer blocks that endpoint for every process until the
    time BingX names (read on the exchange clock, hence the client's server-time offset)."""
    scope = ratelimit.scope_for(uid=key_set.uid, key_set_id=key_set.pk)

    def hook(info: CallInfo) -> None:
        if info.code in RATE_LIMIT_CODES or info.http_status in (418, 429):
            named = parse_retry_after_ms(info.msg)
            retry_in = None if named is None else named - (int(time.time() * 1000) + client.time_offset_ms)
            ratelimit.block(scope=scope, path=info.path, retry_in_ms=retry_in)

    return hook


def client_for(*, key_set: ApiKeySet) -> Client:
    """A client signing with this key set's decrypted credentials. Fails closed with SecretUnavailable."""
    api_key = secret_decrypt(
        token=key_set.api_key_encrypted, key_set_uuid=key_set.uuid, purpose=PURPOSE_API_KEY
    )
    secret = secret_decrypt(token=key_set.secret_encrypted, key_set_uuid=key_set.uuid, purpose=PURPOSE_SECRET)
    client = Client(
        api_key,
        secret,
        base_url=key_set.base_url,
        timeout=(settings.BINGX_TIMEOUT_CONNECT, settings.BINGX_TIMEOUT_READ),
        before_request=before_request_hook(key_set=key_set),
    )
    client.on_response = on_response_hook(key_set=key_set, client=client)
    return client


# Reads that need more than permission 2 (Read) on BingX.
_PATH_PERMISSION = {
    "/openApi/fund/v1/account/balance": (4, "Universal transfer"),
    "/openApi/api/v3/asset/transferRecord": (4, "Universal transfer"),
}


def _when(epoch_ms: int) -> str:
    moment = dt.datetime.fromtimestamp(epoch_ms / 1000, tz=dt.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def exchange_problem(*, exc: Exception, key_set: ApiKeySet) -> ExchangeProblem:
    """Translate a failure talking to BingX into a message an operator can act on."""
    if isinstance(exc, SecretUnavailable):
        return ExchangeProblem(str(exc), kind="secret")
    if not isinstance(exc, BingXError):
        return ExchangeProblem(f"Unexpected failure talking to BingX ({type(exc).__name__}).", kind="error")
    code = exc.code if exc.code is not None else exc.http_status
    ref = f" (BingX code {exc.code})" if exc.code is not None else ""
    if isinstance(exc, AuthenticationError):
        return ExchangeProblem(
            "Wrong API key or secret: BingX rejected the credentials"
            f"{ref}. Check that both were copied completely and that the key still exists on BingX.",
            code=code,
            kind="auth",
        )
    if isinstance(exc, IPNotWhitelisted):
        return ExchangeProblem(
            f"IP not whitelisted: BingX refused this server's IP address for this key{ref}. "
            "Add the server's public IP address to the key's whitelist in BingX API management.",
            code=code,
            kind="ip",
        )
    if isinstance(exc, TimestampError):
        return ExchangeProblem(
            f"Clock skew: BingX rejected the request time{ref}. This server's clock differs from "
            "BingX's by more than the allowed window; check the server's time synchronisation (NTP).",
            code=code,
            kind="clock",
        )
    if isinstance(exc, RateLimited):
        if exc.retry_after_ms:
            when = f"try again after {_when(exc.retry_after_ms)}"
        elif exc.retry_in_ms:
            when = f"try again in {max(1, round(exc.retry_in_ms / 1000))} seconds"
        else:
            when = "try again in a few minutes"
        return ExchangeProblem(f"Rate limited by BingX{ref}: {when}.", code=code, kind="rate_limit")
    if isinstance(exc, PermissionDenied):
        needed, name = _PATH_PERMISSION.get(exc.path or "", (2, "Read"))
        return ExchangeProblem(
            f"Permission missing: the key lacks permission {needed} ({name}), which this call needs{ref}. "
            "Edit the key's permissions on BingX, or use a key that has it.",
            code=code,
            kind="permission",
        )
    if isinstance(exc, NotSent):
        return ExchangeProblem(
            f"Could not reach BingX at {key_set.base_url}: the connection failed before anything was sent. "
            "Try again later.",
            code=code,
            kind="unreachable",
        )
    if isinstance(exc, Ambiguous):
        return ExchangeProblem(
            f"BingX at {key_set.base_url} did not answer properly (timeout or server error){ref}. "
            "Try again later.",
            code=code,
            kind="unreachable",
        )
    return ExchangeProblem(f"BingX refused the call{ref}: {exc.message}", code=code, kind="rejected")
