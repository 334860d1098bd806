"""Which servers a key set may call: real BingX key sets use BingX's URL (another bingx.com host only
with BINGX_ALLOW_CUSTOM_BASE_URL); sandbox key sets only hosts on BINGX_SANDBOX_ALLOWED_HOSTS
(loopback by default). Refused at creation with a clear message, nothing saved; a key set stored
before the policy is never called (fail closed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests
from django.conf import settings as django_settings
from django.test import Client
from django.urls import reverse

from accounts.models import ApiKeySet, AuditEvent, Environment, User
from accounts.services.balances import balances_sync
from accounts.services.key_sets import KeySetRefused, key_set_create
from accounts.services.verification import key_set_verify
from bingx.sandbox import SandboxServer
from exchange.base_urls import BaseUrlRefused, base_url_refusal
from exchange.clients import client_for
from exchange.problems import ExchangeProblem
from tests.accounts.conftest import MAIN_UID, sandbox_key_set
from tests.factories import ApiKeySetFactory

pytestmark = pytest.mark.django_db

ALLOWED_HOST = "allowed sandbox host"


def _create(actor: User, **overrides: str) -> ApiKeySet:
    values = {
        "label": "Policy main",
        "api_key": "policy-api-key-0123456789",
        "secret": "policy-secret-0123456789ab",
        "environment": Environment.SANDBOX,
    }
    values.update(overrides)
    return key_set_create(actor=actor, **values)  # type: ignore[arg-type]


def _journal(server: SandboxServer) -> list[object]:
    return list(requests.get(f"{server.base_url}/_sandbox/journal", timeout=10).json()["calls"])


@pytest.mark.parametrize(
    "base_url",
    [
        "http://169.254.169.254",  # cloud metadata
        "http://10.0.0.5:8100",  # a private host
        "https://sandbox.attacker.example",  # someone's own "exchange" that answers any UID
        "http://127.0.0.1.nip.io:8100",  # resolves to loopback, but it is not the allowed name
        "http://2130706433:8100",  # 127.0.0.1 written as one number
    ],
)
def test_a_sandbox_key_set_outside_the_allow_list_is_refused_and_nothing_saved(admin1: User, base_url: str):
    with pytest.raises(KeySetRefused, match=ALLOWED_HOST):
        _create(admin1, base_url=base_url)
    assert not ApiKeySet.objects.exists()
    assert not AuditEvent.objects.filter(verb="keyset.create").exists()


def test_the_add_form_shows_the_refusal_and_saves_nothing(admin1: User):
    client = Client()
    client.force_login(admin1)
    response = client.post(
        reverse("accounts:keyset_add"),
        {
            "label": "Metadata",
            "environment": "sandbox",
            "base_url": "http://169.254.169.254",
            "account_kind": "main",
            "api_key": "form-api-key-1234567890",
            "secret": "form-secret-must-not-come-back-1234",
        },
    )
    body = response.content.decode()
    assert response.status_code == 400
    assert "may only point at an allowed sandbox host" in body
    assert "169.254.169.254 is not one of them" in body
    assert not ApiKeySet.objects.exists()


@pytest.mark.parametrize("base_url", ["http://127.0.0.1:9999", "http://[::1]:8100", "http://localhost:8100"])
def test_loopback_sandbox_hosts_are_allowed_by_default(admin1: User, base_url: str):
    assert _create(admin1, base_url=base_url).base_url == base_url


def test_the_demo_sandbox_url_passes_with_the_default_allow_list():
    # bin/run and demo_seed point the demo key sets at BINGX_SANDBOX_URL (http://127.0.0.1:$SANDBOX_PORT).
    assert (
        base_url_refusal(environment=Environment.SANDBOX, base_url=django_settings.BINGX_SANDBOX_URL) is None
    )
    assert base_url_refusal(environment=Environment.SANDBOX, base_url="http://127.0.0.1:8100") is None


def test_the_allow_list_is_a_setting(admin1: User, settings: Any):
    settings.BINGX_SANDBOX_ALLOWED_HOSTS = ["sandbox.staging.internal"]
    assert _create(admin1, base_url="http://sandbox.staging.internal:8100").is_sandbox
    with pytest.raises(KeySetRefused, match=ALLOWED_HOST):
        _create(admin1, label="Loopback", base_url="http://127.0.0.1:8100")


def test_a_custom_bingx_host_needs_the_production_setting(admin1: User, settings: Any):
    custom = "https://open-api-vst.bingx.com"
    with pytest.raises(KeySetRefused, match="BINGX_ALLOW_CUSTOM_BASE_URL"):
        _create(admin1, environment=Environment.BINGX, base_url=custom)
    assert _create(admin1, environment=Environment.BINGX).base_url == "https://open-api.bingx.com"
    assert _create(
        admin1, label="Explicit", environment=Environment.BINGX, base_url="https://open-api.bingx.com"
    )

    settings.BINGX_ALLOW_CUSTOM_BASE_URL = True
    assert _create(admin1, label="VST", environment=Environment.BINGX, base_url=custom).base_url == custom
    with pytest.raises(KeySetRefused, match=r"bingx\.com host"):  # still BingX's own hosts only
        _create(admin1, label="Evil", environment=Environment.BINGX, base_url="https://evil.example.com")


def test_a_stored_key_set_with_a_disallowed_base_url_is_never_called():
    key_set = ApiKeySetFactory(base_url="http://169.254.169.254")  # saved before the policy existed
    with pytest.raises(BaseUrlRefused, match=ALLOWED_HOST):
        client_for(key_set=key_set)


def test_verification_and_balances_of_such_a_key_set_send_nothing(
    admin1: User, sandbox: SandboxServer, settings: Any, tmp_path: Path
):
    settings.RATE_LIMIT_URL = ""
    settings.VAR_DIR = tmp_path
    key_set = sandbox_key_set(sandbox, MAIN_UID)  # the sandbox listens on 127.0.0.1 ...
    settings.BINGX_SANDBOX_ALLOWED_HOSTS = ["localhost"]  # ... which is no longer allowed

    report = key_set_verify(key_set_id=key_set.pk, actor=admin1)
    assert report["ok"] is False
    assert "is not allowed" in report["error"]
    assert ALLOWED_HOST in report["error"]
    with pytest.raises(ExchangeProblem, match="is not allowed"):
        balances_sync(key_set_id=key_set.pk)
    assert _journal(sandbox) == []
