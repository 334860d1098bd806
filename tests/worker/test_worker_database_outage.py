"""PostgreSQL dies under a running desk: a throw-away server (tests/worker/pg_support.py) is stopped
the hard way around a claim and started again, with real workers, a real broker and beat's sweeper.

Judged from the sandbox's journal: exactly one applied transfer per approved request, nothing
failed that was never sent, no 100410, the worker still running; the recovery time (server back →
final state) is printed.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import skip_or_fail
from tests.transfers.execution_support import (
    INNER_APPLY,
    MAIN_UID,
    Sandbox,
    approved_request,
    make_key_set,
    wait_for,
)
from tests.worker import pg_support
from tests.worker.conftest import Broker, sweep_every_second
from transfers.models import Status, TransferRequest

pytestmark = [
    pytest.mark.worker,
    pytest.mark.slow,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def outage_db(require_postgres: None, broker: Broker) -> Iterator[pg_support.ThrowawayPostgres]:
    """The desk's database is a throw-away PostgreSQL for the length of the test."""
    if not pg_support.available():
        skip_or_fail("needs PostgreSQL's initdb and pg_ctl")
    server = pg_support.ThrowawayPostgres().init()
    try:
        with server.repoint():
            yield server
    finally:
        server.destroy()


def status_when_reachable(req: TransferRequest) -> str | None:
    try:
        return str(TransferRequest.objects.values_list("status", flat=True).get(pk=req.pk))
    except Exception:
        from django.db import connection

        connection.close()
        return None


def settled(req: TransferRequest, *, timeout: float = 120) -> str:
    def final() -> str | None:
        status = status_when_reachable(req)
        return status if status in (Status.SUCCEEDED, Status.FAILED) else None

    return str(wait_for(final, timeout=timeout, what=f"request {req.pk} to settle"))


def ours(sandbox: Sandbox, req: TransferRequest) -> list[dict[str, Any]]:
    return [c for c in sandbox.calls(INNER_APPLY) if c["params"].get("transferClientId") == req.client_id]


def assert_exactly_once(sandbox: Sandbox, req: TransferRequest) -> None:
    req.refresh_from_db()
    assert req.status == Status.SUCCEEDED
    applied = [c for c in ours(sandbox, req) if c["applied"]]
    assert len(applied) == 1
    assert req.exchange_id == str(applied[0]["transfer_id"])
    assert [c for c in sandbox.calls() if c["code"] == 100410] == []


def test_database_down_after_the_claim_before_the_call_executes_once_when_it_is_back(
    outage_db: pg_support.ThrowawayPostgres, start_worker, sandbox: Sandbox
) -> None:
    """The worker has claimed the request and is re-checking it when the database dies; it cannot
    write the sending mark, so it sends nothing. Back up, the claim (provably unsent) returns to
    APPROVED and the transfer executes: not FAILED, not twice.

    To catch the worker between its claim and its call every time, the test holds an exclusive lock
    on the approvals table (read by the re-checks after the claim, not by the claim itself) until it
    stops the server."""
    sweep_every_second()
    # The worker first: its start-up sweep would otherwise execute an older request before the test.
    worker = start_worker("w1", beat=True)
    key_set = make_key_set(sandbox=sandbox, uid=MAIN_UID, label="demo main")
    req = approved_request(key_set=key_set, amount="7")
    lock = outage_db.hold_table_lock("transfers_approval")
    from transfers.tasks import transfer_execute_task

    transfer_execute_task.delay(req.pk)
    wait_for(
        lambda: TransferRequest.objects.filter(pk=req.pk, status=Status.SUBMITTING, sending_at=None).exists(),
        timeout=30,
        what="the claim",
    )
    time.sleep(0.5)  # the worker is now waiting on the lock inside its re-checks
    outage_db.stop()
    lock.close()
    time.sleep(5)
    assert ours(sandbox, req) == []  # nothing left the machine
    outage_db.start()
    back = time.monotonic()
    assert settled(req) == Status.SUCCEEDED
    recovery = time.monotonic() - back
    print(f"\nrecovery (database back → SUCCEEDED), claimed-not-sent: {recovery:.1f} s")
    assert_exactly_once(sandbox, req)
    assert len(ours(sandbox, req)) == 1
    assert worker.alive


def test_database_down_while_the_transfer_is_on_the_wire_is_recorded_once_when_it_is_back(
    outage_db: pg_support.ThrowawayPostgres, start_worker, sandbox: Sandbox
) -> None:
    """The exchange applies the transfer while the database is down, so the worker cannot record the
    answer. Back up, the sent claim goes UNKNOWN and the exchange's records settle it: SUCCEEDED
    with the exchange's id, never re-sent."""
    sweep_every_second()
    worker = start_worker("w1", beat=True)
    key_set = make_key_set(sandbox=sandbox, uid=MAIN_UID, label="demo main")
    req = approved_request(key_set=key_set, amount="9")
    lock = sandbox.server.state.lock
    lock.acquire()  # the exchange holds the call
    try:
        from transfers.tasks import transfer_execute_task

        transfer_execute_task.delay(req.pk)
        wait_for(lambda: ours(sandbox, req), timeout=30, what="the call to reach the exchange")
        outage_db.stop()
    finally:
        lock.release()  # applied and answered while the database is down
    wait_for(
        lambda: [c for c in ours(sandbox, req) if c["applied"]], timeout=30, what="the exchange to apply"
    )
    time.sleep(4)
    outage_db.start()
    back = time.monotonic()
    assert settled(req) == Status.SUCCEEDED
    recovery = time.monotonic() - back
    print(f"\nrecovery (database back → SUCCEEDED), answer lost on the wire: {recovery:.1f} s")
    assert_exactly_once(sandbox, req)
    # Found in the records, not sent again.
    assert len(ours(sandbox, req)) == 1, [(c["code"], c["applied"]) for c in ours(sandbox, req)]
    assert worker.alive
