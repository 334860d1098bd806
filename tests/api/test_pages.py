"""The pages: one's own API tokens (shown once, listed, revoked), an administrator revoking anyone's,
the webhook pages for administrators only, and the API's documentation page from our own static files."""

from __future__ import annotations

import re

import pytest
from django.contrib.staticfiles import finders
from django.test import Client

from accounts.models import ApiKeySet, AuditEvent, User
from api.models import ApiToken
from tests.api.conftest import ApiClient, token_for
from tests.stepup_support import login_verified

pytestmark = pytest.mark.django_db


def browser(user: User) -> Client:
    client = Client()
    login_verified(client, user)
    return client


def test_token_is_shown_once_then_listed_by_its_prefix_only(alice: User, key_set: ApiKeySet) -> None:
    client = browser(alice)
    page = client.get("/account/api-tokens/")
    assert page.status_code == 200
    assert b'id="nav-api-tokens"' in page.content
    created = client.post(
        "/account/api-tokens/",
        {
            "name": "nightly sweep",
            "days": "30",
            "scope": "request",
            "key_sets": [key_set.pk],
            "allowed_ips": "",
        },
    )
    assert created.status_code == 201
    raw = re.search(rb'id="new-token-value">(bxa_[^<]+)<', created.content).group(1).decode()  # type: ignore[union-attr]
    token = ApiToken.objects.get()
    assert token.token_sha256 != raw
    assert raw not in str(ApiToken.objects.values().get())
    assert ApiClient(raw).get("/key-sets").status_code == 200
    listed = client.get("/account/api-tokens/")
    assert raw.encode() not in listed.content
    assert token.prefix.encode() in listed.content
    assert b"127.0.0.1" in listed.content  # last used from
    assert AuditEvent.objects.filter(verb="api.token.create").count() == 1


def test_bad_token_form_is_refused_with_a_message(alice: User, key_set: ApiKeySet) -> None:
    response = browser(alice).post(
        "/account/api-tokens/", {"name": "x", "days": "30", "scope": "read", "allowed_ips": "not-an-ip"}
    )
    assert response.status_code == 400
    assert b"is not an IP address" in response.content
    assert not ApiToken.objects.exists()


def test_owner_revokes_and_the_token_stops_working(alice: User, key_set: ApiKeySet) -> None:
    token, raw = token_for(alice)
    response = browser(alice).post(f"/account/api-tokens/{token.pk}/revoke/")
    assert response.status_code == 302
    assert ApiClient(raw).get("/key-sets").status_code == 401
    assert AuditEvent.objects.filter(verb="api.token.revoke", actor=alice).count() == 1


def test_nobody_but_the_owner_or_an_administrator_revokes(
    alice: User, bob: User, admin1: User, key_set: ApiKeySet
) -> None:
    token, raw = token_for(alice)
    browser(bob).post(f"/account/api-tokens/{token.pk}/revoke/")
    assert ApiClient(raw).get("/key-sets").status_code == 200
    page = browser(admin1).get("/account/api-tokens/")
    assert token.prefix.encode() in page.content
    assert b"alice" in page.content
    browser(admin1).post(f"/account/api-tokens/{token.pk}/revoke/")
    assert ApiClient(raw).get("/key-sets").status_code == 401
    assert AuditEvent.objects.filter(verb="api.token.revoke", actor=admin1).count() == 1


def test_webhook_pages_are_for_administrators(alice: User, admin1: User) -> None:
    assert browser(alice).get("/webhooks/").status_code == 403
    client = browser(admin1)
    assert client.get("/webhooks/").status_code == 200
    created = client.post(
        "/webhooks/", {"url": "https://hooks.example.test/bingx", "event_types": ["request.created"]}
    )
    assert created.status_code == 201
    secret = re.search(rb'id="new-secret-value">(whsec_[^<]+)<', created.content).group(1)  # type: ignore[union-attr]
    listed = client.get("/webhooks/")
    assert b"hooks.example.test" in listed.content
    assert secret not in listed.content


def test_docs_page_is_served_from_our_static_files(alice: User) -> None:
    assert Client().get("/api/v1/docs").status_code == 302  # people log in first
    page = browser(alice).get("/api/v1/docs")
    assert page.status_code == 200
    html = page.content.decode()
    scripts = re.findall(r'src="([^"]+)"', html) + re.findall(r'href="([^"]+\.css)"', html)
    assert scripts
    assert all(src.startswith("/static/") for src in scripts), scripts
    for src in scripts:  # each one ships with the desk (collectstatic finds it)
        assert finders.find(src.removeprefix("/static/")), src
    assert "<script>" not in html  # no inline code: the page keeps the desk's CSP
    csp = page["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    schema = browser(alice).get("/api/v1/openapi.json").json()
    assert "/api/v1/requests" in schema["paths"]
    assert not any("approve" in path or "reject" in path for path in schema["paths"])
