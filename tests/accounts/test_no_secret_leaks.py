"""No page or admin view shows a stored secret, its full API key or its ciphertext — for any role."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.key_permissions import permission_report
from accounts.models import AssetOverviewSnapshot, BalanceSnapshot, KeySetStatus, SubAccount
from accounts.services.key_sets import key_set_update
from tests.factories import TEST_API_KEY, TEST_SECRET, ApiKeySetFactory, KeySetGrantFactory

pytestmark = pytest.mark.django_db

ROLES = ["admin1", "superuser", "approver", "requester", "viewer", "outsider"]


@pytest.fixture
def rich_key_sets(admin1, approver, requester, viewer, outsider):
    """A main and a sub key set with balances, sub-accounts, a report and grants to every role."""
    now = timezone.now()
    main = ApiKeySetFactory(
        label="Leak main",
        uid=10000001,
        permissions=[1, 2, 4],
        created_by=admin1,
        secret_changed_by=admin1,
        rotate_by=dt.date(2020, 1, 1),
        last_verified_at=now,
        balances_synced_at=now,
    )
    main.verification = {
        "ok": True,
        "error": "",
        **permission_report(account_kind="main", permissions=[1, 2, 4], ip_whitelist=[]),
    }
    main.save()
    sub = ApiKeySetFactory(
        label="Leak sub",
        account_kind="sub",
        parent=main,
        uid=10000002,
        status=KeySetStatus.PENDING_ACTIVATION,
    )
    SubAccount.objects.create(main_key_set=main, sub_uid=10000002, name="demosub1")
    SubAccount.objects.create(main_key_set=main, sub_uid=10000003, name="demosub2", frozen=True)
    BalanceSnapshot.objects.create(
        key_set=main, wallet="fund", asset="USDT", free=Decimal("10000"), taken_at=now
    )
    BalanceSnapshot.objects.create(
        key_set=main, wallet="spot", asset="BTC", free=Decimal("0.1"), locked=Decimal("0.05"), taken_at=now
    )
    AssetOverviewSnapshot.objects.create(
        key_set=main, account_type="sopt", usdt_balance=Decimal(40000), taken_at=now
    )
    AssetOverviewSnapshot.objects.create(
        key_set=main, account_type="USDTMPerp", usdt_balance=Decimal(5000), taken_at=now
    )
    for ks in (main, sub):
        for user in (approver, requester, viewer, outsider):
            KeySetGrantFactory(key_set=ks, user=user, can_view=True)
    key_set_update(actor=admin1, key_set_id=main.pk, label="Leak main", rotate_by=main.rotate_by)
    return main, sub


def _pages(main, sub) -> list[str]:
    urls = [
        reverse("accounts:keyset_list"),
        reverse("accounts:balances"),
        reverse("accounts:keyset_add"),
    ]
    for ks in (main, sub):
        urls += [
            reverse("accounts:keyset_detail", args=[ks.pk]),
            reverse("accounts:keyset_edit", args=[ks.pk]),
            reverse("accounts:keyset_replace_secret", args=[ks.pk]),
            reverse("accounts:keyset_grants", args=[ks.pk]),
        ]
    urls.append("/admin/")
    for model in (
        "user",
        "apikeyset",
        "keysetgrant",
        "subaccount",
        "balancesnapshot",
        "assetoverviewsnapshot",
        "auditevent",
    ):
        urls.append(reverse(f"admin:accounts_{model}_changelist"))
    urls += [
        reverse("admin:accounts_apikeyset_change", args=[main.pk]),
        reverse("admin:accounts_apikeyset_change", args=[sub.pk]),
        reverse("admin:accounts_apikeyset_history", args=[main.pk]),
    ]
    return urls


@pytest.mark.parametrize("role", ROLES)
def test_no_page_or_admin_view_contains_a_stored_secret(role, request, rich_key_sets):
    main, sub = rich_key_sets
    client = Client()
    client.force_login(request.getfixturevalue(role))
    forbidden = [
        TEST_SECRET,
        TEST_API_KEY,
        main.secret_encrypted,
        main.api_key_encrypted,
        sub.secret_encrypted,
    ]
    shown = 0
    for url in _pages(main, sub):
        response = client.get(url)
        assert response.status_code in (200, 302, 403, 404), url
        body = response.content.decode()
        for value in forbidden:
            assert value not in body, f"{url} as {role} shows a secret"
        shown += response.status_code == 200
    assert shown >= 3  # every role sees at least the list, balances and a detail page


def test_detail_page_shows_what_a_person_needs(admin1, rich_key_sets):
    main, _sub = rich_key_sets
    client = Client()
    client.force_login(admin1)
    body = client.get(reverse("accounts:keyset_detail", args=[main.pk])).content.decode()
    assert "…" + TEST_API_KEY[-4:] in body
    assert 'class="badge sandbox"' in body
    assert "overdue" in body
    assert "Missing permission 5" in body
    assert "no IP whitelist" in body
    assert "10000003" in body
    assert "demosub2" in body
    assert "frozen" in body
    assert "Leak sub" in body  # sub 10000002 has its own key set here
    assert "10000" in body
    assert "5,000" in body


def test_sub_key_set_does_not_reveal_a_main_it_is_not_shared_with(viewer):
    main = ApiKeySetFactory(label="Hidden main")
    sub = ApiKeySetFactory(label="Shared sub", account_kind="sub", parent=main)
    KeySetGrantFactory(key_set=sub, user=viewer)
    client = Client()
    client.force_login(viewer)
    body = client.get(reverse("accounts:keyset_detail", args=[sub.pk])).content.decode()
    assert "Hidden main" not in body
    assert "not shared with you" in body
