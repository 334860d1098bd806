"""Four worker processes executing transfers at once all write audit events: one chain, no fork, intact.

100 transfers on PostgreSQL (the issue's figure), fewer on SQLite (one writer at a time: slower and
not where forks came from). BingX's rate limit is lifted x RATE_LIMIT_SCALE on both sides (sandbox and
the workers' shared limiter), so the four workers really write at the same time instead of queueing
for one UID's 2 calls a second.
"""

from __future__ import annotations

import time

import pytest
from django.db import connection

from accounts.audit_seal import audit_seal_pending
from accounts.audit_verify import audit_verify_chain
from accounts.models import AuditEvent
from tests.transfers.execution_support import MAIN_UID, Sandbox, approved_request, make_key_set
from tests.worker.conftest import final_status
from transfers.models import Status
from transfers.tasks import transfer_execute_task

pytestmark = [pytest.mark.worker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

TRANSFERS = {"postgresql": 100, "sqlite": 24}
RATE_LIMIT_SCALE = 25


def test_four_workers_executing_transfers_leave_one_intact_chain(start_worker, sandbox: Sandbox, monkeypatch):
    transfers = TRANSFERS[connection.vendor]
    monkeypatch.setenv("BINGX_RATE_LIMIT_SCALE", str(RATE_LIMIT_SCALE))  # the workers' environment
    sandbox.server.app.set_rate_limit(scale=RATE_LIMIT_SCALE)
    key_set = make_key_set(sandbox=sandbox, uid=MAIN_UID, label="demo main")
    requests = [approved_request(key_set=key_set, amount=str(n % 10 + 1)) for n in range(transfers)]
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
    assert AuditEvent.objects.filter(verb__startswith="transfer.").count() >= transfers
    assert audit_verify_chain().ok
