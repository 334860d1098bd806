"""Submitting a request: everything a user can get wrong is refused with a reason, and nothing is stored."""

from decimal import Decimal

import pytest

from accounts.models import AuditEvent, KeySetStatus
from tests.transfers.workflow_support import (
    EXTERNAL_UID,
    MAIN_UID,
    SUB1_UID,
    SUB2_UID,
    grant,
    inner_fields,
    make_main_key_set,
    member,
    new_request,
)
from transfers.models import (
    AllowedRecipient,
    DailyLimit,
    PolicyRule,
    RecipientStatus,
    Status,
    TransferKind,
    TransferRequest,
)
from transfers.payload import payload_sha256, payload_verify
from transfers.refusals import RequestRefused
from transfers.services.requests import transfer_request_create


def test_inner_request_to_own_sub_account_is_stored_with_payload_and_hash(alice, key_set):
    req = new_request(requester=alice, key_set=key_set, amount="25.50")
    assert req.status == Status.PENDING
    assert req.required_approvals == 1
    assert req.amount == Decimal("25.5")
    assert req.payload["amount"] == "25.5"
    assert req.payload["recipient_account"] == str(SUB1_UID)
    assert req.payload_sha256 == payload_sha256(req.payload)
    assert payload_verify(request=req)
    assert len(req.client_id) == 32
    assert req.client_id == req.payload["client_id"]
    event = AuditEvent.objects.get(verb="transfer.request", object_id=str(req.pk))
    assert event.actor == alice
    assert event.after["payload_sha256"] == req.payload_sha256


def test_each_request_gets_its_own_client_id(alice, key_set):
    a = new_request(requester=alice, key_set=key_set)
    b = new_request(requester=alice, key_set=key_set)
    assert a.client_id != b.client_id


def test_expiry_follows_the_setting(alice, key_set, settings):
    settings.TRANSFER_REQUEST_TTL_HOURS = 2
    req = new_request(requester=alice, key_set=key_set)
    assert 7190 < (req.expires_at - req.created_at).total_seconds() <= 7200


def _refused(match, **kwargs):
    before = TransferRequest.objects.count()
    with pytest.raises(RequestRefused, match=match):
        transfer_request_create(**kwargs)
    assert TransferRequest.objects.count() == before


@pytest.mark.parametrize(
    ("asset", "amount", "match"),
    [
        ("", "1", "asset symbol"),
        ("US DT", "1", "asset symbol"),
        ("USDT", "0", "greater than zero"),
        ("USDT", "-5", "greater than zero"),
        ("USDT", "1.123456789", "8 decimal places"),
        ("USDT", "lots", "decimal number"),
    ],
)
def test_bad_asset_or_amount_is_refused(alice, key_set, asset, amount, match):
    _refused(
        match,
        requester=alice,
        key_set_id=key_set.pk,
        kind=TransferKind.INNER,
        asset=asset,
        amount=amount,
        fields=inner_fields(),
    )


def test_wallet_transfer_needs_distinct_wallets(alice, key_set):
    _refused(
        "must differ",
        requester=alice,
        key_set_id=key_set.pk,
        kind="wallet",
        asset="USDT",
        amount="1",
        fields={"from_wallet": "fund", "to_wallet": "fund"},
    )
    _refused(
        "Choose both",
        requester=alice,
        key_set_id=key_set.pk,
        kind="wallet",
        asset="USDT",
        amount="1",
        fields={"from_wallet": "fund", "to_wallet": "moon"},
    )
    req = new_request(
        requester=alice, key_set=key_set, kind="wallet", fields={"from_wallet": "fund", "to_wallet": "spot"}
    )
    assert req.payload["from_wallet"] == "fund"
    assert req.payload["to_wallet"] == "spot"


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        (inner_fields("12ab"), "digits only"),
        (inner_fields("not-an-email", recipient_type=3), "valid email"),
        (inner_fields("555", recipient_type=2, calling_code="1"), "digits only"),
        (inner_fields("5550100001", recipient_type=2), "calling code"),
        (inner_fields(MAIN_UID), "paying account itself"),
        (inner_fields(EXTERNAL_UID), "not in the address book"),
        (inner_fields(wallet_type=9), "wallet"),
        (inner_fields(recipient_type=7), "UID, a phone"),
    ],
)
def test_inner_recipient_format_and_allowance(alice, key_set, fields, match):
    _refused(
        match, requester=alice, key_set_id=key_set.pk, kind="inner", asset="USDT", amount="1", fields=fields
    )


def test_outside_recipient_needs_an_active_address_book_entry(alice, admin1, key_set):
    entry = AllowedRecipient.objects.create(
        label="Partner", recipient_type=3, account="partner@example.com", requested_by=admin1
    )
    fields = inner_fields("Partner@Example.com", recipient_type=3)
    _refused(
        "address book",
        requester=alice,
        key_set_id=key_set.pk,
        kind="inner",
        asset="USDT",
        amount="1",
        fields=fields,
    )
    entry.status = RecipientStatus.ACTIVE
    entry.save()
    req = new_request(requester=alice, key_set=key_set, fields=fields)
    assert req.recipient == entry
    assert req.payload["recipient_account"] == "partner@example.com"


def test_phone_recipient_carries_its_calling_code(alice, admin1, key_set):
    AllowedRecipient.objects.create(
        label="Phone",
        recipient_type=2,
        account="5550100001",
        calling_code="1",
        requested_by=admin1,
        status="active",
    )
    req = new_request(
        requester=alice,
        key_set=key_set,
        fields=inner_fields("555-010-0001", recipient_type=2, calling_code="+1"),
    )
    assert (req.payload["recipient_account"], req.payload["calling_code"]) == ("5550100001", "1")


def test_another_key_sets_uid_is_an_own_account(alice, key_set):
    make_main_key_set(label="Other main", uid=20000001)
    req = new_request(requester=alice, key_set=key_set, fields=inner_fields(20000001))
    assert req.recipient is None


def test_requester_needs_the_request_grant(bob, key_set):
    _refused(
        "request grant",
        requester=bob,
        key_set_id=key_set.pk,
        kind="inner",
        asset="USDT",
        amount="1",
        fields=inner_fields(),
    )


def test_invisible_key_set_looks_absent(stranger, key_set):
    _refused(
        "No such key set",
        requester=stranger,
        key_set_id=key_set.pk,
        kind="inner",
        asset="USDT",
        amount="1",
        fields=inner_fields(),
    )


def test_inactive_key_set_is_refused(alice, key_set):
    key_set.status = KeySetStatus.INACTIVE
    key_set.save()
    _refused(
        "not active",
        requester=alice,
        key_set_id=key_set.pk,
        kind="inner",
        asset="USDT",
        amount="1",
        fields=inner_fields(),
    )


def test_key_set_without_the_permission_is_refused(alice, key_set):
    key_set.permissions = [1, 2, 4]
    key_set.save()
    _refused(
        "permission 5",
        requester=alice,
        key_set_id=key_set.pk,
        kind="inner",
        asset="USDT",
        amount="1",
        fields=inner_fields(),
    )


def test_sub_inner_needs_a_sub_key_set(alice, key_set):
    key_set.permissions = [1, 2, 4, 5, 7]
    key_set.save()
    _refused(
        "sub-account key set",
        requester=alice,
        key_set_id=key_set.pk,
        kind="sub_inner",
        asset="USDT",
        amount="1",
        fields=inner_fields(),
    )


def test_sub_inner_to_a_sibling_or_the_main(alice, sub_key_set):
    to_sibling = new_request(
        requester=alice, key_set=sub_key_set, kind="sub_inner", fields=inner_fields(SUB2_UID)
    )
    to_main = new_request(
        requester=alice, key_set=sub_key_set, kind="sub_inner", fields=inner_fields(MAIN_UID)
    )
    assert to_sibling.payload["recipient_account"] == str(SUB2_UID)
    assert to_main.kind == "sub_inner"
    _refused(
        "paying account itself",
        requester=alice,
        key_set_id=sub_key_set.pk,
        kind="sub_inner",
        asset="USDT",
        amount="1",
        fields=inner_fields(SUB1_UID),
    )


def family(**extra):
    return {
        "from_uid": MAIN_UID,
        "from_type": 1,
        "from_account_type": 1,
        "to_uid": SUB1_UID,
        "to_type": 2,
        "to_account_type": 1,
        "remark": "rebalance",
        **extra,
    }


def test_family_transfer_between_main_and_known_sub(alice, key_set):
    req = new_request(requester=alice, key_set=key_set, kind="family", fields=family())
    assert req.payload["to_uid"] == SUB1_UID
    assert req.payload["remark"] == "rebalance"


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        ({"to_uid": EXTERNAL_UID}, "not a known sub-account"),
        ({"from_type": 2}, "main account, not a sub-account"),
        ({"to_type": 1}, "not this key set's main account"),
        ({"to_uid": MAIN_UID, "to_type": 1}, "must differ"),
        ({"from_account_type": 9}, "from wallet"),
    ],
)
def test_family_transfer_mistakes(alice, key_set, extra, match):
    _refused(
        match,
        requester=alice,
        key_set_id=key_set.pk,
        kind="family",
        asset="USDT",
        amount="1",
        fields=family(**extra),
    )


def test_policy_rule_sets_the_quorum_first_match_wins(alice, key_set):
    PolicyRule.objects.create(
        position=10, name="big USDT", asset="USDT", min_amount=Decimal(1000), required_approvals=2
    )
    PolicyRule.objects.create(position=20, name="everything", required_approvals=1)
    small = new_request(requester=alice, key_set=key_set, amount="999.99")
    big = new_request(requester=alice, key_set=key_set, amount="1000")
    assert small.policy_rule is not None
    assert big.policy_rule is not None
    assert (small.required_approvals, small.policy_rule.name) == (1, "everything")
    assert (big.required_approvals, big.policy_rule.name) == (2, "big USDT")


def test_inactive_rules_and_other_key_sets_do_not_match(alice, key_set):
    other = make_main_key_set(label="Elsewhere", uid=30000001)
    PolicyRule.objects.create(position=1, name="off", required_approvals=3, is_active=False)
    PolicyRule.objects.create(position=2, name="other ks", key_set=other, required_approvals=3)
    PolicyRule.objects.create(position=3, name="wallet only", kind="wallet", required_approvals=3)
    req = new_request(requester=alice, key_set=key_set)
    assert req.required_approvals == 1
    assert req.policy_rule is None


def test_quorum_that_cannot_be_reached_is_refused(alice, key_set):
    PolicyRule.objects.create(
        position=1, name="three", required_approvals=3
    )  # alice excluded: bob + carol = 2
    _refused(
        "only 2 person",
        requester=alice,
        key_set_id=key_set.pk,
        kind="inner",
        asset="USDT",
        amount="1",
        fields=inner_fields(),
    )


def test_inactive_approvers_do_not_count_towards_feasibility(alice, bob, carol, key_set):
    PolicyRule.objects.create(position=1, name="two", required_approvals=2)
    carol.is_active = False
    carol.save()
    _refused(
        "only 1 person",
        requester=alice,
        key_set_id=key_set.pk,
        kind="inner",
        asset="USDT",
        amount="1",
        fields=inner_fields(),
    )


def test_group_grants_count_as_approvers(alice, key_set):
    from django.contrib.auth.models import Group

    from tests.factories import KeySetGrantFactory

    PolicyRule.objects.create(position=1, name="three", required_approvals=3)
    desk = Group.objects.create(name="desk")
    member("dave").groups.add(desk)
    KeySetGrantFactory(key_set=key_set, group=desk, can_approve=True)
    assert new_request(requester=alice, key_set=key_set).required_approvals == 3


def test_daily_limit_is_a_rolling_24h_sum(alice, key_set):
    DailyLimit.objects.create(key_set=key_set, asset="USDT", limit=Decimal(100))
    first = new_request(requester=alice, key_set=key_set, amount="60")
    _refused(
        "24-hour limit of 100 USDT",
        requester=alice,
        key_set_id=key_set.pk,
        kind="inner",
        asset="USDT",
        amount="40.01",
        fields=inner_fields(),
    )
    new_request(requester=alice, key_set=key_set, amount="40")  # exactly at the limit is fine
    # cancelled/rejected/failed/expired requests free their share
    TransferRequest.objects.filter(pk=first.pk).update(status=Status.CANCELLED)
    new_request(requester=alice, key_set=key_set, amount="60")
    # other assets are not limited
    new_request(requester=alice, key_set=key_set, asset="BTC", amount="500")


def test_daily_limit_window_forgets_older_requests(alice, key_set):
    from datetime import timedelta

    from django.utils import timezone

    DailyLimit.objects.create(key_set=key_set, asset="USDT", limit=Decimal(100))
    old = new_request(requester=alice, key_set=key_set, amount="100")
    TransferRequest.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - timedelta(hours=24, minutes=1)
    )
    new_request(requester=alice, key_set=key_set, amount="100")


def test_note_is_kept_but_not_in_the_payload(alice, key_set):
    from transfers.services.requests import transfer_request_create

    req = transfer_request_create(
        requester=alice,
        key_set_id=key_set.pk,
        kind="inner",
        asset="USDT",
        amount="1",
        fields=inner_fields(),
        note="rent",
    )
    assert req.note == "rent"
    assert "note" not in req.payload


def test_viewer_only_grant_cannot_request(key_set):
    viewer = member("vera", "viewer")
    grant(key_set, viewer)
    _refused(
        "request grant",
        requester=viewer,
        key_set_id=key_set.pk,
        kind="inner",
        asset="USDT",
        amount="1",
        fields=inner_fields(),
    )
