"""The desk against the strict sandbox's rate limits, under both violation penalties: real workers,
a real broker, the shared limiter at BingX's values. The desk's own traffic never draws a 100410;
a block someone else caused defers the transfer (never fails or repeats it)."""

from __future__ import annotations

from typing import Any

import pytest

from bingx import Client, RateLimited
from tests.transfers.execution_support import (
    INNER_APPLY,
    MAIN_UID,
    SUB1_UID,
    Sandbox,
    approved_request,
    demo_key,
    make_key_set,
    wait_for,
)
from tests.worker.conftest import final_status
from transfers.models import ExecutionAttempt, Status

pytestmark = [pytest.mark.worker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PENALTIES = [pytest.param(300_000, id="penalty-5-minutes"), pytest.param("window", id="penalty-window")]


@pytest.mark.parametrize("penalty", PENALTIES)
def test_a_burst_on_two_workers_draws_no_100410(start_worker, sandbox: Sandbox, penalty: Any) -> None:
    sandbox.server.set_rate_limit(window="sliding", penalty_ms=penalty)
    key_set = make_key_set(sandbox=sandbox, uid=MAIN_UID, label="demo main")
    requests = [approved_request(key_set=key_set, amount=str(n + 1)) for n in range(8)]
    start_worker("w1")
    start_worker("w2")
    from transfers.tasks import transfer_execute_task

    for req in requests:
        transfer_execute_task.delay(req.pk)
    for req in requests:
        assert final_status(req) == Status.SUCCEEDED
    # Every call the desk made — transfers and the balance syncs that follow them — was accepted.
    limited = [c for c in sandbox.calls() if c["code"] == 100410 or c["http_status"] == 429]
    assert limited == []
    assert len(sandbox.applied(INNER_APPLY)) == len(requests)


def test_a_five_minute_block_caused_elsewhere_defers_the_transfer(start_worker, sandbox: Sandbox) -> None:
    sandbox.server.set_rate_limit(window="sliding", penalty_ms=300_000)
    key_set = make_key_set(sandbox=sandbox, uid=MAIN_UID, label="demo main")
    req = approved_request(key_set=key_set, amount="5")
    # Another tool using the same API key (no shared limiter) sends three transfers within a second.
    api_key, secret = demo_key(MAIN_UID)
    with Client(api_key, secret, base_url=sandbox.base_url) as other:

        def send() -> None:
            other.inner_transfer(
                coin="USDT", user_account_type=1, user_account=SUB1_UID, amount="1", wallet_type=1
            )

        send()
        send()
        with pytest.raises(RateLimited):
            send()
    start_worker("w1")
    from transfers.tasks import transfer_execute_task

    transfer_execute_task.delay(req.pk)

    attempt = wait_for(
        lambda: ExecutionAttempt.objects.filter(request=req, bingx_code="100410").first(),
        what="the desk's attempt to meet the block",
    )
    assert attempt is not None
    req.refresh_from_db()
    assert req.status == Status.APPROVED  # waiting for the block to end, not failed
    ours = [c for c in sandbox.calls(INNER_APPLY) if c["params"].get("transferClientId") == req.client_id]
    assert [c["code"] for c in ours] == [100410]  # asked once, then waits: no hammering
    assert not [c for c in ours if c["applied"]]
