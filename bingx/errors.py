"""Exceptions raised by :class:`bingx.Client`, in three families that drive everything downstream.

``BingXError`` (base; attributes ``code``, ``message``, ``http_status``, ``path``)

* :class:`Rejected` — the exchange answered and refused; **nothing moved**. Subclasses:

  - :class:`AuthenticationError` — 100001 bad signature, 100412 null signature, 100413 bad key, HTTP 401
  - :class:`TimestampError` — 100421 (and 80014 when the message is about the timestamp)
  - :class:`PermissionDenied` — 100004
  - :class:`IPNotWhitelisted` — 100419
  - :class:`InvalidParameters` — 100400, 80014, 100437, ``transferErrorMsg: "illegal transferType"``
  - :class:`InsufficientBalance` — 100202, ``transferErrorMsg: "Insufficient assets"``
  - :class:`RateLimited` — 100410, HTTP 429/418; ``retry_after_ms`` is the epoch-ms time BingX names
    ("will be unblocked after <ms>", "can retry after time: <ms>"), ``retry_in_ms`` the wait from now
    (estimated with the client's server-time offset, or from a ``Retry-After`` header)

  Any other non-zero code is a plain :class:`Rejected`.

* :class:`Ambiguous` — the request was (or may have been) sent and the outcome is unknown: read timeout,
  connection dropped while waiting for the answer, HTTP 5xx (incl. 500 and 504), an unparseable or
  unexpected body, BingX 100500 "Internal system error" / 80012 "Service unavailable". A transfer that
  ends ``Ambiguous`` must be reconciled against the exchange's records before anything is re-sent.

* :class:`NotSent` — transport failure before any byte of the request left: connect timeout,
  connection refused, DNS failure, the exchange's TLS certificate refused, invalid URL. Any other TLS
  failure is ``Ambiguous``: urllib3 reports one met while reading the answer the same way as one in
  the handshake.

Messages never contain the request URL, the signature, the secret or the full API key.
"""

from __future__ import annotations

import re

__all__ = [
    "Ambiguous",
    "AuthenticationError",
    "BingXError",
    "IPNotWhitelisted",
    "InsufficientBalance",
    "InvalidParameters",
    "NotSent",
    "PermissionDenied",
    "RateLimited",
    "Rejected",
    "TimestampError",
    "error_for_code",
    "error_for_http_status",
    "error_for_transfer_message",
]


class BingXError(Exception):
    """Base class. ``code`` is BingX's numeric code when there was one (``None`` for transport errors)."""

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        http_status: int | None = None,
        path: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.http_status = http_status
        self.path = path

    def __str__(self) -> str:
        parts = []
        if self.code is not None:
            parts.append(f"code={self.code}")
        if self.http_status is not None:
            parts.append(f"http={self.http_status}")
        if self.path:
            parts.append(f"path={self.path}")
        suffix = f" ({', '.join(parts)})" if parts else ""
        return f"{self.message}{suffix}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(message={self.message!r}, code={self.code!r}, "
            f"http_status={self.http_status!r}, path={self.path!r})"
        )


class Rejected(BingXError):
    """The exchange refused the request; nothing moved."""


class AuthenticationError(Rejected):
    """Bad/unknown API key or signature (100001, 100412, 100413, HTTP 401)."""


class TimestampError(Rejected):
    """Timestamp missing or outside ``recvWindow`` (100421). Resync server time and retry."""


class PermissionDenied(Rejected):
    """The API key lacks the permission this endpoint needs (100004)."""


class IPNotWhitelisted(Rejected):
    """The caller's IP is not on the API key's whitelist (100419)."""


class InvalidParameters(Rejected):
    """Missing/invalid parameters (100400, 80014, 100437, "illegal transferType")."""


class InsufficientBalance(Rejected):
    """Not enough free balance (100202, "Insufficient assets"). Back off: 20 of these lock the endpoint."""


class RateLimited(Rejected):
    """Rate limited (100410, HTTP 429/418).

    ``retry_after_ms``: the epoch-millisecond time (exchange clock) BingX names in the message, if any.
    ``retry_in_ms``: milliseconds to wait from now, when it could be estimated.
    """

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        http_status: int | None = None,
        path: str | None = None,
        retry_after_ms: int | None = None,
        retry_in_ms: int | None = None,
    ) -> None:
        super().__init__(message, code=code, http_status=http_status, path=path)
        self.retry_after_ms = retry_after_ms
        self.retry_in_ms = retry_in_ms


class Ambiguous(BingXError):
    """The request may have reached the exchange; outcome unknown. Reconcile, never re-send blindly."""


class NotSent(BingXError):
    """Nothing was sent (connect timeout, connection refused, DNS, TLS certificate refused). Safe to retry."""


_RETRY_RE = re.compile(r"(?:unblocked after|retry after time:?)\s*(\d{10,})", re.IGNORECASE)

AUTH_CODES = frozenset({100001, 100412, 100413, 100401})
TIMESTAMP_CODES = frozenset({100421})
PERMISSION_CODES = frozenset({100004})
IP_CODES = frozenset({100419})
INVALID_CODES = frozenset({100400, 80014, 100437, 109400, 100204, 80001})
INSUFFICIENT_CODES = frozenset({100202, 101204})
RATE_LIMIT_CODES = frozenset({100410, 109429})
# "Internal system error" / "system busy" / "service unavailable": the exchange may have processed it.
AMBIGUOUS_CODES = frozenset({100500, 80012})

MSG_INSUFFICIENT = "insufficient assets"
MSG_ILLEGAL_TYPE = "illegal transfertype"


def parse_retry_after_ms(message: str) -> int | None:
    """The epoch-ms time in "... will be unblocked after <ms>" / "... can retry after time: <ms>"."""
    match = _RETRY_RE.search(message or "")
    return int(match.group(1)) if match else None


def error_for_code(
    code: int | None, message: str, *, http_status: int | None = None, path: str | None = None
) -> BingXError:
    """Map a non-zero BingX ``code`` (and its ``msg``) to the right exception instance."""
    msg = message or ""
    low = msg.lower()
    if code in RATE_LIMIT_CODES:
        return RateLimited(
            msg or "rate limited",
            code=code,
            http_status=http_status,
            path=path,
            retry_after_ms=parse_retry_after_ms(msg),
        )
    cls: type[BingXError]
    if code in AUTH_CODES:
        cls, default = AuthenticationError, "authentication failed"
    elif code in TIMESTAMP_CODES or (code == 80014 and "timestamp" in low):
        cls, default = TimestampError, "timestamp mismatch"
    elif code in PERMISSION_CODES:
        cls, default = PermissionDenied, "permission denied"
    elif code in IP_CODES:
        cls, default = IPNotWhitelisted, "IP not whitelisted"
    elif code in INSUFFICIENT_CODES or MSG_INSUFFICIENT in low:
        cls, default = InsufficientBalance, "insufficient balance"
    elif code in INVALID_CODES or MSG_ILLEGAL_TYPE in low:
        cls, default = InvalidParameters, "invalid parameters"
    elif code in AMBIGUOUS_CODES:
        cls, default = Ambiguous, "exchange internal error, outcome unknown"
    else:
        cls, default = Rejected, "rejected by the exchange"
    return cls(msg or default, code=code, http_status=http_status, path=path)


def error_for_transfer_message(
    message: str, *, code: int | None = None, http_status: int | None = None, path: str | None = None
) -> Rejected:
    """``transferErrorMsg`` with ``code: 0`` is still a refusal (spec §6.4, P8)."""
    low = (message or "").lower()
    cls: type[Rejected] = Rejected
    if MSG_INSUFFICIENT in low:
        cls = InsufficientBalance
    elif MSG_ILLEGAL_TYPE in low:
        cls = InvalidParameters
    return cls(message or "transfer rejected", code=code, http_status=http_status, path=path)


def error_for_http_status(
    status: int, *, path: str | None = None, retry_in_ms: int | None = None
) -> BingXError | None:
    """Classification by HTTP status alone (when the body carries no BingX code); None for 2xx."""
    if 200 <= status < 300:
        return None
    if status >= 500:
        return Ambiguous(f"HTTP {status} from the exchange, outcome unknown", http_status=status, path=path)
    if status == 401:
        return AuthenticationError("HTTP 401: invalid API key", http_status=status, path=path)
    if status in (429, 418):
        return RateLimited(
            f"HTTP {status}: rate limited" + (" (IP banned)" if status == 418 else ""),
            http_status=status,
            path=path,
            retry_in_ms=retry_in_ms,
        )
    if status == 403:
        return Rejected("HTTP 403: forbidden (firewall / ban)", http_status=status, path=path)
    if status == 400:
        return InvalidParameters("HTTP 400: bad request", http_status=status, path=path)
    if 300 <= status < 400:
        # Redirects are not followed (a POST must not be replayed elsewhere); nothing was processed here.
        return Rejected(f"HTTP {status}: unexpected redirect", http_status=status, path=path)
    return Rejected(f"HTTP {status}", http_status=status, path=path)
