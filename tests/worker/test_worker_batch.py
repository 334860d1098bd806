"""A batch approved by a person runs on real workers (issue 12): its approval's commit books every leg's
rate-limit slot and enqueues the legs round-robin over their accounts; each leg executes exactly once,
the second account does not wait behind the first, legs booked for a later slot are noted as due then
(so the sweeper leaves them alone), and the strict sandbox never sees more than 2 calls a second per
UID."""

from __future__ import annotations

from collections import defaultdict

import pytest

from accounts.models import ApiKeySet
from tests.factories import KeySetGrantFactory, UserFactory
from tests.stepup_support import stepup_data
from tests.transfers.execution_support import INNER_APPLY, MAIN_UID, Sandbox, make_key_set
from tests.worker.conftest import final_status
from transfers.batch_csv import LegInput
from transfers.models import BatchStatus, Status, TransferRequest
from transfers.services.batch_decisions import transfer_batch_approve
from transfers.services.batches import transfer_batch_create

pytestmark = [pytest.mark.worker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

OTHER_MAIN_UID = 10000009


def _inner(line: int, key_set: ApiKeySet, to_uid: int) -> LegInput:
    fields = {"recipient_type": "1", "recipient_account": str(to_uid), "wallet_type": "1"}
    return LegInput(line, "inner", key_set.label, "USDT", "1", fields)


def test_a_batch_grouped_by_account_executes_each_leg_once(start_worker, sandbox: Sandbox) -> None:
    sandbox.server.set_rate_limit(window="sliding", penalty_ms=300_000)
    first = make_key_set(sandbox=sandbox, uid=MAIN_UID, label="first main")
    second = make_key_set(sandbox=sandbox, uid=OTHER_MAIN_UID, label="second main")
    maker, checker = UserFactory.create(username="maker"), UserFactory.create(username="checker")
    for ks in (first, second):
        ks.permissions = [1, 2, 4, 5]
        ks.save(update_fields=["permissions"])
        KeySetGrantFactory.create(key_set=ks, user=maker, can_view=True, can_request=True)
        KeySetGrantFactory.create(key_set=ks, user=checker, can_view=True, can_approve=True)
    # Grouped by account, as a CSV usually is: six legs of the first account, then three of the second.
    legs = [_inner(n + 2, first, OTHER_MAIN_UID) for n in range(6)]
    legs += [_inner(n + 8, second, MAIN_UID) for n in range(3)]
    batch = transfer_batch_create(requester=maker, legs=legs)
    start_worker("w1")
    start_worker("w2")

    batch = transfer_batch_approve(batch_id=batch.pk, approver=checker, stepup=stepup_data(checker))
    assert batch.status == BatchStatus.APPROVED

    rows = list(batch.legs.order_by("leg_index"))
    for leg in rows:
        assert final_status(leg) == Status.SUCCEEDED
    # The first account's legs at 2/s reach ≥ 2 s ahead: those were scheduled and noted as due then.
    noted = TransferRequest.objects.filter(batch=batch, execute_at__isnull=False).count()
    assert noted >= 3
    done = {
        index: at
        for index, at in TransferRequest.objects.filter(batch=batch).values_list("leg_index", "completed_at")
        if at is not None
    }
    assert len(done) == 9
    # Round-robin: the second account's legs did not wait for the first account's six (3 s at 2/s).
    assert max(done[i] for i in (6, 7, 8)) < max(done[i] for i in range(6))

    calls = sandbox.calls(INNER_APPLY)
    assert [c for c in calls if c["code"] == 100410] == []
    assert len([c for c in calls if c["applied"]]) == 9  # each leg once
    arrivals: dict[object, list[int]] = defaultdict(list)
    for c in calls:
        arrivals[c["uid"]].append(int(c["time_ms"]))
    for times in arrivals.values():
        times.sort()
        assert all(later - earlier >= 1000 for earlier, later in zip(times, times[2:], strict=False)), times
