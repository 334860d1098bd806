"""Every list page parses its query parameters with a form: random input is a 200 or a 4xx, never a 5xx.

The audit page has its own filters and tests (tests/transfers/test_audit*.py)."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.transfers.workflow_support import new_request

# Each list page and the parameters it reads (plus a few it does not).
PAGES: dict[str, tuple[str, ...]] = {
    "transfers:dashboard": (),
    "transfers:queue": ("key_set", "kind", "asset", "include_decided", "sort"),
    "transfers:history": (
        "status",
        "kind",
        "key_set",
        "asset",
        "requester",
        "date_from",
        "date_to",
        "page",
        "format",
        "sort",
    ),
    "transfers:reconciliation": ("key_set", "source"),
    "transfers:request_new": ("kind",),
    "transfers:request_available": (
        "kind",
        "key_set",
        "asset",
        "from_wallet",
        "to_wallet",
        "from_uid",
        "from_account_type",
        "to_uid",
        "to_account_type",
    ),
    "transfers:recipients": (),
    "transfers:policy": (),
    "accounts:keyset_list": (),
    "accounts:balances": (),
    "people:list": (),
}

NASTY = [
    "",
    "0",
    "-1",
    "1",
    "²",
    "١٢",
    "9" * 30,
    "0001-01-01",
    "9999-12-31",
    "2026-02-30",
    "ß",
    "\x00",
    "%",
    "csv",
    "1e400",
    "NaN",
    "' OR 1=1 --",
    "-amount",
    "approvals",
    "--id",
    "-",
    "requested_by__password",
]
values = st.one_of(st.sampled_from(NASTY), st.text(max_size=40), st.integers().map(str), st.dates().map(str))


@pytest.fixture
def admin_client(admin1, key_set, alice):
    new_request(requester=alice, key_set=key_set)
    c = Client()
    c.force_login(admin1)
    return c


@pytest.mark.parametrize("page", sorted(PAGES))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_query_parameters_never_give_a_server_error(admin_client, page, data):
    names = st.sampled_from((*PAGES[page], "unknown", "key_set"))
    params = data.draw(st.dictionaries(names, st.one_of(values, st.lists(values, max_size=3)), max_size=5))
    response = admin_client.get(reverse(page), params)
    assert response.status_code < 500, (page, params)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key_set=values)
def test_random_sync_key_set_never_gives_a_server_error(admin_client, enqueued, key_set):
    response = admin_client.post(reverse("transfers:reconciliation_sync"), {"key_set": key_set})
    assert response.status_code < 500, key_set


@pytest.mark.parametrize(
    "params",
    [
        {"date_from": "0001-01-01", "date_to": "9999-12-31"},
        {"date_to": "9999-12-31"},
        {"key_set": "²"},
        {"key_set": "9" * 30},
        {"asset": "ß"},
        {"date_from": "2026-02-01", "date_to": "2026-01-01"},
    ],
)
@pytest.mark.parametrize("as_csv", [False, True])
def test_history_refuses_bad_filters_with_400(admin_client, params, as_csv):
    response = admin_client.get(
        reverse("transfers:history"), {**params, **({"format": "csv"} if as_csv else {})}
    )
    assert response.status_code == 400


def test_history_accepts_the_widest_valid_range(admin_client):
    response = admin_client.get(
        reverse("transfers:history"), {"date_from": "2000-01-01", "date_to": "2099-12-31"}
    )
    assert response.status_code == 200
    assert "#" in response.content.decode()


@pytest.mark.parametrize("params", [{"key_set": "²"}, {"key_set": "9" * 30}, {"source": "nope"}])
def test_reconciliation_refuses_bad_filters_with_400(admin_client, params):
    assert admin_client.get(reverse("transfers:reconciliation"), params).status_code == 400


def test_reconciliation_sync_refuses_a_non_ascii_key_set(admin_client, enqueued):
    response = admin_client.post(reverse("transfers:reconciliation_sync"), {"key_set": "²"})
    assert response.status_code == 302
    assert enqueued == []


@pytest.mark.parametrize("params", [{"asset": "ß"}, {"key_set": "²"}, {"kind": "nope"}])
def test_queue_refuses_bad_filters_with_400(admin_client, params):
    assert admin_client.get(reverse("transfers:queue"), params).status_code == 400
