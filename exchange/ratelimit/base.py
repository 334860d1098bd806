"""What every rate-limiter store provides, and how the limiter says no."""

from __future__ import annotations

from typing import Protocol

STORE_DOWN_RETRY_S = 5.0  # when the store cannot be reached: retry the whole task this much later


class RateLimitUnavailable(Exception):
    """No token now (busy beyond the bound, or the limiter store is down). Nothing was sent."""

    def __init__(self, message: str, *, retry_in: float) -> None:
        super().__init__(message)
        self.retry_in = retry_in


class Store(Protocol):
    def take(self, key: str, limit: int, window_ms: int) -> int:
        """Grant one token (return 0) or return the milliseconds until one may be free."""

    def block(self, key: str, wait_ms: int) -> None:
        """Refuse every token for `key` for the next `wait_ms` milliseconds."""
