"""Workers SIGKILLed between their claim and their call: the approved transfer is executed, once.

A claim is provably unsent until its sending mark (written after the rate-limit token, right before
the call). These tests kill workers between claim and call, or with calls on the wire, and check,
from the sandbox's journal, that every approved request moved money exactly once, none FAILED, no
100410 was drawn; they print the recovery time (new worker ready → all final)."""

from __future__ import annotations

import time

import pytest

from tests.transfers.execution_support import (
    INNER_APPLY,
    MAIN_UID,
    SUB1_UID,
    SUB_INNER_APPLY,
    Sandbox,
    applied_for,
    approved_request,
    make_key_set,
    status_of,
    wait_for,
)
from tests.worker import pg_support
from tests.worker.conftest import final_status, sweep_every_second
from transfers.models import Status, TransferKind, TransferRequest
from transfers.tasks import transfer_execute_task

pytestmark = [pytest.mark.worker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.mark.postgres
def test_a_worker_killed_between_its_claim_and_its_call_loses_nothing(
    require_postgres: None, start_worker, sandbox: Sandbox
) -> None:
    """The worker is caught inside its re-checks, after the claim and before the sending mark (an
    exclusive lock on the approvals table, which only the re-checks read, holds it there), and
    SIGKILLed. Its claim provably sent nothing: it goes back to APPROVED and executes once."""
    sweep_every_second()
    # The worker first: its start-up sweep would otherwise execute the request before the lock.
    worker = start_worker("w1")
    key_set = make_key_set(sandbox=sandbox, uid=MAIN_UID, label="demo main")
    req = approved_request(key_set=key_set, amount="4")
    lock = pg_support.hold_table_lock("transfers_approval")
    try:
        transfer_execute_task.delay(req.pk)
        wait_for(
            lambda: TransferRequest.objects.filter(
                pk=req.pk, status=Status.SUBMITTING, sending_at=None
            ).exists(),
            timeout=30,
            what="the claim",
        )
        time.sleep(0.5)  # waiting on the lock, between claim and call
        worker.kill()
    finally:
        lock.close()
    assert sandbox.calls(INNER_APPLY) == []

    replacement = start_worker("w2", beat=True)
    ready = time.monotonic()
    assert final_status(req) == Status.SUCCEEDED
    took = time.monotonic() - ready
    print(f"\nrecovery (new worker ready → SUCCEEDED), killed between claim and call: {took:.1f} s")
    assert len(applied_for(sandbox, req)) == 1
    assert len(sandbox.calls(INNER_APPLY)) == 1
    assert replacement.alive


def test_two_hosts_one_killed_mid_batch_every_approved_transfer_moves_once(
    start_worker, sandbox: Sandbox
) -> None:
    """Two workers on two host names share the broker; one is SIGKILLed mid-batch, while some of its
    claims wait for tokens (BingX's per-UID limits) and calls are on the wire."""
    sandbox.server.set_rate_limit(window="sliding", penalty_ms=300_000)
    main = make_key_set(sandbox=sandbox, uid=MAIN_UID, label="demo main")
    sub = make_key_set(sandbox=sandbox, uid=SUB1_UID, label="demo sub1", parent=main)
    # Inner transfers from the main account and sub-account inner transfers from sub1: two UIDs.
    requests = [
        approved_request(key_set=main, amount=str(n + 1), kind=TransferKind.INNER)
        if n % 2
        else approved_request(key_set=sub, amount=str(n + 1), kind=TransferKind.SUB_INNER)
        for n in range(16)
    ]
    sweep_every_second()
    doomed = start_worker("a", host="host-a")
    survivor = start_worker("b", host="host-b", beat=True)
    for req in requests:
        transfer_execute_task.delay(req.pk)
    wait_for(lambda: len(sandbox.applied()) >= 4, timeout=60, what="the batch to be under way")
    lock = sandbox.server.state.lock
    lock.acquire()  # the exchange holds every call that arrives: both workers have one in hand
    try:
        time.sleep(1.5)
        claims = TransferRequest.objects.filter(status=Status.SUBMITTING)
        unsent, sent = claims.filter(sending_at=None).count(), claims.exclude(sending_at=None).count()
        doomed.kill()
        killed = time.monotonic()
    finally:
        lock.release()
    print(f"\nat the kill: {unsent} claim(s) not yet sent, {sent} call(s) on the wire")
    assert unsent + sent >= 1
    assert survivor.alive
    for req in requests:
        assert final_status(req, timeout=180) == Status.SUCCEEDED, status_of(req)
    print(f"\nrecovery (host-a killed → all {len(requests)} SUCCEEDED): {time.monotonic() - killed:.1f} s")
    for req in requests:
        assert len(applied_for(sandbox, req)) == 1, req.pk
    moved = sandbox.applied(INNER_APPLY) + sandbox.applied(SUB_INNER_APPLY)
    assert len(moved) == len(requests)
    assert [c for c in sandbox.calls() if c["code"] == 100410 or c["http_status"] == 429] == []
    assert survivor.alive
