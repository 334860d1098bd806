"""Bad input to every key-set form gives a clear error, changes nothing, and never echoes a secret."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import ApiKeySet, AuditEvent, KeySetGrant
from tests.factories import ApiKeySetFactory

pytestmark = pytest.mark.django_db

TYPED_SECRET = "typed-secret-must-not-come-back-1234"
VALID = {
    "label": "Form main",
    "environment": "bingx",
    "base_url": "",
    "account_kind": "main",
    "api_key": "form-api-key-1234567890",
    "secret": TYPED_SECRET,
}


def _admin_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"label": ""}, "This field is required"),
        ({"environment": "moon"}, "Select a valid choice"),
        ({"base_url": "http://open-api.bingx.com"}, "must use https"),
        ({"base_url": "https://evil.example.com"}, "bingx.com host"),
        ({"environment": "sandbox", "base_url": "https://open-api.bingx.com"}, "real BingX host"),
        ({"secret": ""}, "This field is required"),
        ({"secret": "short"}, "8-256 printable characters"),
        ({"api_key": "has spaces in it ok"}, "8-256 printable characters"),
        ({"account_kind": "sub"}, "needs its main account"),
        ({"rotate_by": "not-a-date"}, "Enter a valid date"),
    ],
)
def test_add_form_rejects_bad_input_without_saving_or_echoing_the_secret(admin1, changes, message):
    response = _admin_client(admin1).post(reverse("accounts:keyset_add"), {**VALID, **changes})
    body = response.content.decode()
    assert response.status_code == 400
    assert message in body
    assert TYPED_SECRET not in body
    assert not ApiKeySet.objects.exists()
    assert not AuditEvent.objects.exclude(verb__startswith="auth.").exists()  # the login is one


def test_add_form_rejects_a_duplicate_label(admin1):
    ApiKeySetFactory(label="Form main")
    response = _admin_client(admin1).post(reverse("accounts:keyset_add"), {**VALID, "label": "form MAIN"})
    assert response.status_code == 400
    assert "already exists" in response.content.decode()
    assert ApiKeySet.objects.count() == 1


def test_add_form_main_with_parent_is_refused(admin1):
    main = ApiKeySetFactory(environment="bingx")
    response = _admin_client(admin1).post(reverse("accounts:keyset_add"), {**VALID, "parent": main.pk})
    assert response.status_code == 400
    assert "has no parent" in response.content.decode()


def test_add_form_sandbox_is_labelled_and_saved(admin1, settings):
    response = _admin_client(admin1).post(
        reverse("accounts:keyset_add"), {**VALID, "environment": "sandbox"}, follow=True
    )
    key_set = ApiKeySet.objects.get()
    assert key_set.base_url == settings.BINGX_SANDBOX_URL
    body = response.content.decode()
    assert 'class="badge sandbox"' in body
    assert TYPED_SECRET not in body


def test_replace_secret_needs_confirmation_and_valid_credentials(admin1, key_set):
    before = key_set.secret_encrypted
    client = _admin_client(admin1)
    url = reverse("accounts:keyset_replace_secret", args=[key_set.pk])
    response = client.post(url, {"api_key": "new-api-key-123456", "secret": TYPED_SECRET})
    assert response.status_code == 400
    assert "This field is required" in response.content.decode()
    assert TYPED_SECRET not in response.content.decode()
    response = client.post(url, {"api_key": "new-api-key-123456", "secret": "x", "confirm": "on"})
    assert response.status_code == 400
    key_set.refresh_from_db()
    assert key_set.secret_encrypted == before


def test_edit_form_rejects_a_taken_label(admin1, key_set):
    ApiKeySetFactory(label="Taken")
    response = _admin_client(admin1).post(
        reverse("accounts:keyset_edit", args=[key_set.pk]), {"label": "taken"}
    )
    assert response.status_code == 400
    key_set.refresh_from_db()
    assert key_set.label == "Treasury main"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"can_view": "on"}, "either a user or a group"),
        ({"user": "USER", "can_approve": "on"}, "need the view capability"),
        ({"user": "USER"}, "at least one capability"),
        ({"user": "999999", "can_view": "on"}, "Select a valid choice"),
    ],
)
def test_grant_form_rejects_bad_input(admin1, key_set, viewer, data, message):
    data = {k: (str(viewer.pk) if v == "USER" else v) for k, v in data.items()}
    response = _admin_client(admin1).post(reverse("accounts:keyset_grants", args=[key_set.pk]), data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not KeySetGrant.objects.exists()
