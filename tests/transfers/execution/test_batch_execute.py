"""A batch approved by a second person executes every leg exactly once against the sandbox over HTTP;
a leg the exchange refuses fails alone, and a leg edited after approval is refused before sending."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from accounts.models import ApiKeySet, User
from tests.factories import KeySetGrantFactory, UserFactory
from tests.stepup_support import stepup_data
from tests.transfers.execution_support import (
    APPLY_PATHS,
    MAIN_UID,
    SUB1_UID,
    SUB2_UID,
    Sandbox,
    discover_seed_subs,
)
from transfers.batch_csv import LegInput
from transfers.models import AttemptOutcome, BatchStatus, Status, TransferBatch, TransferRequest
from transfers.payload import payload_sha256
from transfers.services.batch_decisions import transfer_batch_approve
from transfers.services.batches import transfer_batch_create

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("limiter_dir")]


@pytest.fixture
def people(main_key_set: ApiKeySet, sub1_key_set: ApiKeySet) -> tuple[User, User]:
    main_key_set.permissions = [1, 2, 4, 5]
    main_key_set.save(update_fields=["permissions"])
    sub1_key_set.permissions = [2, 4, 7]
    sub1_key_set.save(update_fields=["permissions"])
    discover_seed_subs(key_set=main_key_set)
    maker, checker = UserFactory.create(username="maker"), UserFactory.create(username="checker")
    for ks in (main_key_set, sub1_key_set):
        KeySetGrantFactory.create(key_set=ks, user=maker, can_view=True, can_request=True)
        KeySetGrantFactory.create(key_set=ks, user=checker, can_view=True, can_approve=True)
    return maker, checker


def four_kinds(*, sub_amount: str) -> list[LegInput]:
    inner = {"recipient_type": "1", "recipient_account": str(SUB1_UID), "wallet_type": "1"}
    family = {
        "from_uid": str(MAIN_UID),
        "from_type": "1",
        "from_account_type": "1",
        "to_uid": str(SUB1_UID),
        "to_type": "2",
        "to_account_type": "1",
    }
    sub_inner = {"recipient_type": "1", "recipient_account": str(SUB2_UID), "wallet_type": "1"}
    return [
        LegInput(2, "inner", "demo main", "USDT", "10", inner),
        LegInput(3, "wallet", "demo main", "USDT", "5", {"from_wallet": "fund", "to_wallet": "spot"}),
        LegInput(4, "family", "demo main", "USDT", "3", family),
        LegInput(5, "sub_inner", "demo sub 1", "USDT", sub_amount, sub_inner),
    ]


def approve(batch: TransferBatch, checker: User, enqueued: list, capture: Any) -> list[int]:
    with capture(execute=True):
        batch = transfer_batch_approve(batch_id=batch.pk, approver=checker, stepup=stepup_data(checker))
    assert batch.status == BatchStatus.APPROVED
    return [pk for what, pk, _ in enqueued if what == "execute"]


def applied_per_client_id(sandbox: Sandbox) -> dict[str, int]:
    counts: dict[str, int] = {}
    for call in sandbox.applied():
        if call["path"] in APPLY_PATHS:
            key = str((call.get("params") or {}).get("transferClientId") or call.get("transfer_id"))
            counts[key] = counts.get(key, 0) + 1
    return counts


def test_batch_executes_every_leg_once_and_a_failing_leg_fails_alone(
    sandbox: Sandbox, people, execute, enqueued, django_capture_on_commit_callbacks
):
    maker, checker = people
    # The sub-account holds 1000 USDT in its funding wallet: the 5000 leg is refused by the exchange.
    batch = transfer_batch_create(requester=maker, legs=four_kinds(sub_amount="5000"))
    ids = approve(batch, checker, enqueued, django_capture_on_commit_callbacks)
    legs = {leg.pk: leg for leg in batch.legs.all()}
    assert sorted(ids) == sorted(legs)
    for pk in ids:
        execute(legs[pk])
    for pk in ids:  # a second delivery of every message claims nothing
        execute(legs[pk])
    done = {leg.leg_index: leg for leg in TransferRequest.objects.filter(batch=batch)}
    assert [done[i].status for i in range(4)] == [
        Status.SUCCEEDED,
        Status.SUCCEEDED,
        Status.SUCCEEDED,
        Status.FAILED,
    ]
    assert all(done[i].exchange_id for i in range(3))
    assert done[3].failure_code
    assert not done[3].exchange_id
    assert done[3].attempts.get().outcome == AttemptOutcome.REJECTED
    for i in range(3):
        (attempt,) = done[i].attempts.all()
        assert attempt.outcome == AttemptOutcome.SUCCEEDED
    applied = sandbox.applied()
    money_moves = [c for c in applied if c["path"] in APPLY_PATHS]
    assert len(money_moves) == 3  # one per succeeded leg, nothing twice
    inner = next(c for c in money_moves if (c.get("params") or {}).get("transferClientId"))
    assert inner["params"]["transferClientId"] == done[0].client_id


def test_failed_leg_first_does_not_block_the_others(
    sandbox: Sandbox, people, execute, enqueued, django_capture_on_commit_callbacks
):
    maker, checker = people
    batch = transfer_batch_create(requester=maker, legs=four_kinds(sub_amount="5000"))
    approve(batch, checker, enqueued, django_capture_on_commit_callbacks)
    legs = list(batch.legs.order_by("-leg_index"))  # the refused leg first
    for leg in legs:
        execute(leg)
    statuses = dict(batch.legs.values_list("leg_index", "status"))
    assert statuses == {0: Status.SUCCEEDED, 1: Status.SUCCEEDED, 2: Status.SUCCEEDED, 3: Status.FAILED}


def test_leg_tampered_after_approval_is_refused_and_the_others_execute(
    sandbox: Sandbox, people, execute, enqueued, django_capture_on_commit_callbacks
):
    maker, checker = people
    batch = transfer_batch_create(requester=maker, legs=four_kinds(sub_amount="2"))
    approve(batch, checker, enqueued, django_capture_on_commit_callbacks)
    leg = batch.legs.get(leg_index=0)
    payload = {**leg.payload, "amount": "900"}  # payload and its hash rewritten together
    TransferRequest.objects.filter(pk=leg.pk).update(
        payload=payload, payload_sha256=payload_sha256(payload), amount=Decimal(900)
    )
    for each in batch.legs.order_by("leg_index"):
        execute(each)
    statuses = dict(batch.legs.values_list("leg_index", "status"))
    assert statuses == {0: Status.FAILED, 1: Status.SUCCEEDED, 2: Status.SUCCEEDED, 3: Status.SUCCEEDED}
    leg.refresh_from_db()
    assert "approvals match the payload" in leg.failure_message or "approvals" in leg.attention_reason
    assert leg.attempts.get().outcome == AttemptOutcome.REFUSED
    assert not [
        c for c in sandbox.applied() if (c.get("params") or {}).get("transferClientId") == leg.client_id
    ]
