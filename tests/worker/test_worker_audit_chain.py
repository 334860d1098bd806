"""Four worker processes executing transfers at once all write audit events: one chain, no fork, intact."""

from __future__ import annotations

import time

import pytest

from accounts.audit_seal import audit_seal_pending
from accounts.audit_verify import audit_verify_chain
from accounts.models import AuditEvent
from tests.transfers.execution_support import MAIN_UID, Sandbox, approved_request, make_key_set
from tests.worker.conftest import final_status
from transfers.models import Status
from transfers.tasks import transfer_execute_task

pytestmark = [pytest.mark.worker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

TRANSFERS = 24


def test_four_workers_executing_transfers_leave_one_intact_chain(start_worker, sandbox: Sandbox):
    key_set = make_key_set(sandbox=sandbox, uid=MAIN_UID, label="demo main")
    requests = [approved_request(key_set=key_set, amount=str(n + 1)) for n in range(TRANSFERS)]
    for name in ("w1", "w2", "w3", "w4"):
        start_worker(name, pool="prefork")
    for req in requests:
        transfer_execute_task.delay(req.pk)
    for req in requests:
        assert final_status(req) == Status.SUCCEEDED
    deadline = time.monotonic() + 5  # each worker sealed after its own commits
    while AuditEvent.objects.filter(hash__isnull=True).exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    audit_seal_pending()  # events this test process wrote itself (approvals) without a commit hook
    assert not AuditEvent.objects.filter(hash__isnull=True).exists()
    prevs = list(AuditEvent.objects.values_list("prev_hash", flat=True))
    assert len(prevs) == len(set(prevs))  # no two events share a predecessor
    assert AuditEvent.objects.filter(verb__startswith="transfer.").count() >= TRANSFERS
    assert audit_verify_chain().ok
