"""The approver's page answers every question in people's words (issue 13, part 4)."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import BalanceSnapshot
from tests.stepup_support import stepup_data
from tests.transfers.test_pages import client_for_user, csrf_post
from tests.transfers.workflow_support import SUB1_UID, new_request
from transfers.models import PolicyRule, Status, TransferKind, TransferRequest
from transfers.services.decisions import transfer_request_approve

pytestmark = pytest.mark.django_db


def page_text(user, req: TransferRequest) -> str:
    body = client_for_user(user).get(reverse("transfers:request_detail", args=[req.pk])).content.decode()
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body))


def fact(user, req: TransferRequest, fact_id: str) -> str:
    body = client_for_user(user).get(reverse("transfers:request_detail", args=[req.pk])).content.decode()
    match = re.search(rf'id="{fact_id}"[^>]*>(.*?)</dd>', body, re.S)
    assert match, f"no {fact_id} on the page"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", match.group(1))).strip()


def test_destination_is_our_sub_account_by_name_not_a_bare_uid(alice, bob, key_set):
    req = new_request(requester=alice, key_set=key_set)  # inner transfer to SUB1_UID ("sub one")
    text = fact(bob, req, "fact-destination")
    assert text.startswith("our sub-account sub one")
    assert f"UID {SUB1_UID}" in text  # the technical form stays as detail
    assert "our account" in text
    assert "Funding wallet of Treasury main" in fact(bob, req, "fact-source")


def test_wallets_have_human_names(alice, bob, key_set):
    req = new_request(
        requester=alice,
        key_set=key_set,
        kind=TransferKind.WALLET,
        fields={"from_wallet": "USDTMPerp", "to_wallet": "fund"},
    )
    assert fact(bob, req, "fact-source") == "USDT-M perpetual futures wallet of Treasury main"
    assert fact(bob, req, "fact-destination").startswith("Funding wallet of Treasury main")
    assert "USDTMPerp" not in fact(bob, req, "fact-source")


def test_who_requested_who_approved_who_may_still_approve_and_the_rule(alice, bob, carol, key_set):
    PolicyRule.objects.create(position=1, name="Two for USDT", required_approvals=2)
    req = new_request(requester=alice, key_set=key_set)
    assert "alice" in fact(carol, req, "fact-requester")
    assert fact(carol, req, "fact-approved-by") == "nobody yet"
    assert fact(carol, req, "fact-may-approve") == "bob, carol"  # never the requester
    assert fact(carol, req, "fact-quorum").startswith("2 approvals, set by rule “Two for USDT”")

    transfer_request_approve(request_id=req.pk, approver=bob, stepup=stepup_data(bob))
    assert fact(carol, req, "fact-approved-by") == "bob"
    assert fact(carol, req, "fact-may-approve") == "carol"


def test_default_quorum_is_named_as_such(alice, bob, key_set):
    req = new_request(requester=alice, key_set=key_set)
    assert "the default of policy" in fact(bob, req, "fact-quorum")


def test_duplicates_within_the_hour_are_flagged_and_linked(alice, bob, key_set):
    first = new_request(requester=alice, key_set=key_set, amount="25")
    other_amount = new_request(requester=alice, key_set=key_set, amount="26")
    second = new_request(requester=alice, key_set=key_set, amount="25")
    text = fact(bob, second, "fact-duplicates")
    assert f"#{first.pk}" in text
    assert f"#{other_amount.pk}" not in text
    assert "no identical request" in fact(bob, other_amount, "fact-duplicates")


def test_balance_before_and_after_and_the_24h_use(alice, bob, key_set):
    BalanceSnapshot.objects.create(
        key_set=key_set, wallet="fund", asset="USDT", free=Decimal("12500.5"), taken_at=timezone.now()
    )
    new_request(requester=alice, key_set=key_set, amount="1000")
    req = new_request(requester=alice, key_set=key_set, amount="25")
    assert "12,500.5 USDT free, 12,475.5 USDT after this transfer" in fact(bob, req, "fact-balance")
    assert fact(bob, req, "fact-daily").startswith("1,025 USDT requested in the last 24 h")


def test_heading_says_what_was_executed_after_the_end(alice, bob, key_set):
    req = new_request(requester=alice, key_set=key_set)
    assert "What would be executed" in page_text(bob, req)
    TransferRequest.objects.filter(pk=req.pk).update(
        status=Status.FAILED, failure_code="0", failure_message="Insufficient balance"
    )
    text = page_text(bob, req)
    assert "What was executed" in text
    assert "What would be executed" not in text
    assert "The source wallet did not hold enough USDT for this transfer; nothing moved." in text
    assert "BingX 0:" not in text


def test_rejection_without_a_reason_is_refused_on_the_page(alice, bob, key_set):
    req = new_request(requester=alice, key_set=key_set)
    response = csrf_post(
        client_for_user(bob), reverse("transfers:request_reject", args=[req.pk]), stepup_data(bob)
    )
    assert response.status_code == 400
    assert "Say why you reject this request" in response.content.decode()
    req.refresh_from_db()
    assert req.status == Status.PENDING


def test_enter_in_a_field_submits_no_decision(alice, bob, key_set):
    req = new_request(requester=alice, key_set=key_set)
    body = client_for_user(bob).get(reverse("transfers:request_detail", args=[req.pk])).content.decode()
    form = body[body.index('id="decision-form"') :]
    first_button = re.search(r"<button[^>]*>", form)
    assert first_button is not None
    assert "disabled" in first_button.group(0)  # the default button: implicit submission does nothing
