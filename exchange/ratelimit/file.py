"""The embedded store: one small JSON file per key, read-modify-written under an exclusive `fcntl`
lock, which holds across processes on one machine. Used when no RATE_LIMIT_URL is set.

State: `{"hits": {token: stamp}, "reserved": {token: slot}, "blocked_until": ms}`; a stamp is
`grant + hold_ms` while the call is in flight and the answer's time once settled; a reservation is the
slot a caller was scheduled for (base.py `plan_slot`)."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from exchange.ratelimit.base import (
    INFLIGHT_MS,
    RESERVATION_GRACE_MS,
    STORE_DOWN_RETRY_S,
    RateLimitUnavailable,
    plan_slot,
    wait_for,
)

logger = logging.getLogger(__name__)


class FileStore:
    """One small JSON file per key, read-modify-written under an exclusive flock."""

    def __init__(self, directory: Path) -> None:
        self._dir = directory
        self._dir.mkdir(parents=True, exist_ok=True)

    @contextlib.contextmanager
    def _locked(self, key: str) -> Iterator[tuple[int, dict[str, Any]]]:
        name = hashlib.sha256(key.encode()).hexdigest()[:32] + ".json"
        fd = os.open(self._dir / name, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            raw = b""
            while chunk := os.read(fd, 65536):
                raw += chunk
            try:
                state = json.loads(raw) if raw else {}
            except ValueError:
                state = {}  # a torn file from a killed process: start a fresh window
            yield fd, state
        finally:
            os.close(fd)  # closing releases the lock

    @staticmethod
    def _write(fd: int, state: dict[str, Any]) -> None:
        data = json.dumps(state).encode()
        os.lseek(fd, 0, os.SEEK_SET)
        os.ftruncate(fd, 0)
        os.write(fd, data)

    def take(
        self,
        key: str,
        limit: int,
        window_ms: int,
        token: str,
        hold_ms: int = INFLIGHT_MS,
        reservation: str | None = None,
    ) -> int:
        try:
            with self._locked(key) as (fd, state):
                now = int(time.time() * 1000)
                blocked = int(state.get("blocked_until", 0))
                if blocked > now:
                    return blocked - now
                hits = _hits(state, now=now, window_ms=window_ms)
                reserved = _reserved(state, now=now)
                mine = reserved.pop(reservation, None) if reservation else None
                if mine is not None and mine > now:
                    return mine - now  # early for its slot
                wait_ms = wait_for(stamps=list(hits.values()), limit=limit, window_ms=window_ms, now=now)
                live = sorted(hits.values())
                settled_full = len(live) >= limit and live[len(live) - limit] <= now
                if settled_full and mine is not None:
                    # A late holder: the holders booked before it are due too; each window serves
                    # `limit` of them, in booking order (as the Redis store).
                    ahead = sum(1 for slot in reserved.values() if slot < mine)
                    wait_ms += (ahead // limit) * window_ms
                if wait_ms == 0 and mine is None and reserved:
                    # No reservation of its own: queue behind the reservations made before it.
                    wait_ms = (
                        plan_slot(
                            stamps=list(hits.values()),
                            reserved=list(reserved.values()),
                            limit=limit,
                            window_ms=window_ms,
                            hold_ms=hold_ms,
                            now=now,
                        )
                        - now
                    )
                if wait_ms == 0:
                    hits[token] = now + hold_ms
                    state["hits"] = hits
                    state["reserved"] = reserved
                    self._write(fd, state)
                return wait_ms
        except OSError as exc:
            raise RateLimitUnavailable(
                f"rate limiter state file unavailable ({exc}); not calling BingX", retry_in=STORE_DOWN_RETRY_S
            ) from exc

    def reserve(
        self,
        key: str,
        limit: int,
        window_ms: int,
        token: str,
        hold_ms: int = INFLIGHT_MS,
        horizon_ms: int = 0,
    ) -> tuple[int, bool]:
        try:
            with self._locked(key) as (fd, state):
                now = int(time.time() * 1000)
                hits = _hits(state, now=now, window_ms=window_ms)
                reserved = _reserved(state, now=now)
                reserved.pop(token, None)
                slot = plan_slot(
                    stamps=list(hits.values()),
                    reserved=list(reserved.values()),
                    limit=limit,
                    window_ms=window_ms,
                    hold_ms=hold_ms,
                    now=now,
                )
                slot = max(slot, int(state.get("blocked_until", 0)))
                recorded = slot - now <= horizon_ms
                if recorded:
                    reserved[token] = slot
                state["hits"] = hits
                state["reserved"] = reserved
                self._write(fd, state)
                return slot - now, recorded
        except OSError as exc:
            raise RateLimitUnavailable(
                f"rate limiter state file unavailable ({exc}); not calling BingX", retry_in=STORE_DOWN_RETRY_S
            ) from exc

    def cancel(self, key: str, token: str) -> None:
        try:
            with self._locked(key) as (fd, state):
                reserved, hits = state.get("reserved") or {}, state.get("hits") or {}
                if isinstance(hits, dict) and (reserved.pop(token, None), hits.pop(token, None)) != (
                    None,
                    None,
                ):
                    state["reserved"], state["hits"] = reserved, hits
                    self._write(fd, state)
        except OSError as exc:
            logger.warning("could not cancel a BingX rate-limit reservation for %s: %s", key, exc)

    def settle(self, key: str, token: str, window_ms: int) -> None:
        try:
            with self._locked(key) as (fd, state):
                now = int(time.time() * 1000)
                hits = _hits(state, now=now, window_ms=window_ms)
                if token in hits:
                    hits[token] = now
                    state["hits"] = hits
                    self._write(fd, state)
        except OSError as exc:
            logger.warning("could not settle a BingX rate-limit token for %s: %s", key, exc)

    def block(self, key: str, wait_ms: int) -> None:
        try:
            with self._locked(key) as (fd, state):
                until = int(time.time() * 1000) + wait_ms
                if until > int(state.get("blocked_until", 0)):
                    state["blocked_until"] = until
                    self._write(fd, state)
        except OSError as exc:
            logger.warning("could not record a BingX rate-limit block for %s: %s", key, exc)


def _hits(state: dict[str, Any], *, now: int, window_ms: int) -> dict[str, int]:
    """The stamps still inside the window (a list from an older release counts as settled stamps)."""
    raw = state.get("hits") or {}
    if isinstance(raw, list):
        raw = {f"old-{i}": stamp for i, stamp in enumerate(raw)}
    return {token: int(stamp) for token, stamp in raw.items() if int(stamp) > now - window_ms}


def _reserved(state: dict[str, Any], *, now: int) -> dict[str, int]:
    """Reservations not used yet and not abandoned (unused past their slot by the grace)."""
    raw = state.get("reserved") or {}
    return {token: int(slot) for token, slot in raw.items() if int(slot) > now - RESERVATION_GRACE_MS}
