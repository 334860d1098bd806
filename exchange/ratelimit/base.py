"""What every rate-limiter store provides, and how the limiter says no.

A token is taken in two steps, because BingX counts a call when it *arrives*, not when we decided to
send it: `take` grants a token that counts as in flight (it holds its slot however long the call
takes), and `settle` re-stamps it with the time the answer came back — a time the call had surely
arrived by. The next token is granted only a full window after that, so N+1 arrivals never fall
inside one of BingX's windows however late the earlier calls reached it.
"""

from __future__ import annotations

from typing import Protocol

STORE_DOWN_RETRY_S = 5.0  # when the store cannot be reached: retry the whole task this much later
# How long an unsettled token holds its slot at most (a worker killed mid-call never settles). Clients
# pass their own bound, connect + read timeout + 1 s (`hold_ms_for_timeouts`): no answer can come
# later than that, so a slow call's slot is never handed out early and a dead worker's not for long.
INFLIGHT_MS = 30_000
# While only in-flight tokens stand in the way, callers look again this often (they settle any moment).
INFLIGHT_POLL_MS = 20


class RateLimitUnavailable(Exception):
    """No token now (busy beyond the bound, or the limiter store is down). Nothing was sent."""

    def __init__(self, message: str, *, retry_in: float) -> None:
        super().__init__(message)
        self.retry_in = retry_in


class Store(Protocol):
    def take(
        self,
        key: str,
        limit: int,
        window_ms: int,
        token: str,
        hold_ms: int = INFLIGHT_MS,
        reservation: str | None = None,
    ) -> int:
        """Grant `token` (return 0; in flight for up to `hold_ms`) or return the ms until one may be free.

        `reservation`: a slot booked with `reserve`; while still booked, the grant comes at its slot
        and uses it up."""

    def settle(self, key: str, token: str, window_ms: int) -> None:
        """The call behind `token` has been answered (or failed): count it from now."""

    def block(self, key: str, wait_ms: int) -> None:
        """Refuse every token for `key` for the next `wait_ms` milliseconds."""

    def reserve(
        self,
        key: str,
        limit: int,
        window_ms: int,
        token: str,
        hold_ms: int = INFLIGHT_MS,
        horizon_ms: int = 0,
    ) -> tuple[int, bool]:
        """Reserve the next free slot for `token`: (ms from now until the slot, recorded). A slot
        further than `horizon_ms` away is answered but not recorded. `take(key, …, token)` at or after
        the slot turns the reservation into a token."""

    def cancel(self, key: str, token: str) -> None:
        """Drop an unused reservation, or a granted token nothing was sent with."""


def hold_ms_for_timeouts(*, connect_s: float, read_s: float) -> int:
    """The longest a call can be in flight: its connect and read timeouts, plus a second of slack."""
    return int((connect_s + read_s) * 1000) + 1000


def wait_for(*, stamps: list[int], limit: int, window_ms: int, now: int) -> int:
    """Milliseconds until fewer than `limit` of `stamps` lie within the window ending at a future now.

    `stamps` are settled times (≤ now) and in-flight holds (> now: `grant + hold_ms`). When an
    in-flight hold is the one in the way, answer a short poll instead of its far-off expiry.
    """
    live = sorted(s for s in stamps if s > now - window_ms)
    if len(live) < limit:
        return 0
    blocking = live[len(live) - limit]
    if blocking > now:
        return INFLIGHT_POLL_MS
    return max(1, blocking + window_ms - now)


# -- reservations (issue 12: no worker waits for a token) ---------------------------------------
# A caller that can come back later (an execution task: Celery countdown) does not wait for a token:
# it *reserves* the next free slot and is scheduled for it. A reservation is a future-dated entry, so
# later reservers get later slots; its holder turns it into a token when it runs (`take` with the
# reservation's id), after the same check on the calls actually made as any other token. Planning
# counts calls still in flight as answered `EXPECTED_LATENCY_MS` after their grant (or in a moment,
# when late), and reservations as in flight from their slot for as long; a holder that finds its
# slot still taken (a slower answer than expected) waits a few ms or hands the request back.
EXPECTED_LATENCY_MS = 40
# Reservations left unused this long after their slot are dropped (the holder died, or runs so late
# that it is taken like any new caller).
RESERVATION_GRACE_MS = 10_000


def plan_slot(
    *,
    stamps: list[int],
    reserved: list[int],
    limit: int,
    window_ms: int,
    hold_ms: int,
    now: int,
    latency_ms: int = EXPECTED_LATENCY_MS,
) -> int:
    """The earliest time (≥ now) at which one more call leaves fewer than `limit` calls counting.

    `stamps`: settled answer times (≤ now) and in-flight holds (`grant + hold_ms`, > now);
    `reserved`: the slots of reservations not used yet. Every entry is turned into the time it stops
    counting; a new call may start once fewer than `limit` of those lie ahead. Counting a future
    reservation as already counting is conservative, so a slot granted before an earlier-made
    reservation never pushes that one's window over the limit."""
    frees: list[int] = []
    for stamp in stamps:
        if stamp <= now:
            frees.append(stamp + window_ms)
        else:
            frees.append(max(stamp - hold_ms + latency_ms, now + INFLIGHT_POLL_MS) + window_ms)
    frees.extend(max(slot, now) + latency_ms + window_ms for slot in reserved)
    frees = [f for f in frees if f > now]
    if len(frees) < limit:
        return now
    frees.sort()
    return max(now, frees[len(frees) - limit])
