"""Pages show a key set's figures only to people with a grant on it (administrators see all)."""

from __future__ import annotations

from decimal import Decimal

from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import AccountKind, BalanceSnapshot
from tests.factories import ApiKeySetFactory
from tests.transfers.workflow_support import MAIN_UID, SUB1_UID, grant, member, new_request
from transfers import selectors
from transfers.models import DailyLimit, PolicyChangeRequest, PolicyRule, TransferKind


def page(user, name: str, *args) -> str:
    c = Client()
    c.force_login(user)
    response = c.get(reverse(name, args=args))
    assert response.status_code == 200
    return response.content.decode()


def test_policy_page_shows_only_key_sets_the_person_may_view(alice, admin1, key_set):
    hidden = ApiKeySetFactory(label="Hidden treasury", uid=77000001)
    PolicyRule.objects.create(position=1, name="visible rule", key_set=key_set, required_approvals=2)
    PolicyRule.objects.create(position=2, name="hidden rule", key_set=hidden, required_approvals=3)
    PolicyRule.objects.create(position=3, name="any key set rule", required_approvals=1)
    DailyLimit.objects.create(key_set=key_set, asset="USDT", limit=Decimal("1111"))
    DailyLimit.objects.create(key_set=hidden, asset="USDT", limit=Decimal("987654"))
    PolicyChangeRequest.objects.create(
        action="limit_save",
        proposed={"key_set": hidden.pk, "asset": "BTC", "limit": "424242"},
        proposed_by=admin1,
    )

    mine = page(alice, "transfers:policy")
    assert "visible rule" in mine
    assert "any key set rule" in mine
    assert "1,111" in mine  # amounts are shown with thousands separators (accounts.formatting)
    for secret in ("Hidden treasury", "hidden rule", "987654", "987,654", "424242", "424,242"):
        assert secret not in mine

    everything = page(admin1, "transfers:policy")
    for text in ("Hidden treasury", "hidden rule", "987,654", "424,242", "visible rule"):
        assert text in everything


def test_family_request_hides_the_paying_sub_accounts_balance_without_a_grant(alice, admin1, key_set):
    sub = ApiKeySetFactory(label="Sub paying", uid=SUB1_UID, parent=key_set, account_kind=AccountKind.SUB)
    BalanceSnapshot.objects.create(
        key_set=sub, wallet="fund", asset="USDT", free=Decimal("31337.5"), taken_at=timezone.now()
    )
    req = new_request(
        requester=alice,
        key_set=key_set,
        kind=TransferKind.FAMILY,
        amount="1",
        fields={
            "from_uid": SUB1_UID,
            "from_type": 2,
            "from_account_type": 1,
            "to_uid": MAIN_UID,
            "to_type": 1,
            "to_account_type": 1,
        },
    )
    viewer = member("vera")
    grant(key_set, viewer)  # the requesting main key set only, not the paying sub-account

    assert selectors.request_detail(user=viewer, pk=req.pk).balance is None
    hidden = page(viewer, "transfers:request_detail", req.pk)
    assert "31337.5" not in hidden
    assert "31,337.5" not in hidden

    grant(sub, viewer)
    assert selectors.request_detail(user=viewer, pk=req.pk).balance is not None
    assert "31,337.5" in page(viewer, "transfers:request_detail", req.pk)
    assert "31,337.5" in page(admin1, "transfers:request_detail", req.pk)
