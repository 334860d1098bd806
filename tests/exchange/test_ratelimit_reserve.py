"""Reservations (issue 12, "no worker waits for a token"): `reserve` books the next free slot per
(scope, endpoint) without waiting, later reservers get later slots, the holder's token comes at its
slot, and the window still holds — on both stores (file and Redis)."""

import time
import uuid

import pytest

from exchange import ratelimit
from exchange.ratelimit import RateLimitUnavailable, acquire, reserve
from exchange.ratelimit.base import EXPECTED_LATENCY_MS, plan_slot

INNER_APPLY = "/openApi/wallets/v1/capital/innerTransfer/apply"  # 2/s per UID
WINDOW = ratelimit.WINDOW_MS + ratelimit.SAFETY_MS


@pytest.fixture(params=["file", "redis"])
def any_limiter(request, settings, tmp_path):
    settings.BINGX_RATE_LIMIT_SCALE = 1.0
    settings.VAR_DIR = tmp_path
    settings.RATE_LIMIT_URL = request.getfixturevalue("redis_url") if request.param == "redis" else ""
    return request.param


def _scope() -> str:
    return f"test-{uuid.uuid4().hex}"


def test_plan_slot_counts_settled_in_flight_and_reserved_entries():
    now = 10_000
    # Fewer than the limit counting: now.
    assert plan_slot(stamps=[now - 100], reserved=[], limit=2, window_ms=WINDOW, hold_ms=5000, now=now) == now
    # Two settled calls: the older one's window end.
    assert (
        plan_slot(
            stamps=[now - 300, now - 100], reserved=[], limit=2, window_ms=WINDOW, hold_ms=5000, now=now
        )
        == now - 300 + WINDOW
    )
    # A call in flight (granted 10 ms ago) is expected back after the planned latency.
    in_flight = now - 10 + 5000
    slot = plan_slot(
        stamps=[in_flight, now - 50], reserved=[], limit=2, window_ms=WINDOW, hold_ms=5000, now=now
    )
    assert slot == now - 50 + WINDOW
    # Reservations count from their slot: the third of a 2/s queue waits for the first's window.
    assert (
        plan_slot(stamps=[], reserved=[now, now + 0], limit=2, window_ms=WINDOW, hold_ms=5000, now=now)
        == now + EXPECTED_LATENCY_MS + WINDOW
    )


def test_reservations_book_later_slots_for_later_reservers(any_limiter):
    scope = _scope()
    delays = [reserve(scope=scope, path=INNER_APPLY).delay_s for _ in range(6)]
    # 2 per window: pairs of slots, each pair a window (plus the planned latency) after the last.
    assert delays[0] == pytest.approx(0, abs=0.02)
    assert delays[1] == pytest.approx(0, abs=0.02)
    step = (WINDOW + EXPECTED_LATENCY_MS) / 1000
    for n in (2, 3):
        assert delays[n] == pytest.approx(step, abs=0.05)
    for n in (4, 5):
        assert delays[n] == pytest.approx(2 * step, abs=0.08)


def test_reserve_never_waits(any_limiter):
    scope = _scope()
    started = time.monotonic()
    for _ in range(40):
        reserve(scope=scope, path=INNER_APPLY)
    assert time.monotonic() - started < 1.0  # 40 reservations on a 2/s endpoint: 20 s of slots


def test_the_holder_gets_its_token_at_its_slot_and_not_before(any_limiter):
    scope = _scope()
    for _ in range(2):
        acquire(scope=scope, path=INNER_APPLY)  # two calls made now (in flight, then answered)
    booked = reserve(scope=scope, path=INNER_APPLY)
    assert booked.token
    assert booked.delay_s > 0.5
    with pytest.raises(RateLimitUnavailable):  # early: not yet
        acquire(scope=scope, path=INNER_APPLY, reservation=booked.token, max_wait=0.1)


def test_the_holder_uses_its_slot_and_a_newcomer_queues_behind_it(any_limiter):
    scope = _scope()
    first = [acquire(scope=scope, path=INNER_APPLY) for _ in range(2)]
    for token in first:
        ratelimit.settle(scope=scope, path=INNER_APPLY, token=token.token)
    booked = reserve(scope=scope, path=INNER_APPLY)
    assert booked.token is not None
    time.sleep(booked.delay_s)
    started = time.monotonic()
    got = acquire(scope=scope, path=INNER_APPLY, reservation=booked.token, max_wait=0.4)
    assert got.token is not None
    assert got.token != booked.token  # a grant is an entry of its own, never the reservation's id
    assert time.monotonic() - started < 0.3
    # The slot is a token now: the window holds for everybody else.
    ratelimit.settle(scope=scope, path=INNER_APPLY, token=got.token)
    second = reserve(scope=scope, path=INNER_APPLY)
    assert second.delay_s < 0.1  # one of two slots was free (the first pair's window passed)
    third = reserve(scope=scope, path=INNER_APPLY)
    assert third.delay_s > 0.8  # ... and the next one waits for the holder's window


def test_a_plain_take_queues_behind_reservations(any_limiter):
    scope = _scope()
    for _ in range(2):
        reserve(scope=scope, path=INNER_APPLY)  # the two slots of now are booked
    with pytest.raises(RateLimitUnavailable):
        acquire(scope=scope, path=INNER_APPLY, max_wait=0.2)


def test_a_cancelled_reservation_frees_its_slot(any_limiter):
    scope = _scope()
    a, b = reserve(scope=scope, path=INNER_APPLY), reserve(scope=scope, path=INNER_APPLY)
    assert reserve(scope=scope, path=INNER_APPLY).delay_s > 0.8
    ratelimit.cancel(scope=scope, path=INNER_APPLY, token=a.token)
    ratelimit.cancel(scope=scope, path=INNER_APPLY, token=b.token)
    acquire(scope=scope, path=INNER_APPLY, max_wait=0.3)  # only the third reservation is left


def test_a_block_pushes_reservations_to_its_end_and_far_ones_are_not_booked(any_limiter):
    scope = _scope()
    ratelimit.block(scope=scope, path=INNER_APPLY, retry_in_ms=3000)
    near = reserve(scope=scope, path=INNER_APPLY)
    assert near.token is not None
    assert near.delay_s == pytest.approx(3.0, abs=0.1)
    ratelimit.block(scope=scope, path=INNER_APPLY, retry_in_ms=300_000)
    far = reserve(scope=scope, path=INNER_APPLY)
    assert far.token is None
    assert far.delay_s > ratelimit.MAX_RESERVE_S


def test_the_window_holds_when_reservations_are_used_late_or_calls_answer_slowly(any_limiter):
    # The holder's token is granted against the calls actually made: a call answered slower than
    # planned keeps the next holder out until its window passed.
    scope = _scope()
    slow = [acquire(scope=scope, path=INNER_APPLY) for _ in range(2)]  # in flight, not answered
    booked = reserve(scope=scope, path=INNER_APPLY)
    time.sleep(booked.delay_s + 0.05)
    with pytest.raises(RateLimitUnavailable):
        acquire(scope=scope, path=INNER_APPLY, reservation=booked.token, max_wait=0.2)
    for token in slow:
        ratelimit.settle(scope=scope, path=INNER_APPLY, token=token.token)
    started = time.monotonic()
    acquire(scope=scope, path=INNER_APPLY, reservation=booked.token, max_wait=3)
    assert time.monotonic() - started >= WINDOW / 1000 - 0.03


def test_unlimited_endpoints_book_nothing(any_limiter):
    assert reserve(scope=_scope(), path="/openApi/swap/v2/server/time") == ratelimit.Reservation(
        token=None, delay_s=0.0
    )


def test_the_pacer_sends_on_a_token_taken_before_and_settles_it(any_limiter):
    scope = _scope()
    booked = reserve(scope=scope, path=INNER_APPLY)
    taken = acquire(scope=scope, path=INNER_APPLY, reservation=booked.token, max_wait=0.4)
    pacer = ratelimit.Pacer(scope=scope, max_wait=0.1)
    pacer.use_token(path=INNER_APPLY, token=taken.token or "")
    pacer.before_request("POST", INNER_APPLY)  # no second token: one of two is still free
    assert pacer._pending.call == (INNER_APPLY, taken.token)
    acquire(scope=scope, path=INNER_APPLY, max_wait=0.1)


def test_a_token_nothing_was_sent_with_is_given_back(any_limiter):
    scope = _scope()
    taken = [acquire(scope=scope, path=INNER_APPLY) for _ in range(2)]
    ratelimit.cancel(scope=scope, path=INNER_APPLY, token=taken[0].token)  # a duplicate delivery
    acquire(scope=scope, path=INNER_APPLY, max_wait=0.1)


def test_a_second_delivery_holding_the_same_reservation_cannot_undo_the_first_call(any_limiter):
    # A redelivered message carries the reservation already used: its token is its own, and giving
    # it back (nothing to claim) leaves the first call counted.
    scope = _scope()
    booked = reserve(scope=scope, path=INNER_APPLY)
    first = acquire(scope=scope, path=INNER_APPLY, reservation=booked.token, max_wait=0.4)
    second = acquire(scope=scope, path=INNER_APPLY, reservation=booked.token, max_wait=0.4)
    assert first.token != second.token
    ratelimit.cancel(scope=scope, path=INNER_APPLY, token=second.token)
    ratelimit.cancel(scope=scope, path=INNER_APPLY, token=booked.token)
    acquire(scope=scope, path=INNER_APPLY, max_wait=0.1)  # the second of two places
    with pytest.raises(RateLimitUnavailable):  # the first call still counts
        acquire(scope=scope, path=INNER_APPLY, max_wait=0.1)


def test_late_holders_are_each_named_their_own_window_in_booking_order(any_limiter):
    """When the workers run behind, every holder of a UID's slots is due at once; the window serves
    `limit` of them, and each of the others is told to come back for its own later window in booking
    order (not all for the first one, where all but two would be turned away again)."""
    scope = _scope()
    booked = [reserve(scope=scope, path=INNER_APPLY) for _ in range(6)]  # slots 0, 0, w, w, 2w, 2w
    time.sleep(max(b.delay_s for b in booked) + 0.1)  # every holder is now late
    for b in booked[:2]:
        token = acquire(scope=scope, path=INNER_APPLY, max_wait=0, reservation=b.token).token
        ratelimit.settle(scope=scope, path=INNER_APPLY, token=token)  # answered now: the window is full
    waits = []
    for b in booked[2:]:
        with pytest.raises(RateLimitUnavailable) as refused:
            acquire(scope=scope, path=INNER_APPLY, max_wait=0, reservation=b.token)
        waits.append(refused.value.retry_in)
    window = WINDOW / 1000
    assert waits[0] == pytest.approx(window, abs=0.15)
    assert waits[1] == pytest.approx(window, abs=0.15)
    assert waits[2] == pytest.approx(2 * window, abs=0.15)
    assert waits[3] == pytest.approx(2 * window, abs=0.15)
