"""Batch requests: submission (CSV, per-leg and totals policy), decisions, and what execution re-checks."""

from __future__ import annotations

from decimal import Decimal

import pytest

from accounts.models import ApiKeySet, User
from tests.stepup_support import stepup_data
from tests.transfers.workflow_support import SUB1_UID, SUB2_UID
from transfers.batch_csv import legs_from_csv
from transfers.execution.checks import refusal_reason
from transfers.models import (
    Approval,
    BatchStatus,
    DailyLimit,
    PolicyRule,
    Status,
    TransferBatch,
    TransferRequest,
)
from transfers.payload import batch_payload_sha256, payload_sha256
from transfers.refusals import DecisionRefused
from transfers.services.batch_decisions import transfer_batch_approve, transfer_batch_reject
from transfers.services.batches import BatchRefused, transfer_batch_create
from transfers.services.decisions import transfer_request_approve

HEADER = "kind,key_set,asset,amount,recipient_type,recipient_account,wallet_type,from_wallet,to_wallet"


def csv_batch(*rows: str) -> str:
    return "\n".join([HEADER, *rows]) + "\n"


GOOD = csv_batch(
    f"inner,Treasury main,USDT,10,1,{SUB1_UID},1,,",
    f"inner,Treasury main,USDT,15,1,{SUB2_UID},1,,",
    "wallet,Treasury main,USDT,5,,,,fund,spot",
)


def submit(requester: User, text: str, note: str = "") -> TransferBatch:
    legs, errors = legs_from_csv(text)
    assert errors == []
    return transfer_batch_create(requester=requester, legs=legs, note=note)


def test_csv_batch_creates_one_leg_per_row_with_a_hash_over_every_leg(alice, key_set):
    batch = submit(alice, GOOD, note="payouts")
    legs = list(batch.legs.order_by("leg_index"))
    assert [leg.leg_index for leg in legs] == [0, 1, 2]
    assert [leg.amount for leg in legs] == [Decimal(10), Decimal(15), Decimal(5)]
    assert [leg.kind for leg in legs] == ["inner", "inner", "wallet"]
    assert all(leg.status == Status.PENDING and leg.requested_by == alice for leg in legs)
    assert batch.payload == [leg.payload for leg in legs]
    assert batch.payload_sha256 == batch_payload_sha256(batch.payload)
    assert [leg.payload_sha256 for leg in legs] == [payload_sha256(p) for p in batch.payload]
    assert len({leg.client_id for leg in legs}) == 3


def test_csv_errors_name_their_lines_and_nothing_is_saved(alice, key_set):
    text = csv_batch(
        f"inner,Treasury main,USDT,10,1,{SUB1_UID},1,,",
        f"inner,Treasury main,USDT,-3,1,{SUB1_UID},1,,",
        "wallet,Treasury main,USDT,5,,,,fund,fund",
        f"inner,No such set,USDT,1,1,{SUB1_UID},1,,",
        "inner,Treasury main,USDT,1.123456789,1,10000009,1,,",
        "wallet,Treasury main,USDT,1e3,,,,fund,spot",
    )
    legs, errors = legs_from_csv(text)
    assert errors == []
    with pytest.raises(BatchRefused) as caught:
        transfer_batch_create(requester=alice, legs=legs)
    lines = [e.line for e in caught.value.errors]
    assert lines == [3, 4, 5, 6, 7]
    assert "no exponent" in str(caught.value.errors[4])  # a plain decimal, as for a single request
    messages = [str(e) for e in caught.value.errors]
    assert messages[0].startswith("Line 3: The amount must be greater than zero")
    assert "must differ" in messages[1]
    assert "No such key set" in messages[2]
    assert "8 decimal places" in messages[3]
    assert TransferBatch.objects.count() == 0
    assert TransferRequest.objects.count() == 0


def test_csv_shape_errors(alice):
    _, errors = legs_from_csv("kind,key_set,asset,colour\n")
    assert [str(e) for e in errors] == [
        "Line 1: Unknown column(s): colour.",
        "Line 1: Missing column(s): amount.",
    ]
    _, errors = legs_from_csv(csv_batch("inner,Treasury main,USDT"))
    assert [str(e) for e in errors] == ["Line 2: 3 values for 9 columns."]
    _, errors = legs_from_csv(HEADER + "\n\n")
    assert [str(e) for e in errors] == ["The CSV has no legs."]


def test_a_field_of_another_kind_is_refused_with_its_line(alice, key_set):
    legs, _ = legs_from_csv(csv_batch(f"wallet,Treasury main,USDT,5,1,{SUB1_UID},,fund,spot"))
    with pytest.raises(BatchRefused, match="Line 2: Not a field of a wallet transfer: recipient_account"):
        transfer_batch_create(requester=alice, legs=legs)


def test_daily_limit_applies_to_the_batch_total(alice, key_set):
    DailyLimit.objects.create(key_set=key_set, asset="USDT", limit=Decimal(25))
    with pytest.raises(BatchRefused) as caught:
        submit(alice, GOOD)  # 10 + 15 + 5 = 30 > 25, each leg alone fits
    assert [e.line for e in caught.value.errors] == [None]
    assert "The batch's total (30 USDT) would exceed the 24-hour limit of 25 USDT" in str(caught.value)
    assert TransferRequest.objects.count() == 0


def test_daily_limit_applies_to_each_leg(alice, key_set):
    DailyLimit.objects.create(key_set=key_set, asset="USDT", limit=Decimal(12))
    with pytest.raises(BatchRefused) as caught:
        submit(alice, GOOD)
    assert [e.line for e in caught.value.errors] == [3]  # the 15 USDT leg
    assert "This leg (15 USDT)" in str(caught.value)


def test_quorum_follows_the_totals_and_every_leg(alice, key_set):
    PolicyRule.objects.create(
        name="big inner", kind="inner", asset="USDT", min_amount=20, required_approvals=2
    )
    batch = submit(alice, GOOD)  # no inner leg reaches 20, their total (25) does
    assert batch.required_approvals == 2
    assert set(batch.legs.values_list("required_approvals", flat=True)) == {2}


def test_quorum_out_of_reach_is_refused(alice, key_set):
    PolicyRule.objects.create(name="huge", min_amount=1, required_approvals=5)
    with pytest.raises(BatchRefused, match="needs 5 approval"):
        submit(alice, GOOD)


def test_requester_cannot_approve_own_batch(alice, key_set):
    batch = submit(alice, GOOD)
    with pytest.raises(DecisionRefused, match="own batch") as caught:
        transfer_batch_approve(batch_id=batch.pk, approver=alice, stepup=stepup_data(alice))
    assert caught.value.code == "own_request"
    assert Approval.objects.count() == 0


def test_a_leg_cannot_be_decided_alone(alice, bob, key_set):
    batch = submit(alice, GOOD)
    leg = batch.legs.get(leg_index=0)
    with pytest.raises(DecisionRefused, match="leg of batch") as caught:
        transfer_request_approve(request_id=leg.pk, approver=bob, stepup=stepup_data(bob))
    assert caught.value.code == "batch_leg"
    assert Approval.objects.count() == 0


def test_approval_without_approve_on_every_key_set_is_refused(alice, bob, carol, key_set, sub_key_set):
    text = csv_batch(
        f"inner,Treasury main,USDT,10,1,{SUB1_UID},1,,",
        f"sub_inner,Sub one,USDT,2,1,{SUB2_UID},1,,",
    )
    batch = submit(alice, text)
    with pytest.raises(DecisionRefused, match="“Sub one”") as caught:
        transfer_batch_approve(batch_id=batch.pk, approver=carol, stepup=stepup_data(carol))
    assert caught.value.code == "no_grant"
    batch = transfer_batch_approve(batch_id=batch.pk, approver=bob, stepup=stepup_data(bob))
    assert batch.status == BatchStatus.APPROVED


def test_approval_reaching_quorum_approves_every_leg_and_enqueues_each(
    alice, bob, key_set, enqueued, django_capture_on_commit_callbacks
):
    batch = submit(alice, GOOD)
    with django_capture_on_commit_callbacks(execute=True):
        batch = transfer_batch_approve(batch_id=batch.pk, approver=bob, stepup=stepup_data(bob), comment="ok")
    assert batch.status == BatchStatus.APPROVED
    legs = list(batch.legs.order_by("leg_index"))
    assert {leg.status for leg in legs} == {Status.APPROVED}
    assert sorted(pk for what, pk, _ in enqueued if what == "execute") == sorted(leg.pk for leg in legs)
    for leg in legs:
        (approval,) = leg.approvals.all()
        assert approval.approver == bob
        assert approval.payload_sha256 == leg.payload_sha256
        assert refusal_reason(leg) is None  # the worker's re-checks count the batch approval per leg
    with pytest.raises(DecisionRefused):
        transfer_batch_approve(batch_id=batch.pk, approver=bob, stepup=stepup_data(bob))


def test_legs_grouped_by_account_are_enqueued_round_robin_over_accounts(
    alice, bob, key_set, sub_key_set, enqueued, django_capture_on_commit_callbacks
):
    """BingX limits each account UID separately and enqueueing books each leg's slot: a batch grouped
    by account is enqueued round-robin, so the second account's first leg is not booked (and run)
    only after every leg of the first."""
    text = csv_batch(
        f"inner,Treasury main,USDT,10,1,{SUB1_UID},1,,",
        f"inner,Treasury main,USDT,11,1,{SUB1_UID},1,,",
        f"inner,Treasury main,USDT,12,1,{SUB1_UID},1,,",
        f"sub_inner,Sub one,USDT,2,1,{SUB2_UID},1,,",
        f"sub_inner,Sub one,USDT,3,1,{SUB2_UID},1,,",
    )
    batch = submit(alice, text)
    with django_capture_on_commit_callbacks(execute=True):
        transfer_batch_approve(batch_id=batch.pk, approver=bob, stepup=stepup_data(bob))
    leg = {leg.leg_index: leg.pk for leg in batch.legs.all()}
    assert [pk for what, pk, _ in enqueued if what == "execute"] == [leg[0], leg[3], leg[1], leg[4], leg[2]]


def test_short_of_quorum_waits_then_second_approver_completes(alice, bob, carol, key_set, enqueued):
    PolicyRule.objects.create(name="two", required_approvals=2)
    batch = submit(alice, GOOD)
    batch = transfer_batch_approve(batch_id=batch.pk, approver=bob, stepup=stepup_data(bob))
    assert batch.status == BatchStatus.PENDING
    assert set(batch.legs.values_list("status", flat=True)) == {Status.PENDING}
    batch = transfer_batch_approve(batch_id=batch.pk, approver=carol, stepup=stepup_data(carol))
    assert batch.status == BatchStatus.APPROVED


def test_reject_ends_every_leg(alice, bob, key_set):
    batch = submit(alice, GOOD)
    batch = transfer_batch_reject(batch_id=batch.pk, approver=bob, stepup=stepup_data(bob))
    assert batch.status == BatchStatus.REJECTED
    assert set(batch.legs.values_list("status", flat=True)) == {Status.REJECTED}


def test_wrong_second_factor_changes_nothing(alice, bob, key_set):
    batch = submit(alice, GOOD)
    with pytest.raises(DecisionRefused) as caught:
        transfer_batch_approve(batch_id=batch.pk, approver=bob, stepup={"stepup_code": "000000"})
    assert caught.value.code == "second_factor"
    assert Approval.objects.count() == 0


def test_a_leg_edited_before_approval_makes_the_batch_stale(alice, bob, key_set):
    batch = submit(alice, GOOD)
    leg = batch.legs.get(leg_index=1)
    payload = {**leg.payload, "recipient_account": "10000009"}
    TransferRequest.objects.filter(pk=leg.pk).update(payload=payload, payload_sha256=payload_sha256(payload))
    with pytest.raises(DecisionRefused, match="no longer match") as caught:
        transfer_batch_approve(batch_id=batch.pk, approver=bob, stepup=stepup_data(bob))
    assert caught.value.code == "stale"
    batch.refresh_from_db()
    assert batch.status == BatchStatus.STALE
    assert set(batch.legs.values_list("status", flat=True)) == {Status.STALE}
    assert Approval.objects.count() == 0


def test_a_leg_edited_after_approval_is_refused_at_execution(alice, bob, key_set, enqueued):
    batch = submit(alice, GOOD)
    transfer_batch_approve(batch_id=batch.pk, approver=bob, stepup=stepup_data(bob))
    leg = batch.legs.get(leg_index=1)
    # Payload and hash rewritten together (the hash check alone passes): no approval is of this hash.
    payload = {**leg.payload, "amount": "1500"}
    TransferRequest.objects.filter(pk=leg.pk).update(
        payload=payload, payload_sha256=payload_sha256(payload), amount=Decimal(1500)
    )
    leg.refresh_from_db()
    assert "required approvals match the payload" in (refusal_reason(leg) or "")
    other = batch.legs.get(leg_index=0)
    assert refusal_reason(other) is None


def test_cancel_and_single_leg_cancel(alice, bob, key_set):
    from transfers.services.batches import transfer_batch_cancel
    from transfers.services.requests import transfer_request_cancel

    batch = submit(alice, GOOD)
    with pytest.raises(DecisionRefused, match="cancel the batch"):
        transfer_request_cancel(request_id=batch.legs.get(leg_index=0).pk, actor=alice)
    with pytest.raises(DecisionRefused) as caught:
        transfer_batch_cancel(batch_id=batch.pk, actor=bob)
    assert caught.value.code == "not_requester"
    batch = transfer_batch_cancel(batch_id=batch.pk, actor=alice)
    assert batch.status == BatchStatus.CANCELLED
    assert set(batch.legs.values_list("status", flat=True)) == {Status.CANCELLED}


def test_key_set_by_uuid(alice, key_set: ApiKeySet):
    batch = submit(alice, csv_batch(f"wallet,{key_set.uuid},USDT,5,,,,fund,spot"))
    assert batch.legs.get().key_set == key_set


def test_the_documented_csv_example_is_accepted(alice, key_set, sub_key_set):
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "workflow.md").read_text()
    section = doc[doc.index("## Batch requests") :]
    example = section[section.index("```\n") + 4 : section.index("\n```", section.index("```\n"))]
    batch = submit(alice, example + "\n")
    assert list(batch.legs.order_by("leg_index").values_list("kind", flat=True)) == [
        "inner",
        "wallet",
        "sub_inner",
        "family",
    ]


def test_expiry_expires_the_batch_with_its_legs(alice, key_set):
    from datetime import timedelta

    from django.utils import timezone

    from transfers.services.requests import transfer_requests_expire

    batch = submit(alice, GOOD)
    assert transfer_requests_expire(now=timezone.now() + timedelta(days=2)) == 3
    batch.refresh_from_db()
    assert batch.status == BatchStatus.EXPIRED
    assert set(batch.legs.values_list("status", flat=True)) == {Status.EXPIRED}


def test_a_stale_leg_closes_the_batch_at_decision(alice, bob, key_set):
    from transfers.services.requests import requests_mark_stale

    batch = submit(alice, GOOD)
    requests_mark_stale(requests=batch.legs.filter(leg_index=2), actor=None, reason="key set changed")
    with pytest.raises(DecisionRefused, match="Leg 2") as caught:
        transfer_batch_approve(batch_id=batch.pk, approver=bob, stepup=stepup_data(bob))
    assert caught.value.code == "stale"
    batch.refresh_from_db()
    assert batch.status == BatchStatus.STALE
    assert set(batch.legs.values_list("status", flat=True)) == {Status.STALE}
    assert Approval.objects.count() == 0


def test_approvers_of_every_key_set_are_emailed_once(
    alice, bob, carol, key_set, sub_key_set, mailoutbox, django_capture_on_commit_callbacks
):
    text = csv_batch(
        f"inner,Treasury main,USDT,10,1,{SUB1_UID},1,,",
        f"sub_inner,Sub one,USDT,2,1,{SUB2_UID},1,,",
    )
    with django_capture_on_commit_callbacks(execute=True):
        batch = submit(alice, text)
    assert [m.to for m in mailoutbox] == [["bob@example.com"]]  # carol has no approve on "Sub one"
    assert f"/batches/{batch.pk}/" in mailoutbox[0].body
    assert "12 USDT" in mailoutbox[0].body


def batch_signed(passkey, batch: TransferBatch, decision: str) -> dict[str, str]:
    from accounts.stepup import ASSERTION_FIELD, stepup_challenge_bytes
    from transfers.approval_proof import approval_purpose, batch_approval_binding

    challenge = stepup_challenge_bytes(
        user=passkey.user,
        purpose=approval_purpose(decision=decision),
        binding=batch_approval_binding(
            batch_id=batch.pk, decision=decision, payload_sha256=batch.payload_sha256
        ),
    )
    return {ASSERTION_FIELD: passkey.assertion_json(challenge=challenge)}


def test_a_passkey_signs_the_batch_and_each_leg_verifies_in_the_worker(alice, bob, key_set, enqueued):
    from tests.passkey_support import SoftPasskey
    from transfers.execution.checks import approval_second_factor_holds

    passkey = SoftPasskey(user=bob)
    batch = submit(alice, GOOD)
    other = submit(alice, GOOD)
    with pytest.raises(DecisionRefused):  # a signature for another batch approves nothing
        transfer_batch_approve(
            batch_id=batch.pk, approver=bob, stepup=batch_signed(passkey, other, "approve")
        )
    assert Approval.objects.count() == 0
    batch = transfer_batch_approve(
        batch_id=batch.pk, approver=bob, stepup=batch_signed(passkey, batch, "approve")
    )
    assert batch.status == BatchStatus.APPROVED
    for leg in batch.legs.all():
        approval = leg.approvals.get()
        assert approval.stepup_method == "webauthn"
        assert approval_second_factor_holds(req=leg, approval=approval) is None
    # The batch's stored list rewritten after approval: the legs' passkey approvals no longer hold.
    payload = [*batch.payload]
    payload[2] = {**payload[2], "amount": "999"}
    TransferBatch.objects.filter(pk=batch.pk).update(
        payload=payload, payload_sha256=batch_payload_sha256(payload)
    )
    leg = TransferRequest.objects.get(batch=batch, leg_index=2)  # as the worker loads it: fresh
    problem = approval_second_factor_holds(req=leg, approval=leg.approvals.get())
    assert problem is not None
    assert "no longer holds this leg" in problem
    leg0 = TransferRequest.objects.get(batch=batch, leg_index=0)
    assert "does not verify" in (approval_second_factor_holds(req=leg0, approval=leg0.approvals.get()) or "")


def test_admin_shows_a_batch_once(alice, key_set):
    """Read-only, for the superuser (break-glass): the batch's pages are where people work with it."""
    from django.test import Client
    from django.urls import reverse

    from tests.transfers.workflow_support import member

    submit(alice, GOOD)  # three legs on one key set: one row, not three
    c = Client()
    c.force_login(member("root", is_superuser=True, is_staff=True))
    assert "1 transfer batch" in c.get(reverse("admin:transfers_transferbatch_changelist")).content.decode()


def test_approvals_counted_in_one_query_agree_with_each_leg(alice, bob, carol, key_set):
    """A batch's approval counts every leg's approvals in one query (`approvals_counted_per_request`);
    it answers what the one-request rule answers leg by leg: only approvals of the current payload
    hash, never the requester's own, never a rejection, and above a rule's passkey threshold only
    passkey-signed ones."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from transfers.quorum import approvals_counted, approvals_counted_per_request, passkey_approvals_only

    legs = list(submit(alice, GOOD).legs.order_by("leg_index"))
    rule = PolicyRule.objects.create(name="passkey above 12", passkey_required_above=Decimal(12))
    TransferRequest.objects.filter(pk=legs[1].pk).update(policy_rule=rule)  # 15 USDT: passkey only
    legs = list(TransferRequest.objects.filter(pk__in=[leg.pk for leg in legs]).select_related("policy_rule"))

    def approve(leg, who, *, sha=None, method="totp", decision="approve"):
        Approval.objects.create(
            request=leg,
            approver=who,
            decision=decision,
            payload_sha256=sha or leg.payload_sha256,
            stepup_method=method,
        )

    approve(legs[0], bob)
    approve(legs[0], carol, sha="0" * 64)  # another payload
    approve(legs[0], alice)  # the requester's own
    approve(legs[1], bob)  # TOTP above the passkey threshold
    approve(legs[1], carol, method="webauthn")
    approve(legs[2], bob, decision="reject")

    with CaptureQueriesContext(connection) as queries:
        counted = approvals_counted_per_request(requests=legs)
    assert len(queries) == 1
    one_by_one = {
        leg.pk: passkey_approvals_only(req=leg, approvals=approvals_counted(req=leg)).count() for leg in legs
    }
    assert counted == one_by_one == {legs[0].pk: 1, legs[1].pk: 1, legs[2].pk: 0}
