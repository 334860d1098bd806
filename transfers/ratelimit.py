"""Moved to exchange.ratelimit."""

# shim: removed when transfers/ is restructured

from exchange.ratelimit import (
    DEFAULT_BLOCK_MS,
    DEFAULT_LIMIT,
    MAX_BLOCK_MS,
    MAX_WAIT_S,
    SAFETY_MS,
    WINDOW_MS,
    Acquired,
    RateLimitUnavailable,
    acquire,
    before_request,
    block,
    limit_for,
    scope_for,
    store,
)

__all__ = [
    "DEFAULT_BLOCK_MS",
    "DEFAULT_LIMIT",
    "MAX_BLOCK_MS",
    "MAX_WAIT_S",
    "SAFETY_MS",
    "WINDOW_MS",
    "Acquired",
    "RateLimitUnavailable",
    "acquire",
    "before_request",
    "block",
    "limit_for",
    "scope_for",
    "store",
]
