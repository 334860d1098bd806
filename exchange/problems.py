"""BingX failures as messages an operator can act on (no secrets, no stack traces)."""

from __future__ import annotations

from bingx.endpoints import PERM_READ, PERMISSION_NAMES, endpoint_for
from bingx.errors import (
    Ambiguous,
    AuthenticationError,
    BingXError,
    IPNotWhitelisted,
    NotSent,
    PermissionDenied,
    RateLimited,
    TimestampError,
)
from exchange.credentials import CredentialsUnavailable, KeySetLike
from exchange.ratelimit.base import RateLimitUnavailable
from exchange.timeutil import ms_to_datetime


class ExchangeProblem(Exception):
    """A call to BingX failed; the message is for people (no secrets, no stack trace)."""

    def __init__(self, message: str, *, code: int | str | None = None, kind: str = "error") -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.kind = kind


def _permission_needed(path: str | None) -> tuple[int, str]:
    """The permission code the endpoint at `path` needs, and its name (Read when the table is silent)."""
    endpoint = endpoint_for(path or "")
    code = endpoint.permission if endpoint is not None and endpoint.permission is not None else PERM_READ
    return code, PERMISSION_NAMES.get(code, f"permission {code}")


def _when(epoch_ms: int) -> str:
    return ms_to_datetime(epoch_ms).strftime("%Y-%m-%d %H:%M:%S UTC")


def exchange_problem(*, exc: Exception, key_set: KeySetLike) -> ExchangeProblem:
    """Translate a failure talking to BingX into a message an operator can act on."""
    if isinstance(exc, CredentialsUnavailable):
        return ExchangeProblem(str(exc), kind="secret")
    if isinstance(exc, RateLimitUnavailable):
        # The desk's own limiter (shared by every process) said "not now"; nothing was sent.
        return ExchangeProblem(
            "Too many requests to BingX for this account right now (the desk keeps under BingX's "
            f"limits); nothing was sent. Try again in {max(1, round(exc.retry_in))} s.",
            kind="rate_limit",
        )
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
        needed, name = _permission_needed(exc.path)
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
