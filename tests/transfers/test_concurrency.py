"""Concurrent decisions on PostgreSQL: real row locks, one DB connection per thread; nothing double-counts."""

import threading
from decimal import Decimal

import pytest
from django.db import connection, connections

from tests.stepup_support import stepup_data
from tests.transfers.workflow_support import grant, member, new_request
from transfers.models import Approval, DailyLimit, PolicyRule, Status, TransferRequest
from transfers.refusals import DecisionRefused, RequestRefused
from transfers.services.decisions import transfer_request_approve

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def run_together(fns):
    """Start every function at the same moment in its own thread (own DB connection); collect results."""
    barrier = threading.Barrier(len(fns))
    results: list[object] = [None] * len(fns)

    def worker(i, fn):
        try:
            barrier.wait()
            results[i] = fn()
        except Exception as exc:
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i, fn)) for i, fn in enumerate(fns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


def test_many_approvers_at_once_approve_exactly_once(require_postgres, alice, key_set, executed):
    assert connection.vendor == "postgresql"
    approvers = [member(f"appr{i}", "approver") for i in range(8)]
    for u in approvers:
        grant(key_set, u, approve=True)
    PolicyRule.objects.create(position=1, name="two", required_approvals=2)
    req = new_request(requester=alice, key_set=key_set)

    results = run_together(
        [
            lambda u=u: transfer_request_approve(request_id=req.pk, approver=u, stepup=stepup_data(u))
            for u in approvers
        ]
    )
    ok = [r for r in results if isinstance(r, TransferRequest)]
    refused = [r for r in results if isinstance(r, DecisionRefused)]
    assert len(ok) == 2, results  # exactly the quorum got through
    assert len(refused) == 6
    assert all(r.code == "not_pending" for r in refused)
    req.refresh_from_db()
    assert req.status == Status.APPROVED
    assert Approval.objects.filter(request=req).count() == 2
    assert executed == [req.pk]  # execution enqueued once


def test_same_approver_twice_at_once_counts_once(require_postgres, alice, bob, key_set, executed):
    PolicyRule.objects.create(position=1, name="two", required_approvals=2)
    req = new_request(requester=alice, key_set=key_set)
    results = run_together(
        [
            lambda: transfer_request_approve(request_id=req.pk, approver=bob, stepup=stepup_data(bob))
            for _ in range(4)
        ]
    )
    assert sum(isinstance(r, TransferRequest) for r in results) == 1, results
    # The others are refused: already decided, or their code was the one just spent (a code works once).
    assert all(
        r.code in ("already_decided", "second_factor") for r in results if isinstance(r, DecisionRefused)
    )
    req.refresh_from_db()
    assert req.status == Status.PENDING
    assert Approval.objects.filter(request=req).count() == 1
    assert executed == []


def test_concurrent_submissions_cannot_race_past_the_daily_limit(require_postgres, alice, key_set):
    DailyLimit.objects.create(key_set=key_set, asset="USDT", limit=Decimal(100))
    results = run_together(
        [lambda: new_request(requester=alice, key_set=key_set, amount="30") for _ in range(6)]
    )
    assert sum(isinstance(r, TransferRequest) for r in results) == 3, results
    assert sum(isinstance(r, RequestRefused) for r in results) == 3
    assert TransferRequest.objects.filter(key_set=key_set).count() == 3


def test_many_approvers_of_a_batch_at_once_approve_each_leg_exactly_once(
    require_postgres, alice, key_set, executed
):
    from transfers.batch_csv import legs_from_csv
    from transfers.models import TransferBatch
    from transfers.services.batch_decisions import transfer_batch_approve
    from transfers.services.batches import transfer_batch_create

    approvers = [member(f"bappr{i}", "approver") for i in range(6)]
    for u in approvers:
        grant(key_set, u, approve=True)
    PolicyRule.objects.create(position=1, name="two", required_approvals=2)
    legs, errors = legs_from_csv(
        "kind,key_set,asset,amount,recipient_type,recipient_account,wallet_type,from_wallet,to_wallet\n"
        + "".join(f"wallet,{key_set.label},USDT,{n + 1},,,,fund,spot\n" for n in range(5))
    )
    assert errors == []
    batch = transfer_batch_create(requester=alice, legs=legs)

    results = run_together(
        [
            lambda u=u: transfer_batch_approve(batch_id=batch.pk, approver=u, stepup=stepup_data(u))
            for u in approvers
        ]
    )
    ok = [r for r in results if isinstance(r, TransferBatch)]
    assert len(ok) == 2, results  # exactly the quorum got through; the others found it decided
    assert all(isinstance(r, DecisionRefused) for r in results if not isinstance(r, TransferBatch)), results
    leg_ids = sorted(batch.legs.values_list("pk", flat=True))
    assert set(TransferRequest.objects.filter(pk__in=leg_ids).values_list("status", flat=True)) == {
        Status.APPROVED
    }
    for leg_id in leg_ids:
        assert Approval.objects.filter(request_id=leg_id).count() == 2
    assert sorted(executed) == leg_ids  # every leg enqueued exactly once
