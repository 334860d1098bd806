"""Reconciliation (issue 13, part 8): outside records are acknowledged or linked to their request
(audited), both legs of one inner transfer show as one row, and record statuses read the same."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent
from tests.transfers.test_pages import client_for_user, csrf_post
from tests.transfers.workflow_support import SUB1_UID, grant, make_main_key_set, member, new_request
from transfers.models import Status, TransferRecord, TransferRequest
from transfers.records.reconciliation import reconciliation_get
from transfers.records.review import ReviewRefused, record_acknowledge, record_link
from transfers.templatetags.transfers_tags import record_status

pytestmark = pytest.mark.django_db


def record(
    key_set, exchange_id="900000000000000000001", amount="25", asset="USDT", **extra
) -> TransferRecord:
    return TransferRecord.objects.create(
        key_set=key_set,
        source=extra.pop("source", "inner"),
        exchange_id=exchange_id,
        asset=asset,
        amount=Decimal(amount),
        status=extra.pop("status", "6"),
        occurred_at=timezone.now(),
        **extra,
    )


def outside_ids(user) -> list[int]:
    return [r.pk for r in reconciliation_get(user=user).outside]


def test_acknowledging_needs_a_note_is_audited_and_leaves_the_outside_list(bob, key_set):
    rec = record(key_set)
    assert outside_ids(bob) == [rec.pk]
    with pytest.raises(ReviewRefused, match="Say what this transfer is"):
        record_acknowledge(actor=bob, record_id=rec.pk, note="  ")
    record_acknowledge(actor=bob, record_id=rec.pk, note="deposit from the OTC desk", ip="10.0.0.7")
    assert outside_ids(bob) == []
    event = AuditEvent.objects.get(verb="record.acknowledge")
    assert (event.actor, event.ip, event.after["note"]) == (bob, "10.0.0.7", "deposit from the OTC desk")
    with pytest.raises(ReviewRefused, match="already acknowledged"):
        record_acknowledge(actor=bob, record_id=rec.pk, note="again")


def test_linking_checks_key_set_asset_amount_and_status(alice, bob, key_set):
    req = new_request(requester=alice, key_set=key_set, amount="25")
    rec = record(key_set, amount="25")
    with pytest.raises(ReviewRefused, match="only a sent request"):
        record_link(actor=bob, record_id=rec.pk, request_id=req.pk)  # still pending
    TransferRequest.objects.filter(pk=req.pk).update(status=Status.UNKNOWN)
    wrong = record(key_set, exchange_id="900000000000000000002", amount="26")
    with pytest.raises(ReviewRefused, match="this record is 26 USDT"):
        record_link(actor=bob, record_id=wrong.pk, request_id=req.pk)
    other_ks = make_main_key_set(label="Other main", uid=30000001)
    grant(other_ks, bob, approve=True)
    elsewhere = record(other_ks, exchange_id="900000000000000000003")
    with pytest.raises(ReviewRefused, match="not a request of key set “Other main”"):
        record_link(actor=bob, record_id=elsewhere.pk, request_id=req.pk)
    record_link(actor=bob, record_id=rec.pk, request_id=req.pk)
    rec.refresh_from_db()
    assert rec.matched_request_id == req.pk
    assert AuditEvent.objects.get(verb="record.link").after["request"] == req.pk
    assert rec.pk not in outside_ids(bob)


def test_only_administrators_and_approvers_review(key_set):
    viewer = member("vera", "viewer")
    grant(key_set, viewer)
    rec = record(key_set)
    with pytest.raises(ReviewRefused, match="Only administrators and approvers"):
        record_acknowledge(actor=viewer, record_id=rec.pk, note="mine")
    stranger = member("sam", "approver")
    with pytest.raises(ReviewRefused, match="No such record"):
        record_acknowledge(actor=stranger, record_id=rec.pk, note="mine")
    rec.refresh_from_db()
    assert rec.acknowledged_at is None
    assert not AuditEvent.objects.filter(verb="record.acknowledge").exists()


def test_both_legs_of_one_inner_transfer_are_one_row(bob, key_set):
    sub = make_main_key_set(label="Sub one keys", uid=SUB1_UID)
    grant(sub, bob)
    out_leg = record(key_set, direction="out", to_account=str(SUB1_UID))
    in_leg = record(sub, direction="in")
    rows = reconciliation_get(user=bob).outside
    assert len(rows) == 1
    shown = rows[0]
    assert {shown.pk, getattr(shown, "other_leg").pk} == {out_leg.pk, in_leg.pk}  # noqa: B009


def test_the_page_offers_review_and_the_forms_work(alice, bob, key_set):
    rec = record(key_set)
    client = client_for_user(bob)
    html = client.get(reverse("transfers:reconciliation")).content.decode()
    assert f'id="record-{rec.pk}"' in html
    assert "Acknowledge…" in html
    response = csrf_post(client, reverse("transfers:record_acknowledge", args=[rec.pk]), {"note": "known"})
    assert response.status_code == 302
    rec.refresh_from_db()
    assert rec.acknowledge_note == "known"


@pytest.mark.parametrize(
    ("raw", "word"),
    [
        ("6", "completed"),
        ("CONFIRMED", "completed"),
        ("SUCCESS", "completed"),
        ("4", "pending"),
        ("PROCESSING", "pending"),
        ("5", "failed"),
        ("FAILED", "failed"),
        ("", "—"),
    ],
)
def test_one_status_vocabulary(raw, word):
    assert record_status(raw) == word
