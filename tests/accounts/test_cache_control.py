"""Signed-in pages and exports are never stored by a browser or a proxy: `Cache-Control: no-store`."""

import pytest
from django.test import Client
from django.urls import reverse

from tests.transfers.workflow_support import member

pytestmark = pytest.mark.django_db


def signed_in(*roles: str) -> Client:
    c = Client()
    c.force_login(member("vera", *roles))
    return c


@pytest.mark.parametrize(
    "name",
    [
        "transfers:dashboard",
        "transfers:history",
        "transfers:policy",
        "accounts:keyset_list",
        "accounts:balances",
    ],
)
def test_signed_in_pages_send_no_store(name):
    response = signed_in("viewer").get(reverse(name))
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert "private" in response["Cache-Control"]


def test_exports_send_no_store():
    response = signed_in("viewer").get(reverse("transfers:history"), {"format": "csv"})
    assert response["Content-Disposition"].startswith("attachment")
    assert "no-store" in response["Cache-Control"]


def test_a_refused_page_sends_no_store_too():
    response = signed_in().get(reverse("transfers:policy_rule_new"))
    assert response.status_code == 403
    assert "no-store" in response["Cache-Control"]


def test_every_response_carries_the_content_security_policy():
    for response in (Client().get(reverse("login")), signed_in("viewer").get(reverse("transfers:dashboard"))):
        assert "default-src 'self'" in response["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
