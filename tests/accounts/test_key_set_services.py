"""Key-set lifecycle and grants: admin only, four eyes on keys, audited without secrets."""

from __future__ import annotations

import datetime as dt

import pytest

from accounts.access import AccessDenied, Capability, key_sets_for
from accounts.crypto import PURPOSE_API_KEY, secret_decrypt
from accounts.key_permissions import permission_report
from accounts.models import ApiKeySet, AuditEvent, Environment, KeySetGrant, KeySetStatus
from accounts.services.grants import grant_revoke, grant_set
from accounts.services.key_sets import (
    KeySetRefused,
    key_set_activate,
    key_set_create,
    key_set_deactivate,
    key_set_replace_secret,
    key_set_update,
)
from tests.accounts.conftest import pending_request
from tests.factories import ApiKeySetFactory, GroupFactory
from tests.stepup_support import stepup_data
from transfers.models import Status

pytestmark = pytest.mark.django_db

NEW_SECRET = "brand-new-secret-value-XYZ123456"


def _create(actor, **overrides):
    kwargs = {
        "actor": actor,
        "label": "Ops main",
        "api_key": "ops-api-key-abcdef0123456789",
        "secret": "ops-secret-0123456789abcdef",
    }
    kwargs.update(overrides)
    return key_set_create(**kwargs)


def _audit_text() -> str:
    return " ".join(f"{e.before} {e.after} {e.object_repr}" for e in AuditEvent.objects.all())


def test_admin_creates_a_pending_key_set_on_real_bingx_by_default(admin1):
    ks = _create(admin1)
    assert ks.status == KeySetStatus.PENDING_ACTIVATION
    assert ks.environment == Environment.BINGX
    assert ks.base_url == "https://open-api.bingx.com"
    assert ks.api_key_hint == "…6789"
    assert secret_decrypt(
        token=ks.api_key_encrypted, key_set_uuid=ks.uuid, purpose=PURPOSE_API_KEY
    ).startswith("ops-")
    event = AuditEvent.objects.get(verb="keyset.create")
    assert event.actor == admin1
    assert "ops-secret" not in _audit_text()
    assert "ops-api-key" not in _audit_text()


def test_sandbox_is_only_used_when_chosen(admin1, settings):
    ks = _create(admin1, environment=Environment.SANDBOX)
    assert ks.base_url == settings.BINGX_SANDBOX_URL
    assert ks.is_sandbox


@pytest.mark.parametrize(
    ("environment", "base_url", "message"),
    [
        (Environment.BINGX, "http://open-api.bingx.com", "https"),
        (Environment.BINGX, "https://127.0.0.1:8100", "bingx.com host"),
        (Environment.SANDBOX, "https://open-api.bingx.com", "real BingX host"),
        (Environment.BINGX, "https://open-api.bingx.com/path", "no path"),
        (Environment.BINGX, "ftp://open-api.bingx.com", "full URL"),
        ("moon", "", "Choose BingX or the sandbox"),
    ],
)
def test_bad_base_urls_are_refused_and_nothing_is_stored(admin1, environment, base_url, message):
    with pytest.raises(KeySetRefused, match=message):
        _create(admin1, environment=environment, base_url=base_url)
    assert not ApiKeySet.objects.exists()
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [("secret", ""), ("secret", "short"), ("api_key", "has space inside"), ("label", "  ")],
)
def test_bad_credentials_or_label_are_refused(admin1, field, value):
    with pytest.raises(KeySetRefused):
        _create(admin1, **{field: value})
    assert not ApiKeySet.objects.exists()


def test_label_must_be_unique_ignoring_case(admin1):
    _create(admin1)
    with pytest.raises(KeySetRefused, match="already exists"):
        _create(admin1, label="OPS MAIN")
    assert ApiKeySet.objects.count() == 1


def test_sub_account_key_set_needs_a_main_on_the_same_exchange(admin1):
    main = _create(admin1, environment=Environment.SANDBOX)
    with pytest.raises(KeySetRefused, match="needs its main"):
        _create(admin1, label="sub", account_kind="sub", environment=Environment.SANDBOX)
    with pytest.raises(KeySetRefused, match="same exchange"):
        _create(admin1, label="sub", account_kind="sub", parent_id=main.pk)
    sub = _create(admin1, label="sub", account_kind="sub", parent_id=main.pk, environment=Environment.SANDBOX)
    assert sub.parent == main


@pytest.mark.parametrize("role", ["approver", "requester", "viewer", "outsider"])
def test_only_administrators_create_key_sets(role, request):
    user = request.getfixturevalue(role)
    with pytest.raises(AccessDenied):
        _create(user)
    assert not ApiKeySet.objects.exists()


def test_creator_cannot_activate_their_own_key_set(admin1):
    ks = _create(admin1)
    with pytest.raises(KeySetRefused, match="second administrator"):
        key_set_activate(actor=admin1, stepup=stepup_data(admin1), key_set_id=ks.pk)
    ks.refresh_from_db()
    assert ks.status == KeySetStatus.PENDING_ACTIVATION


def test_superuser_creator_cannot_activate_either(superuser, admin1):
    ks = _create(superuser)
    with pytest.raises(KeySetRefused, match="second administrator"):
        key_set_activate(actor=superuser, stepup=stepup_data(superuser), key_set_id=ks.pk)
    key_set_activate(actor=admin1, stepup=stepup_data(admin1), key_set_id=ks.pk)
    ks.refresh_from_db()
    assert ks.status == KeySetStatus.ACTIVE
    assert ks.activated_by == admin1


def test_second_administrator_activates(admin1, admin2):
    ks = _create(admin1)
    key_set_activate(actor=admin2, stepup=stepup_data(admin2), key_set_id=ks.pk)
    ks.refresh_from_db()
    assert ks.status == KeySetStatus.ACTIVE
    assert ks.activated_by == admin2
    assert ks.activated_at is not None
    assert AuditEvent.objects.filter(verb="keyset.activate", actor=admin2).exists()


def test_non_admin_with_a_grant_cannot_activate(admin1, approver):
    ks = _create(admin1)
    KeySetGrant.objects.create(key_set=ks, user=approver, can_view=True, can_approve=True)
    with pytest.raises(AccessDenied):
        key_set_activate(actor=approver, stepup=stepup_data(approver), key_set_id=ks.pk)
    ks.refresh_from_db()
    assert ks.status == KeySetStatus.PENDING_ACTIVATION


def test_replacing_the_secret_returns_to_pending_and_stales_pending_requests(admin1, admin2, requester):
    ks = _create(admin1)
    key_set_activate(actor=admin2, stepup=stepup_data(admin2), key_set_id=ks.pk)
    pending = pending_request(ks, requester)
    done = pending_request(ks, requester, status=Status.SUCCEEDED)
    key_set_replace_secret(
        actor=admin2, key_set_id=ks.pk, api_key="replacement-key-0000WXYZ", secret=NEW_SECRET
    )
    ks.refresh_from_db()
    pending.refresh_from_db()
    done.refresh_from_db()
    assert ks.status == KeySetStatus.PENDING_ACTIVATION
    assert ks.activated_by is None
    assert ks.secret_changed_by == admin2
    assert ks.api_key_hint == "…WXYZ"
    assert secret_decrypt(token=ks.secret_encrypted, key_set_uuid=ks.uuid) == NEW_SECRET
    assert pending.status == Status.STALE
    assert done.status == Status.SUCCEEDED
    assert AuditEvent.objects.filter(verb="transfer.stale", object_id=str(pending.pk)).exists()
    event = AuditEvent.objects.get(verb="keyset.replace_secret")
    assert event.after["stale_requests"] == 1
    assert NEW_SECRET not in _audit_text()


def test_whoever_replaced_the_secret_cannot_activate_but_the_creator_can(admin1, admin2):
    ks = _create(admin1)
    key_set_replace_secret(
        actor=admin2, key_set_id=ks.pk, api_key="replacement-key-0000WXYZ", secret=NEW_SECRET
    )
    with pytest.raises(KeySetRefused, match="second administrator"):
        key_set_activate(actor=admin2, stepup=stepup_data(admin2), key_set_id=ks.pk)
    # admin1 created it, so admin1 cannot activate either: a third administrator is needed.
    with pytest.raises(KeySetRefused):
        key_set_activate(actor=admin1, stepup=stepup_data(admin1), key_set_id=ks.pk)


def test_bad_replacement_secret_changes_nothing(admin1, key_set):
    before = (key_set.secret_encrypted, key_set.status)
    with pytest.raises(KeySetRefused):
        key_set_replace_secret(actor=admin1, key_set_id=key_set.pk, api_key="ok-api-key-123456", secret="a b")
    key_set.refresh_from_db()
    assert (key_set.secret_encrypted, key_set.status) == before


def test_deactivating_stales_pending_requests(admin1, key_set, requester):
    pending = pending_request(key_set, requester)
    key_set_deactivate(actor=admin1, key_set_id=key_set.pk, stepup=stepup_data(admin1))
    key_set.refresh_from_db()
    pending.refresh_from_db()
    assert key_set.status == KeySetStatus.INACTIVE
    assert pending.status == Status.STALE
    with pytest.raises(KeySetRefused, match="already inactive"):
        key_set_deactivate(actor=admin1, key_set_id=key_set.pk, stepup=stepup_data(admin1))


def test_update_changes_label_and_rotate_by_only(admin1, key_set):
    key_set_update(actor=admin1, key_set_id=key_set.pk, label="Renamed", rotate_by=dt.date(2030, 1, 1))
    key_set.refresh_from_db()
    assert (key_set.label, key_set.rotate_by) == ("Renamed", dt.date(2030, 1, 1))
    other = ApiKeySetFactory(label="Other")
    with pytest.raises(KeySetRefused, match="already exists"):
        key_set_update(actor=admin1, key_set_id=other.pk, label="renamed", rotate_by=None)


def test_grants_give_exactly_their_capabilities(admin1, key_set, viewer, approver):
    assert key_set not in key_sets_for(user=viewer)
    grant_set(actor=admin1, key_set_id=key_set.pk, user=viewer, can_view=True)
    assert key_set in key_sets_for(user=viewer)
    assert key_set not in key_sets_for(user=viewer, capability=Capability.REQUEST)
    group = GroupFactory(name="desk-approvers")
    approver.groups.add(group)
    grant_set(actor=admin1, key_set_id=key_set.pk, group=group, can_view=True, can_approve=True)
    assert key_set in key_sets_for(user=approver, capability=Capability.APPROVE)
    grant = grant_set(actor=admin1, key_set_id=key_set.pk, user=viewer, can_view=True, can_request=True)
    assert KeySetGrant.objects.filter(key_set=key_set, user=viewer).count() == 1
    assert key_set in key_sets_for(user=viewer, capability=Capability.REQUEST)
    grant_revoke(actor=admin1, grant_id=grant.pk, key_set_id=key_set.pk)
    assert key_set not in key_sets_for(user=viewer)
    assert AuditEvent.objects.filter(verb__in=["grant.set", "grant.revoke"]).count() == 4


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "either a user or a group"),
        ({"can_view": False}, "at least one capability"),
        ({"can_view": False, "can_approve": True}, "need the view capability"),
    ],
)
def test_bad_grants_are_refused(admin1, key_set, viewer, kwargs, message):
    if "can_view" in kwargs:
        kwargs = {"user": viewer, **kwargs}
    with pytest.raises(KeySetRefused, match=message):
        grant_set(actor=admin1, key_set_id=key_set.pk, **kwargs)
    assert not KeySetGrant.objects.exists()


def test_non_admin_cannot_grant_or_revoke(admin1, key_set, approver, viewer):
    grant = grant_set(actor=admin1, key_set_id=key_set.pk, user=viewer)
    KeySetGrant.objects.create(key_set=key_set, user=approver, can_view=True, can_approve=True)
    with pytest.raises(AccessDenied):
        grant_set(actor=approver, key_set_id=key_set.pk, user=approver, can_request=True)
    with pytest.raises(AccessDenied):
        grant_revoke(actor=approver, grant_id=grant.pk)
    assert KeySetGrant.objects.filter(pk=grant.pk).exists()


def test_revoking_a_grant_of_another_key_set_is_refused(admin1, key_set, viewer):
    other = ApiKeySetFactory()
    grant = grant_set(actor=admin1, key_set_id=other.pk, user=viewer)
    with pytest.raises(KeySetRefused):
        grant_revoke(actor=admin1, grant_id=grant.pk, key_set_id=key_set.pk)
    assert KeySetGrant.objects.filter(pk=grant.pk).exists()


def test_permission_report_for_a_main_key():
    report = permission_report(account_kind="main", permissions=[1, 2, 4], ip_whitelist=[])
    assert [(n["code"], n["present"]) for n in report["needs"]] == [(2, True), (4, True), (5, False)]
    text = " ".join(report["warnings"])
    assert "Missing permission 5 (Withdraw)" in text
    assert "permission 1 (Spot trading) that nothing here needs" in text
    assert "no IP whitelist" in text


def test_permission_report_for_a_sub_key_with_everything_it_needs():
    report = permission_report(account_kind="sub", permissions=[2, 4, 7], ip_whitelist=["203.0.113.7"])
    assert all(n["present"] for n in report["needs"])
    assert report["warnings"] == []
