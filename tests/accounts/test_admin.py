"""Django admin: no secret field, no add, edits through the services, lists limited by access."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import AuditEvent, KeySetStatus
from tests.factories import ApiKeySetFactory, KeySetGrantFactory

pytestmark = pytest.mark.django_db


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_key_set_admin_has_no_add_and_no_secret_field(admin1, key_set):
    client = _client(admin1)
    assert client.get(reverse("admin:accounts_apikeyset_add")).status_code == 403
    body = client.get(reverse("admin:accounts_apikeyset_change", args=[key_set.pk])).content.decode()
    assert "secret_encrypted" not in body
    assert "api_key_encrypted" not in body
    assert "…WXYZ" in body


def test_admin_edit_goes_through_the_service_and_is_audited(admin1, key_set):
    response = _client(admin1).post(
        reverse("admin:accounts_apikeyset_change", args=[key_set.pk]),
        {"label": "Renamed in admin", "rotate_by": ""},
    )
    assert response.status_code == 302
    key_set.refresh_from_db()
    assert key_set.label == "Renamed in admin"
    assert AuditEvent.objects.filter(verb="keyset.update", actor=admin1).exists()


def test_admin_has_no_activate_action_it_needs_a_step_up(admin1, admin2):
    ks = ApiKeySetFactory(status=KeySetStatus.PENDING_ACTIVATION, created_by=admin1, secret_changed_by=admin1)
    url = reverse("admin:accounts_apikeyset_changelist")
    _client(admin2).post(url, {"action": "activate_selected", "_selected_action": [ks.pk]})
    ks.refresh_from_db()
    assert ks.status == KeySetStatus.PENDING_ACTIVATION


def test_key_set_admin_list_follows_the_grants(viewer, key_set):
    hidden = ApiKeySetFactory(label="Not for the viewer")
    KeySetGrantFactory(key_set=key_set, user=viewer)
    body = _client(viewer).get(reverse("admin:accounts_apikeyset_changelist")).content.decode()
    assert "Treasury main" in body
    assert hidden.label not in body
    assert (
        _client(viewer).get(reverse("admin:accounts_apikeyset_change", args=[hidden.pk])).status_code == 302
    )


def test_audit_events_cannot_be_changed_or_deleted(superuser, key_set, admin1):
    from accounts.services.key_sets import key_set_deactivate
    from tests.stepup_support import stepup_data

    key_set_deactivate(actor=admin1, key_set_id=key_set.pk, stepup=stepup_data(admin1))
    event = AuditEvent.objects.get()
    client = _client(superuser)
    assert client.get(reverse("admin:accounts_auditevent_delete", args=[event.pk])).status_code == 403
    client.post(reverse("admin:accounts_auditevent_change", args=[event.pk]), {"verb": "edited"})
    event.refresh_from_db()
    assert event.verb == "keyset.deactivate"


def test_key_sets_cannot_be_deleted_in_admin(superuser, key_set):
    response = _client(superuser).get(reverse("admin:accounts_apikeyset_delete", args=[key_set.pk]))
    assert response.status_code == 403


def test_an_administrator_cannot_make_anyone_superuser_in_admin(admin1, viewer):
    url = reverse("admin:accounts_user_change", args=[viewer.pk])
    body = _client(admin1).get(url).content.decode()
    assert 'name="is_superuser"' not in body
    data = {
        "username": viewer.username,
        "is_active": "on",
        "is_staff": "on",
        "is_superuser": "on",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
        "groups": [g.pk for g in viewer.groups.all()],
    }
    _client(admin1).post(url, data)
    viewer.refresh_from_db()
    assert not viewer.is_superuser
