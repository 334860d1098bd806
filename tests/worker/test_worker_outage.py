"""A broker outage right after approval: the approval commits, its wake-up message never reaches the
broker, and the sweeper still gets the request executed exactly once."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest

from tests.factories import DEFAULT_PASSWORD, KeySetGrantFactory, UserFactory
from tests.stepup_support import stepup_data
from tests.transfers.execution_support import (
    INNER_APPLY,
    MAIN_UID,
    Sandbox,
    approved_request,
    make_key_set,
    status_of,
    wait_for,
)
from tests.worker.conftest import Broker, final_status
from transfers.execution.sweep import transfers_sweep
from transfers.models import Status
from transfers.services.decisions import transfer_request_approve

pytestmark = [pytest.mark.worker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def dead_broker(broker: Broker, tmp_path: Any) -> tuple[str, dict[str, Any]]:
    """Broker settings that cannot take a message: a closed port, or a queue folder that is gone."""
    if broker.redis_url:
        return "redis://127.0.0.1:1/0", {}
    missing = str(tmp_path / "broker-is-down")
    return "filesystem://", {**broker.options, "data_folder_in": missing, "data_folder_out": missing}


def test_approval_during_a_broker_outage_is_executed_once_by_the_sweeper(
    start_worker, sandbox: Sandbox, broker: Broker, tmp_path
):
    key_set = make_key_set(sandbox=sandbox, uid=MAIN_UID, label="demo main")
    req = approved_request(key_set=key_set, amount="5", status=Status.PENDING)
    req.approvals.all().delete()
    approver = UserFactory.create(username="bob")
    approver.set_password(DEFAULT_PASSWORD)
    approver.save()
    KeySetGrantFactory.create(key_set=key_set, user=approver, can_view=True, can_approve=True)
    start_worker("w1")

    url, options = dead_broker(broker, tmp_path)
    broker.configure_web_side(url, options)
    # The approval commits; publishing its execution message fails right after the commit.
    with contextlib.suppress(Exception):
        transfer_request_approve(request_id=req.pk, approver=approver, stepup=stepup_data(approver))
    assert status_of(req) == Status.APPROVED
    broker.configure_web_side()  # the broker is back

    # No message exists: nothing happens until the sweeper looks at the request table.
    wait_for(lambda: transfers_sweep().executions == 1, timeout=60, what="the sweeper to re-enqueue")
    assert final_status(req) == Status.SUCCEEDED
    calls = [c for c in sandbox.calls(INNER_APPLY) if c["params"].get("transferClientId") == req.client_id]
    assert len(calls) == 1
    assert len(sandbox.applied(INNER_APPLY)) == 1
    # Later sweeps find nothing to do.
    assert transfers_sweep().executions == 0
