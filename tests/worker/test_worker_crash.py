"""A worker killed with SIGKILL in the middle of a BingX call, then a new worker and the sweeper:
no transfer lost, none doubled.

With the filesystem broker the killed task's message dies with the worker (it is not redelivered),
so the sweeper is what finishes the job; with Redis the message also comes back after the visibility
timeout and finds nothing to claim.
"""

from __future__ import annotations

import time

import pytest

from tests.transfers.execution_support import (
    INNER_APPLY,
    MAIN_UID,
    Sandbox,
    approved_request,
    make_key_set,
    status_of,
    wait_for,
)
from tests.worker.conftest import final_status
from transfers.execution.sweep import transfers_sweep
from transfers.models import Status, TransferRequest
from transfers.tasks import transfer_execute_task

pytestmark = [pytest.mark.worker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def sweep_until_final(req: TransferRequest, *, timeout: float = 120) -> str:
    """Run the sweeper now and then (as beat would) until the request settles."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        transfers_sweep()
        if status_of(req) in (Status.SUCCEEDED, Status.FAILED):
            return status_of(req)
        time.sleep(0.5)
    raise AssertionError(f"request {req.pk} still {status_of(req)} after {timeout} s")


def call_in_flight(sandbox: Sandbox, req: TransferRequest) -> None:
    wait_for(
        lambda: [
            c for c in sandbox.calls(INNER_APPLY) if c["params"].get("transferClientId") == req.client_id
        ],
        timeout=60,
        what="the transfer call to reach the exchange",
    )
    assert status_of(req) == Status.SUBMITTING


def test_killed_after_the_exchange_received_the_call_is_found_not_resent(start_worker, sandbox: Sandbox):
    key_set = make_key_set(sandbox=sandbox, uid=MAIN_UID, label="demo main")
    req = approved_request(key_set=key_set, amount="8")
    lock = sandbox.server.state.lock
    lock.acquire()  # the exchange holds the call: it is in flight when the worker dies
    try:
        worker = start_worker("w1")  # its start-up sweep may send the call first: held all the same
        transfer_execute_task.delay(req.pk)
        call_in_flight(sandbox, req)
        worker.kill()
        assert not worker.alive
    finally:
        lock.release()  # ... and applies it after the caller is gone
    wait_for(lambda: sandbox.applied(INNER_APPLY), timeout=30, what="the exchange to apply the transfer")

    start_worker("w2")
    assert sweep_until_final(req) == Status.SUCCEEDED
    req.refresh_from_db()
    (applied,) = sandbox.applied(INNER_APPLY)
    assert req.exchange_id == str(applied["transfer_id"])
    assert len(sandbox.calls(INNER_APPLY)) == 1  # reconciled from records, never re-sent
    # A redelivered copy of the killed task (Redis) must still find nothing to claim.
    time.sleep(1)
    assert len(sandbox.calls(INNER_APPLY)) == 1


def test_killed_before_the_exchange_applied_anything_is_executed_again_once(start_worker, sandbox: Sandbox):
    """The call may have left (the sending mark is set), so nothing is re-sent blindly: the records
    prove it absent after the settle window, and only then is the approved transfer executed again."""
    key_set = make_key_set(sandbox=sandbox, uid=MAIN_UID, label="demo main")
    req = approved_request(key_set=key_set, amount="8")
    sandbox.fault(INNER_APPLY, "timeout_before_apply", delay=6)
    worker = start_worker("w1")
    transfer_execute_task.delay(req.pk)
    call_in_flight(sandbox, req)
    worker.kill()

    start_worker("w2")
    assert sweep_until_final(req) == Status.SUCCEEDED
    req.refresh_from_db()
    assert req.absent_resends == 1
    (applied,) = sandbox.applied(INNER_APPLY)
    assert req.exchange_id == str(applied["transfer_id"])
    calls = sandbox.calls(INNER_APPLY)
    assert len(calls) == 2
    assert {c["params"]["transferClientId"] for c in calls} == {req.client_id}


def test_killed_worker_with_an_approved_request_waiting_loses_nothing(start_worker, sandbox: Sandbox):
    """The worker dies holding a message it has not started yet: the sweeper re-enqueues it."""
    key_set = make_key_set(sandbox=sandbox, uid=MAIN_UID, label="demo main")
    first = approved_request(key_set=key_set, amount="2")
    second = approved_request(key_set=key_set, amount="3")
    lock = sandbox.server.state.lock
    lock.acquire()
    try:
        worker = start_worker("w1")
        transfer_execute_task.delay(first.pk)
        transfer_execute_task.delay(second.pk)
        call_in_flight(sandbox, first)
        worker.kill()
    finally:
        lock.release()
    start_worker("w2")
    assert sweep_until_final(first) == Status.SUCCEEDED
    assert final_status(second) == Status.SUCCEEDED
    assert len(sandbox.applied(INNER_APPLY)) == 2
    assert len(sandbox.calls(INNER_APPLY)) == 2


def test_beat_runs_the_sweeper_that_recovers_a_killed_worker(start_worker, sandbox: Sandbox):
    """Same crash, no help from the test: the restarted worker's beat runs the sweep schedule."""
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    every_second, _ = IntervalSchedule.objects.get_or_create(every=1, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.create(
        name="sweep (test)", task="transfers.tasks.transfers_sweep_task", interval=every_second
    )
    key_set = make_key_set(sandbox=sandbox, uid=MAIN_UID, label="demo main")
    req = approved_request(key_set=key_set, amount="8")
    lock = sandbox.server.state.lock
    lock.acquire()
    try:
        worker = start_worker("w1")
        transfer_execute_task.delay(req.pk)
        call_in_flight(sandbox, req)
        worker.kill()
    finally:
        lock.release()
    start_worker("w2", beat=True)
    assert final_status(req) == Status.SUCCEEDED
    assert len(sandbox.applied(INNER_APPLY)) == 1
    assert len(sandbox.calls(INNER_APPLY)) == 1
