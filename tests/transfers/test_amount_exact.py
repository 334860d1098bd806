"""Amounts are exact on every database: the largest and most precise amounts the forms accept survive
request -> approve -> execution's re-check (SQLite stores a decimal column as a 15-digit float)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection

from tests.stepup_support import stepup_data
from tests.transfers.execution_support import INNER_APPLY, Sandbox, approved_request
from tests.transfers.workflow_support import new_request
from transfers.amounts import amount_as_stored, amount_matches
from transfers.execution.execute import transfer_execute
from transfers.forms import REQUEST_FORMS
from transfers.models import AttemptKind, Status, TransferKind, TransferRequest
from transfers.payload import amount_clean, payload_verify
from transfers.services.decisions import transfer_request_approve

# The largest amount below AMOUNT_MAX with every decimal place, the one from the report, the smallest.
AMOUNTS = ["999999999999999.99999999", "12345678.12345678", "100000000.00000001", "0.00000001", "25"]


@pytest.mark.parametrize("text", AMOUNTS)
def test_the_forms_accept_these_amounts(text):
    assert amount_clean(text) == Decimal(text)
    assert "amount" in REQUEST_FORMS[TransferKind.INNER].base_fields


@pytest.mark.parametrize("text", AMOUNTS)
def test_amount_round_trip_is_exact_and_not_tampered(alice, key_set, text):
    req = new_request(requester=alice, key_set=key_set, amount=text)
    again = TransferRequest.objects.get(pk=req.pk)
    assert again.amount == Decimal(text)
    assert again.amount_text == format(Decimal(text).normalize(), "f")
    assert payload_verify(request=again)
    again.refresh_from_db()
    assert again.amount == Decimal(text)


@pytest.mark.parametrize("text", AMOUNTS)
def test_approval_of_a_precise_amount_is_not_stale_or_tampered(alice, bob, key_set, text, enqueued):
    req = new_request(requester=alice, key_set=key_set, amount=text)
    # bob alone reaches the default quorum of one
    approved = transfer_request_approve(request_id=req.pk, approver=bob, stepup=stepup_data(bob))
    assert approved.status == Status.APPROVED
    req.refresh_from_db()
    assert req.status == Status.APPROVED
    assert req.amount == Decimal(text)


def test_an_edited_amount_column_is_still_detected(alice, key_set):
    req = new_request(requester=alice, key_set=key_set, amount="12345678.12345678")
    TransferRequest.objects.filter(pk=req.pk).update(amount=Decimal("12345679.12345678"))
    assert not payload_verify(request=TransferRequest.objects.get(pk=req.pk))


def test_sqlite_rounding_is_what_the_helpers_expect():
    exact = Decimal("12345678.12345678")
    if connection.vendor == "sqlite":
        assert amount_as_stored(exact) == Decimal("12345678.1234568")
    else:
        assert amount_as_stored(exact) == exact
    assert amount_matches(exact=exact, stored=amount_as_stored(exact))
    assert not amount_matches(exact=exact, stored=Decimal("12345678.2"))


@pytest.mark.usefixtures("limiter_dir")
@pytest.mark.parametrize("text", ["12345678.12345678", "0.00000001"])
def test_execution_rechecks_pass_and_send_the_exact_amount(
    sandbox: Sandbox, main_key_set, django_capture_on_commit_callbacks, enqueued, text
):
    req = approved_request(key_set=main_key_set, kind=TransferKind.INNER, amount=text)
    with django_capture_on_commit_callbacks(execute=True):
        transfer_execute(request_id=req.pk)
    req.refresh_from_db()
    attempt = req.attempts.get(kind=AttemptKind.SUBMIT)  # sent: the payload re-check passed
    assert attempt.params["amount"] == text
    assert req.status in (Status.SUCCEEDED, Status.FAILED)  # FAILED only as the exchange's balance refusal
    if req.status == Status.SUCCEEDED:
        assert len(sandbox.applied(INNER_APPLY)) == 1
    assert "tamper" not in req.attention_reason.lower()
