"""The access matrix: every key-set page and POST as each role, with and without a grant."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import ApiKeySet, AuditEvent, KeySetGrant, KeySetStatus
from tests.factories import ApiKeySetFactory, KeySetGrantFactory
from tests.stepup_support import stepup_data

pytestmark = pytest.mark.django_db

NON_ADMINS = ["approver", "requester", "viewer", "outsider"]
ADMINS = ["admin1", "superuser"]


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _snapshot(key_set: ApiKeySet) -> tuple:
    key_set.refresh_from_db()
    return (
        key_set.status,
        key_set.label,
        key_set.secret_encrypted,
        key_set.api_key_encrypted,
        key_set.rotate_by,
        KeySetGrant.objects.count(),
        ApiKeySet.objects.count(),
        AuditEvent.objects.exclude(verb="auth.login").count(),  # signing in is an event of its own
    )


def _grant(key_set, user):
    return KeySetGrantFactory(key_set=key_set, user=user, can_view=True, can_request=True, can_approve=True)


def test_anonymous_visitors_are_sent_to_login(key_set):
    response = Client().get(reverse("accounts:keyset_detail", args=[key_set.pk]))
    assert response.status_code == 302
    assert "/login/" in response["Location"]


@pytest.mark.parametrize("role", NON_ADMINS)
@pytest.mark.parametrize("has_grant", [True, False])
def test_list_detail_and_balances_show_only_granted_key_sets(role, has_grant, request, key_set):
    user = request.getfixturevalue(role)
    other = ApiKeySetFactory(label="Someone else's key set")
    if has_grant:
        _grant(key_set, user)
    client = _client(user)
    listing = client.get(reverse("accounts:keyset_list")).content.decode()
    balances = client.get(reverse("accounts:balances")).content.decode()
    assert ("Treasury main" in listing) is has_grant
    assert ("Treasury main" in balances) is has_grant
    assert other.label not in listing
    assert other.label not in balances
    detail = client.get(reverse("accounts:keyset_detail", args=[key_set.pk]))
    assert detail.status_code == (200 if has_grant else 404)
    assert client.get(reverse("accounts:keyset_detail", args=[other.pk])).status_code == 404


@pytest.mark.parametrize("role", ADMINS)
def test_administrators_see_every_key_set_and_every_management_page(role, request, key_set):
    client = _client(request.getfixturevalue(role))
    assert "Treasury main" in client.get(reverse("accounts:keyset_list")).content.decode()
    for name, args in [
        ("accounts:keyset_detail", [key_set.pk]),
        ("accounts:keyset_add", []),
        ("accounts:keyset_edit", [key_set.pk]),
        ("accounts:keyset_replace_secret", [key_set.pk]),
        ("accounts:keyset_grants", [key_set.pk]),
        ("accounts:balances", []),
    ]:
        assert client.get(reverse(name, args=args)).status_code == 200, name


@pytest.mark.parametrize("role", NON_ADMINS)
@pytest.mark.parametrize("has_grant", [True, False])
def test_management_pages_are_forbidden_to_non_administrators(role, has_grant, request, key_set):
    user = request.getfixturevalue(role)
    if has_grant:
        _grant(key_set, user)
    client = _client(user)
    for name, args in [
        ("accounts:keyset_add", []),
        ("accounts:keyset_edit", [key_set.pk]),
        ("accounts:keyset_replace_secret", [key_set.pk]),
        ("accounts:keyset_grants", [key_set.pk]),
    ]:
        assert client.get(reverse(name, args=args)).status_code == 403, name


def _forged_posts(key_set: ApiKeySet, user, grant: KeySetGrant):
    return [
        (
            "accounts:keyset_add",
            [],
            {
                "label": "Forged",
                "environment": "bingx",
                "account_kind": "main",
                "api_key": "forged-api-key-123456",
                "secret": "forged-secret-123456",
            },
        ),
        ("accounts:keyset_edit", [key_set.pk], {"label": "Forged label"}),
        (
            "accounts:keyset_replace_secret",
            [key_set.pk],
            {"api_key": "forged-api-key-123456", "secret": "forged-secret-123456", "confirm": "on"},
        ),
        ("accounts:keyset_activate", [key_set.pk], {}),
        ("accounts:keyset_deactivate", [key_set.pk], {}),
        ("accounts:keyset_grants", [key_set.pk], {"user": user.pk, "can_view": "on", "can_approve": "on"}),
        ("accounts:keyset_grant_revoke", [key_set.pk, grant.pk], {}),
    ]


@pytest.mark.parametrize("role", NON_ADMINS)
@pytest.mark.parametrize("has_grant", [True, False])
def test_forged_management_posts_by_non_administrators_change_nothing(role, has_grant, request, admin1):
    user = request.getfixturevalue(role)
    key_set = ApiKeySetFactory(
        status=KeySetStatus.PENDING_ACTIVATION, created_by=admin1, secret_changed_by=admin1
    )
    someone = request.getfixturevalue("viewer" if role != "viewer" else "requester")
    grant = KeySetGrantFactory(key_set=key_set, user=someone)
    if has_grant:
        _grant(key_set, user)
    before = _snapshot(key_set)
    client = _client(user)
    for name, args, data in _forged_posts(key_set, user, grant):
        response = client.post(reverse(name, args=args), data)
        # Without a grant the key set's own actions look absent (404); admin-only pages say 403.
        assert response.status_code in (403, 404), name
        if name in ("accounts:keyset_activate", "accounts:keyset_deactivate") and not has_grant:
            assert response.status_code == 404
    assert _snapshot(key_set) == before


@pytest.mark.parametrize("role", NON_ADMINS)
def test_verify_refresh_and_discover_on_a_key_set_not_granted_are_404(role, request, key_set):
    client = _client(request.getfixturevalue(role))
    before = _snapshot(key_set)
    for name in ("accounts:keyset_verify", "accounts:keyset_refresh", "accounts:keyset_discover"):
        assert client.post(reverse(name, args=[key_set.pk])).status_code == 404, name
    assert _snapshot(key_set) == before


@pytest.mark.parametrize("role", [*ADMINS, *NON_ADMINS])
def test_guessed_ids_are_404_for_everyone(role, request, key_set):
    client = _client(request.getfixturevalue(role))
    missing = 987654
    assert client.get(reverse("accounts:keyset_detail", args=[missing])).status_code == 404
    for name in (
        "accounts:keyset_activate",
        "accounts:keyset_deactivate",
        "accounts:keyset_verify",
        "accounts:keyset_refresh",
        "accounts:keyset_discover",
    ):
        assert client.post(reverse(name, args=[missing])).status_code == 404, name


@pytest.mark.parametrize("role", ADMINS)
def test_guessed_ids_on_management_pages_are_404_for_administrators(role, request, key_set):
    client = _client(request.getfixturevalue(role))
    for name in ("accounts:keyset_edit", "accounts:keyset_replace_secret", "accounts:keyset_grants"):
        assert client.get(reverse(name, args=[987654])).status_code == 404, name
    grant = KeySetGrantFactory(key_set=ApiKeySetFactory(), user=request.getfixturevalue("viewer"))
    # A real grant id under the wrong key set is not found, and stays.
    response = client.post(reverse("accounts:keyset_grant_revoke", args=[key_set.pk, grant.pk]))
    assert response.status_code == 404
    assert KeySetGrant.objects.filter(pk=grant.pk).exists()


def test_state_changes_are_post_only(admin1, admin2, key_set):
    client = _client(admin2)
    for name in (
        "accounts:keyset_activate",
        "accounts:keyset_deactivate",
        "accounts:keyset_verify",
        "accounts:keyset_refresh",
        "accounts:keyset_discover",
    ):
        assert client.get(reverse(name, args=[key_set.pk])).status_code == 405, name


def test_posts_without_a_csrf_token_are_refused(admin2, key_set):
    ApiKeySet.objects.filter(pk=key_set.pk).update(status=KeySetStatus.PENDING_ACTIVATION)
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin2)
    before = _snapshot(key_set)
    assert client.post(reverse("accounts:keyset_activate", args=[key_set.pk])).status_code == 403
    assert _snapshot(key_set) == before


def test_admin_activation_flow_through_the_pages(admin1, admin2):
    created = _client(admin1).post(
        reverse("accounts:keyset_add"),
        {
            "label": "Page main",
            "environment": "bingx",
            "account_kind": "main",
            "api_key": "page-api-key-12345678",
            "secret": "page-secret-12345678",
        },
    )
    key_set = ApiKeySet.objects.get(label="Page main")
    assert created.status_code == 302
    assert key_set.status == KeySetStatus.PENDING_ACTIVATION
    refused = _client(admin1).post(reverse("accounts:keyset_activate", args=[key_set.pk]), follow=True)
    assert "second administrator" in refused.content.decode()
    key_set.refresh_from_db()
    assert key_set.status == KeySetStatus.PENDING_ACTIVATION
    _client(admin2).post(reverse("accounts:keyset_activate", args=[key_set.pk]), stepup_data(admin2))
    key_set.refresh_from_db()
    assert key_set.status == KeySetStatus.ACTIVE
    refused = _client(admin1).post(reverse("accounts:keyset_deactivate", args=[key_set.pk]), follow=True)
    assert "Confirm with a code" in refused.content.decode()  # destructive: confirmed with the step-up
    key_set.refresh_from_db()
    assert key_set.status == KeySetStatus.ACTIVE
    _client(admin1).post(reverse("accounts:keyset_deactivate", args=[key_set.pk]), stepup_data(admin1))
    key_set.refresh_from_db()
    assert key_set.status == KeySetStatus.INACTIVE


def test_admin_manages_grants_through_the_page(admin1, admin2, key_set, viewer):
    from accounts.models import PeopleChange
    from tests.stepup_support import stepup_data

    client = _client(admin1)
    response = client.post(
        reverse("accounts:keyset_grants", args=[key_set.pk]), {"user": viewer.pk, "can_view": "on"}
    )
    assert response.status_code == 302
    assert not KeySetGrant.objects.filter(key_set=key_set, user=viewer).exists()  # four eyes: proposed only
    change = PeopleChange.objects.get(status="pending")
    _client(admin2).post(reverse("people:change_approve", args=[change.pk]), stepup_data(admin2))
    grant = KeySetGrant.objects.get(key_set=key_set, user=viewer)
    assert "Treasury main" in _client(viewer).get(reverse("accounts:keyset_list")).content.decode()
    client.post(reverse("accounts:keyset_grant_revoke", args=[key_set.pk, grant.pk]))
    assert KeySetGrant.objects.filter(pk=grant.pk).exists()  # destructive: needs the step-up
    client.post(reverse("accounts:keyset_grant_revoke", args=[key_set.pk, grant.pk]), stepup_data(admin1))
    assert not KeySetGrant.objects.filter(pk=grant.pk).exists()
    assert _client(viewer).get(reverse("accounts:keyset_detail", args=[key_set.pk])).status_code == 404
