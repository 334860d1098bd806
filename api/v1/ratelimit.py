"""Per-token rate limit on the project's cache (Redis in production): a fixed window per token."""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from ninja.throttling import BaseThrottle

from api.models import ApiToken


class TokenThrottle(BaseThrottle):
    def __init__(self) -> None:
        self._wait: float | None = None

    def allow_request(self, request: HttpRequest) -> bool:
        token = getattr(request, "auth", None)
        if not isinstance(token, ApiToken):
            return True
        limit = int(settings.API_RATE_LIMIT_PER_MINUTE)
        window = 60
        now = time.time()
        start = int(now // window) * window
        key = f"api:rl:{token.prefix}:{start}"  # the prefix is random and unique
        cache.add(key, 0, timeout=window + 5)
        try:
            used = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.add(key, 1, timeout=window + 5)
            used = 1
        if used > limit:
            self._wait = max(1.0, start + window - now)
            return False
        return True

    def wait(self) -> float | None:
        return self._wait
