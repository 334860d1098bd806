"""Is the exchange answering? A cheap flag, from what the clients saw on their recent calls.

Every signed call reports its outcome through the client's `on_response` hook (exchange.clients):
no HTTP answer (connection refused, timeout) or a 5xx counts as a failure, any other answer as a
success. Failures in a row are counted per base URL in Django's cache (Redis in production, so
every process sees what the others saw); one answer clears them. A base URL counts as unreachable
after settings.EXCHANGE_DOWN_AFTER_FAILURES failures in a row, the last one less than
settings.EXCHANGE_DOWN_FOR_SECONDS ago. Pages read it with one cache get (the banner in base.html).
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache

KEY = "bx:exchange:health"  # {base_url: {"failures": n, "since": epoch s, "last": epoch s}}
TTL_S = 24 * 3600


@dataclass(frozen=True)
class Unreachable:
    base_url: str
    failures: int
    since: dt.datetime
    last: dt.datetime

    @property
    def is_sandbox(self) -> bool:
        return self.base_url.rstrip("/") != settings.BINGX_PRODUCTION_URL.rstrip("/")

    @property
    def seconds(self) -> int:
        return max(0, int(time.time() - self.since.timestamp()))


def _state() -> dict[str, dict[str, Any]]:
    value = cache.get(KEY)
    return value if isinstance(value, dict) else {}


def exchange_call_record(*, base_url: str, answered: bool) -> None:
    """One call's outcome. A success writes only when it clears earlier failures (one cache get)."""
    state = _state()
    if answered:
        if base_url in state:
            state.pop(base_url, None)
            cache.set(KEY, state, TTL_S)
        return
    now = time.time()
    entry = state.get(base_url) or {"failures": 0, "since": now}
    entry["failures"] = int(entry.get("failures", 0)) + 1
    entry["last"] = now
    state[base_url] = entry
    cache.set(KEY, state, TTL_S)


def exchange_unreachable() -> list[Unreachable]:
    """The base URLs that did not answer lately (empty when all is well)."""
    now = time.time()
    down = []
    for base_url, entry in _state().items():
        failures = int(entry.get("failures", 0))
        last = float(entry.get("last", 0))
        if (
            failures >= settings.EXCHANGE_DOWN_AFTER_FAILURES
            and now - last <= settings.EXCHANGE_DOWN_FOR_SECONDS
        ):
            down.append(
                Unreachable(
                    base_url=base_url,
                    failures=failures,
                    since=dt.datetime.fromtimestamp(float(entry.get("since", last)), tz=dt.UTC),
                    last=dt.datetime.fromtimestamp(last, tz=dt.UTC),
                )
            )
    return sorted(down, key=lambda u: u.base_url)


def exchange_answered(info_http_status: int | None) -> bool:
    """Whether a call's HTTP status means the exchange answered (no status or a 5xx: it did not)."""
    return info_http_status is not None and info_http_status < 500


__all__ = ["Unreachable", "exchange_answered", "exchange_call_record", "exchange_unreachable"]
