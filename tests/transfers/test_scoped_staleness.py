"""Staleness that matches the change (issue 13, part 2): a policy change stales only the pending
requests it can affect, says which before it is approved, tells their requesters; the others keep
their approvals; stale, expired and failed requests can be submitted again; an existing rule with a
threshold can be edited."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import ApiKeySet, AuditEvent, User
from tests.stepup_support import stepup_data
from tests.transfers.workflow_support import grant, inner_fields, make_main_key_set, new_request
from transfers.execution.checks import policy_unchanged
from transfers.models import (
    DailyLimit,
    PolicyChangeAction,
    PolicyChangeRequest,
    PolicyChangeStatus,
    PolicyRule,
    PolicyState,
    Status,
    TransferKind,
    TransferRequest,
)
from transfers.policy_scope import change_preview, request_policy_holds
from transfers.refusals import PolicyRefused, RequestRefused
from transfers.services.decisions import transfer_request_approve
from transfers.services.policy_changes import policy_change_approve, policy_change_propose
from transfers.services.requests import transfer_request_create, transfer_requests_expire

WALLET_FIELDS = {"from_wallet": "fund", "to_wallet": "spot"}


def propose(actor: User, action: str, target_id: int | None = None, **values: Any) -> PolicyChangeRequest:
    change, _ = policy_change_propose(actor=actor, action=action, target_id=target_id, values=values)
    return change


def approve_change(admin: User, change: PolicyChangeRequest) -> Any:
    return policy_change_approve(actor=admin, stepup=stepup_data(admin), change_id=change.pk)[1]


def status(req: TransferRequest) -> str:
    req.refresh_from_db()
    return req.status


@pytest.fixture
def other_key_set(alice: User, bob: User, carol: User) -> ApiKeySet:
    ks = make_main_key_set(label="Treasury two", uid=10000005)
    grant(ks, alice, request=True, approve=True)
    grant(ks, bob, approve=True)
    grant(ks, carol, approve=True)
    return ks


@pytest.fixture
def desk(alice: User, key_set: ApiKeySet, other_key_set: ApiKeySet) -> dict[str, TransferRequest]:
    """Pending requests of several key sets, kinds, assets and amounts."""
    return {
        "small": new_request(requester=alice, key_set=key_set, amount="25"),
        "big": new_request(requester=alice, key_set=key_set, amount="50000"),
        "btc": new_request(requester=alice, key_set=key_set, asset="BTC", amount="1"),
        "wallet": new_request(
            requester=alice, key_set=key_set, kind=TransferKind.WALLET, fields=WALLET_FIELDS
        ),
        "other": new_request(requester=alice, key_set=other_key_set, amount="25"),
    }


def test_a_rule_with_a_threshold_stales_only_requests_in_its_range(
    desk: dict[str, TransferRequest], key_set: ApiKeySet, admin1: User, admin2: User, bob: User
) -> None:
    change = propose(
        admin1,
        PolicyChangeAction.RULE_CREATE,
        name="big USDT",
        key_set_id=key_set.pk,
        asset="USDT",
        min_amount="10000",
        required_approvals=2,
    )
    assert [r.pk for r in change_preview(change)] == [desk["big"].pk]
    result = approve_change(admin2, change)
    assert result.stale_requests == 1
    assert status(desk["big"]) == Status.STALE
    for name in ("small", "btc", "wallet", "other"):
        assert status(desk[name]) == Status.PENDING, name
        assert request_policy_holds(desk[name])
    # An unaffected request is still decided under its version: bob's approval counts.
    approved = transfer_request_approve(request_id=desk["small"].pk, approver=bob, stepup=stepup_data(bob))
    assert approved.status == Status.APPROVED
    assert policy_unchanged(req=approved) is None  # and execution's re-check passes
    stale_event = AuditEvent.objects.get(verb="transfer.stale", object_id=str(desk["big"].pk))
    assert "big USDT" in stale_event.after["reason"]


def test_the_requester_is_told_by_email_that_the_request_went_stale(
    desk: dict[str, TransferRequest],
    key_set: ApiKeySet,
    admin1: User,
    admin2: User,
    alice: User,
    django_capture_on_commit_callbacks: Any,
) -> None:
    mail.outbox.clear()
    change = propose(admin1, PolicyChangeAction.RULE_CREATE, name="btc", asset="BTC", required_approvals=1)
    with django_capture_on_commit_callbacks(execute=True):
        approve_change(admin2, change)
    stale_mails = [m for m in mail.outbox if "went stale" in m.subject]
    assert [m.to for m in stale_mails] == [[alice.email]]
    assert f"#{desk['btc'].pk}" in stale_mails[0].subject
    assert "rule “btc” changed" in stale_mails[0].body
    assert "Submit again" in stale_mails[0].body


def test_a_kind_rule_for_any_key_set_stales_that_kind_on_every_key_set(
    desk: dict[str, TransferRequest], admin1: User, admin2: User
) -> None:
    change = propose(
        admin1, PolicyChangeAction.RULE_CREATE, name="wallets", kind="wallet", required_approvals=1
    )
    approve_change(admin2, change)
    assert status(desk["wallet"]) == Status.STALE
    assert all(status(desk[n]) == Status.PENDING for n in ("small", "big", "btc", "other"))


def test_changing_or_deleting_a_rule_stales_what_it_matched_before_or_after(
    desk: dict[str, TransferRequest], key_set: ApiKeySet, admin1: User, admin2: User
) -> None:
    approve_change(
        admin2,
        propose(admin1, PolicyChangeAction.RULE_CREATE, name="btc", asset="BTC", required_approvals=1),
    )
    rule = PolicyRule.objects.get(name="btc")
    btc = new_request(requester=desk["small"].requested_by, key_set=key_set, asset="BTC", amount="1")
    # Moved from BTC to ETH: the BTC request it matched before goes stale, the USDT ones stay.
    values = {"name": "btc", "asset": "ETH", "required_approvals": 1}
    approve_change(admin2, propose(admin1, PolicyChangeAction.RULE_UPDATE, target_id=rule.pk, **values))
    assert status(btc) == Status.STALE
    assert status(desk["small"]) == Status.PENDING
    # Deleting a rule that matches nothing pending stales nothing.
    assert (
        approve_change(
            admin2, propose(admin1, PolicyChangeAction.RULE_DELETE, target_id=rule.pk)
        ).stale_requests
        == 0
    )


def test_limits_stale_their_key_set_and_asset_only_when_new_or_lower(
    desk: dict[str, TransferRequest], other_key_set: ApiKeySet, admin1: User, admin2: User
) -> None:
    def limit(value: str) -> int:
        change = propose(
            admin1, PolicyChangeAction.LIMIT_SAVE, key_set_id=other_key_set.pk, asset="USDT", limit=value
        )
        return approve_change(admin2, change).stale_requests

    assert limit("1000") == 1  # new: the other key set's USDT request only
    assert status(desk["other"]) == Status.STALE
    assert all(status(desk[n]) == Status.PENDING for n in ("small", "big", "btc", "wallet"))
    again = new_request(requester=desk["small"].requested_by, key_set=other_key_set, amount="25")
    assert limit("5000") == 0  # raised: cannot break a pending request
    assert status(again) == Status.PENDING
    assert request_policy_holds(again)
    assert limit("2000") == 1  # lowered
    assert status(again) == Status.STALE
    third = new_request(requester=desk["small"].requested_by, key_set=other_key_set, amount="25")
    removal = propose(admin1, PolicyChangeAction.LIMIT_DELETE, target_id=DailyLimit.objects.get().pk)
    assert approve_change(admin2, removal).stale_requests == 0
    assert status(third) == Status.PENDING


def test_the_policy_page_says_how_many_and_which_before_approval(
    desk: dict[str, TransferRequest], key_set: ApiKeySet, admin1: User, admin2: User
) -> None:
    c = Client()
    c.force_login(admin1)
    response = c.post(
        reverse("transfers:policy_rule_new"),
        {"position": 10, "name": "big", "required_approvals": 2, "min_amount": "10000", "is_active": "on"},
        follow=True,
    )
    assert f"Approving it makes 1 pending request(s) stale: #{desk['big'].pk}." in response.content.decode()
    change = PolicyChangeRequest.objects.get(status=PolicyChangeStatus.PENDING)
    c2 = Client()
    c2.force_login(admin2)
    page = c2.get(reverse("transfers:policy")).content.decode()
    preview = page.split(f'id="stale-preview-{change.pk}"')[1].split("</td>")[0]
    assert "1 pending request" in preview
    assert f"#{desk['big'].pk}" in preview
    assert f"#{desk['small'].pk}<" not in preview


def test_a_proposal_is_not_applied_when_its_rule_changed_since(
    key_set: ApiKeySet, admin1: User, admin2: User
) -> None:
    approve_change(admin2, propose(admin1, PolicyChangeAction.RULE_CREATE, name="r", required_approvals=1))
    rule = PolicyRule.objects.get()
    first = propose(
        admin1, PolicyChangeAction.RULE_UPDATE, target_id=rule.pk, name="r", asset="BTC", required_approvals=1
    )
    second = propose(
        admin1, PolicyChangeAction.RULE_UPDATE, target_id=rule.pk, name="r", asset="ETH", required_approvals=1
    )
    approve_change(admin2, first)
    with pytest.raises(PolicyRefused, match="changed after this proposal"):
        approve_change(admin2, second)
    second.refresh_from_db()
    assert second.status == PolicyChangeStatus.REJECTED
    rule.refresh_from_db()
    assert rule.asset == "BTC"


def test_a_version_made_without_a_recorded_change_still_stales_at_decision(
    pending: TransferRequest, bob: User
) -> None:
    PolicyState.objects.update(version=pending.policy_version + 1)
    assert not request_policy_holds(pending)
    with pytest.raises(Exception, match="policy changed"):
        transfer_request_approve(request_id=pending.pk, approver=bob, stepup=stepup_data(bob))
    assert status(pending) == Status.STALE


# --- editing an existing rule with a threshold ------------------------------------------------------


def test_editing_a_rule_with_a_threshold_round_trips(key_set: ApiKeySet, admin1: User, admin2: User) -> None:
    approve_change(
        admin2,
        propose(
            admin1,
            PolicyChangeAction.RULE_CREATE,
            name="big",
            min_amount="10000",
            required_approvals=2,
            passkey_required_above="250000.5",
        ),
    )
    rule = PolicyRule.objects.get()
    c = Client()
    c.force_login(admin1)
    form = c.get(reverse("transfers:policy_rule_edit", args=[rule.pk])).context["form"]
    assert form["min_amount"].value() == "10000"
    assert form["passkey_required_above"].value() == "250000.5"
    data = {name: form[name].value() for name in ("position", "min_amount", "passkey_required_above")}
    data.update(name="bigger", required_approvals=2, is_active="on")
    response = c.post(reverse("transfers:policy_rule_edit", args=[rule.pk]), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    change = PolicyChangeRequest.objects.get(status=PolicyChangeStatus.PENDING)
    assert change.proposed["min_amount"] == "10000"
    assert change.proposed["name"] == "bigger"
    # The stored 18-place form is taken too (exactly 10000, not "more than 8 decimals").
    data["min_amount"] = "10000.000000000000000000"
    data["name"] = "biggest"
    change.delete()
    assert c.post(reverse("transfers:policy_rule_edit", args=[rule.pk]), data).status_code == 302


# --- submit again -------------------------------------------------------------------------------------


def _stale(req: TransferRequest, admin1: User, admin2: User) -> TransferRequest:
    approve_change(admin2, propose(admin1, PolicyChangeAction.RULE_CREATE, name="all", required_approvals=1))
    req.refresh_from_db()
    assert req.status == Status.STALE
    return req


def test_submit_again_creates_a_new_request_with_new_approvals_linked_both_ways(
    pending: TransferRequest, alice: User, admin1: User, admin2: User
) -> None:
    old = _stale(pending, admin1, admin2)
    c = Client()
    c.force_login(alice)
    detail = c.get(reverse("transfers:request_detail", args=[old.pk])).content.decode()
    assert 'id="submit-again-button"' in detail
    form_page = c.get(reverse("transfers:request_new"), {"kind": str(old.kind), "again": str(old.pk)})
    form = form_page.context["form"]
    assert form["amount"].value() == "25"
    assert form["recipient_account"].value() == old.payload["recipient_account"]
    assert "Submitting again from" in form_page.content.decode()
    data = {name: form[name].value() for name in form.fields if form[name].value() is not None}
    data.update(kind=old.kind, again=old.pk, key_set=old.key_set_id)
    response = c.post(reverse("transfers:request_new"), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    new = TransferRequest.objects.exclude(pk=old.pk).get()
    assert new.status == Status.PENDING
    assert new.approvals.count() == 0
    assert new.payload_sha256 != old.payload_sha256
    assert new.client_id != old.client_id
    assert new.payload["amount"] == old.payload["amount"]
    created = AuditEvent.objects.get(verb="transfer.request", object_id=str(new.pk))
    assert created.after["resubmit_of"] == old.pk
    linked = AuditEvent.objects.get(verb="transfer.resubmitted", object_id=str(old.pk))
    assert linked.after["resubmitted_as"] == new.pk
    assert (
        f'href="/transfers/{new.pk}/"'
        in c.get(reverse("transfers:request_detail", args=[old.pk])).content.decode()
    )


def test_only_stale_expired_or_failed_requests_can_be_submitted_again(
    pending: TransferRequest, alice: User, key_set: ApiKeySet
) -> None:
    with pytest.raises(RequestRefused, match="Only a stale, expired or failed"):
        transfer_request_create(
            requester=alice,
            key_set_id=key_set.pk,
            kind=TransferKind.INNER,
            asset="USDT",
            amount=Decimal("25"),
            fields=inner_fields(),
            resubmit_of=pending.pk,
        )
    assert TransferRequest.objects.count() == 1
    c = Client()
    c.force_login(alice)
    assert (
        'id="submit-again-button"'
        not in c.get(reverse("transfers:request_detail", args=[pending.pk])).content.decode()
    )


def test_an_expired_request_offers_submit_again_to_those_who_may_request(
    pending: TransferRequest, bob: User, alice: User
) -> None:
    transfer_requests_expire(now=timezone.now() + timedelta(days=2))
    assert status(pending) == Status.EXPIRED
    for user, offered in ((alice, True), (bob, False)):  # bob may approve, not request
        c = Client()
        c.force_login(user)
        page = c.get(reverse("transfers:request_detail", args=[pending.pk])).content.decode()
        assert ('id="submit-again-button"' in page) is offered


# --- batches ----------------------------------------------------------------------------------------------


def test_a_batch_untouched_by_a_change_is_still_approved_one_touched_goes_stale(
    key_set: ApiKeySet, alice: User, bob: User, admin1: User, admin2: User
) -> None:
    from tests.transfers.test_batches import GOOD, csv_batch
    from tests.transfers.test_batches import submit as submit_batch
    from transfers.models import BatchStatus
    from transfers.services.batch_decisions import transfer_batch_approve

    untouched = submit_batch(alice, GOOD)  # USDT legs
    touched = submit_batch(alice, csv_batch("wallet,Treasury main,BTC,1,,,,fund,spot"))
    approve_change(
        admin2, propose(admin1, PolicyChangeAction.RULE_CREATE, name="btc", asset="BTC", required_approvals=1)
    )
    assert (
        transfer_batch_approve(batch_id=untouched.pk, approver=bob, stepup=stepup_data(bob)).status
        == BatchStatus.APPROVED
    )
    with pytest.raises(Exception, match="stale"):
        transfer_batch_approve(batch_id=touched.pk, approver=bob, stepup=stepup_data(bob))
    touched.refresh_from_db()
    assert touched.status == BatchStatus.STALE
