"""At-least-once delivery meets exactly-once execution: the same task delivered twice, and two workers
racing on the same requests — one call reaches the exchange per request."""

from __future__ import annotations

import pytest

from tests.transfers.execution_support import (
    INNER_APPLY,
    MAIN_UID,
    Sandbox,
    approved_request,
    make_key_set,
    wait_for,
)
from tests.worker.conftest import final_status
from transfers.models import Status
from transfers.tasks import transfer_execute_task

pytestmark = [pytest.mark.worker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def calls_for(sandbox: Sandbox, client_id: str) -> list[dict]:
    return [c for c in sandbox.calls(INNER_APPLY) if c["params"].get("transferClientId") == client_id]


def test_the_same_task_delivered_twice_calls_the_exchange_once(start_worker, sandbox: Sandbox):
    worker = start_worker("w1")
    key_set = make_key_set(sandbox=sandbox, uid=MAIN_UID, label="demo main")
    req = approved_request(key_set=key_set, amount="4")
    transfer_execute_task.delay(req.pk)
    transfer_execute_task.delay(req.pk)
    assert final_status(req) == Status.SUCCEEDED
    wait_for(lambda: worker.log().count("transfer_execute_task[") >= 4, what="both deliveries to finish")
    assert len(calls_for(sandbox, req.client_id)) == 1
    assert len(sandbox.applied(INNER_APPLY)) == 1
    assert req.attempts.count() == 1


def test_two_workers_racing_on_the_same_requests_send_each_once(start_worker, sandbox: Sandbox):
    # Workers first: a worker's start-up sweep would otherwise execute requests approved before it.
    start_worker("w1", pool="solo")
    start_worker("w2", pool="prefork")
    key_set = make_key_set(sandbox=sandbox, uid=MAIN_UID, label="demo main")
    requests = [approved_request(key_set=key_set, amount=str(n + 1)) for n in range(6)]
    for req in requests:
        # Two messages per request, back to back: each worker takes one and both try to claim.
        transfer_execute_task.delay(req.pk)
        transfer_execute_task.delay(req.pk)
    for req in requests:
        assert final_status(req) == Status.SUCCEEDED
    for req in requests:
        req.refresh_from_db()
        assert len(calls_for(sandbox, req.client_id)) == 1, req.client_id
        assert req.attempts.count() == 1
    assert len(sandbox.applied(INNER_APPLY)) == len(requests)
    assert len(sandbox.calls(INNER_APPLY)) == len(requests)
    workers = {req.attempts.get().worker for req in requests}
    assert len(workers) == 2  # both workers really executed some of them
