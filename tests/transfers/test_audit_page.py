"""The audit page: who sees which events, filters, and the CSV / JSON Lines exports (issue 11)."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from accounts.audit import audit_record
from accounts.audit_export import audit_event_row
from accounts.models import ApiKeySet, AuditEvent, User
from accounts.roles import roles_ensure
from tests.factories import ApiKeySetFactory, KeySetGrantFactory, UserFactory

pytestmark = pytest.mark.django_db


def _member(username: str, *roles: str) -> User:
    user = UserFactory(username=username)
    roles_ensure()  # a transaction test may have flushed the migrated role groups
    for role in roles:
        user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def world() -> dict[str, Any]:
    """Two key sets, a viewer granted only the first, a viewer with no grant, an auditor; one event each."""
    maker = _member("maker", "administrator")
    ks_a: ApiKeySet = ApiKeySetFactory(label="Alpha", created_by=maker, secret_changed_by=maker)
    ks_b: ApiKeySet = ApiKeySetFactory(label="Bravo", created_by=maker, secret_changed_by=maker)
    granted = _member("granted", "viewer")
    KeySetGrantFactory(key_set=ks_a, user=granted, can_view=True)
    nogrant = _member("nogrant", "viewer")
    auditor = _member("auditor1", "auditor")
    assert not AuditEvent.objects.exists()  # only the events below
    audit_record(actor=maker, verb="keyset.update", obj=ks_a, after={"note": "x;=1+1"}, ip="192.0.2.10")
    audit_record(actor=maker, verb="keyset.update", obj=ks_b, after={"uid": "secret-uid-b"}, ip="192.0.2.11")
    audit_record(actor=None, verb="auth.login_failed", obj=nogrant, after={"username": "nogrant"})
    audit_record(actor=None, verb="auth.login_failed", obj=granted, after={"username": "granted"})
    return {"maker": maker, "a": ks_a, "b": ks_b, "granted": granted, "nogrant": nogrant, "auditor": auditor}


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _body(response: Any) -> str:
    """An export's text: exports stream (accounts.audit_export)."""
    return b"".join(response.streaming_content).decode()


def _shown(client: Client, query: str = "") -> list[tuple[str, str]]:
    response = client.get(reverse("transfers:audit_log") + query)
    assert response.status_code == 200
    return [(e.verb, f"{e.object_type}:{e.object_id}") for e in response.context["page"].object_list]


def _own_login(user: User) -> tuple[str, str]:
    return ("auth.login", f"accounts.user:{user.pk}")


def _without_logins(rows: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [r for r in rows if r[0] != "auth.login"]


def test_a_viewer_without_grants_sees_only_events_about_their_own_account(world):
    nogrant = world["nogrant"]
    rows = _shown(_client(nogrant))
    assert _without_logins(rows) == [("auth.login_failed", f"accounts.user:{nogrant.pk}")]
    body = _client(nogrant).get(reverse("transfers:audit_log")).content.decode()
    assert "secret-uid-b" not in body
    assert "192.0.2.1" not in body


def test_a_viewer_with_a_grant_sees_that_key_sets_events_and_not_anothers(world):
    rows = _without_logins(_shown(_client(world["granted"])))
    assert ("keyset.update", f"accounts.apikeyset:{world['a'].pk}") in rows
    assert ("keyset.update", f"accounts.apikeyset:{world['b'].pk}") not in rows
    assert ("auth.login_failed", f"accounts.user:{world['nogrant'].pk}") not in rows
    assert ("auth.login_failed", f"accounts.user:{world['granted'].pk}") in rows


def test_events_about_a_transfer_request_follow_its_key_set(world):
    from tests.accounts.conftest import pending_request

    req = pending_request(world["b"], world["maker"])
    event = audit_record(actor=world["maker"], verb="transfer.request", obj=req)
    assert event.key_set_id == world["b"].pk
    assert ("transfer.request", f"transfers.transferrequest:{req.pk}") not in _shown(
        _client(world["granted"])
    )


def test_the_auditor_sees_every_event(world):
    rows = _without_logins(_shown(_client(world["auditor"])))
    assert len(rows) == 4


def test_filters_by_actor_action_object_and_dates(world):
    client = _client(world["auditor"])
    assert {v for v, _ in _shown(client, "?actor=maker")} == {"keyset.update"}
    assert {v for v, _ in _shown(client, "?action=auth.login_failed")} == {"auth.login_failed"}
    both = _shown(client, "?action=auth.login_failed&action=keyset.update")
    assert len(_without_logins(both)) == 4
    assert _shown(client, f"?object=accounts.apikeyset:{world['b'].pk}") == [
        ("keyset.update", f"accounts.apikeyset:{world['b'].pk}")
    ]
    assert _shown(client, "?date_from=2000-01-01&date_to=2099-12-31")
    assert _shown(client, "?date_to=2001-01-01") == []


@pytest.mark.parametrize(
    "query",
    [
        "?action=transfer.approve'--",
        "?date_from=yesterday",
        "?date_from=2026-02-30",
        "?date_from=2026-05-02&date_to=2026-05-01",
        "?date_to=0000-01-01",
        "?date_from=0001-01-01&date_to=9999-12-31",
        "?actor=" + "x" * 200,
    ],
)
def test_bad_filter_input_is_a_clear_400_not_a_server_error(world, query):
    client = _client(world["auditor"])
    response = client.get(reverse("transfers:audit_log") + query)
    assert response.status_code == 400
    assert "The filters are not valid" in response.content.decode()
    export = client.get(reverse("transfers:audit_export") + query + "&format=csv")
    assert export.status_code == 400
    assert "nothing was exported" in export.content.decode()


def test_an_unknown_export_format_is_refused(world):
    response = _client(world["auditor"]).get(reverse("transfers:audit_export") + "?format=xlsx")
    assert response.status_code == 400


def test_the_csv_export_quotes_every_cell_and_is_an_audit_event(world):
    client = _client(world["granted"])
    response = client.get(reverse("transfers:audit_export") + "?format=csv&action=keyset.update")
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert response.streaming
    text = _body(response)
    lines = text.splitlines()
    assert all(line.startswith('"') and line.endswith('"') for line in lines)
    assert '""note"":""x;=1+1""' in text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["object_id"] for r in rows] == [str(world["a"].pk)]
    assert "secret-uid-b" not in text
    export = AuditEvent.objects.get(verb="audit.export")
    assert export.actor == world["granted"]
    assert export.subject == world["granted"]
    assert export.after["format"] == "csv"
    assert export.after["events"] == 1
    assert export.after["filters"]["verbs"] == ["keyset.update"]


def test_a_formula_in_a_csv_cell_is_neutralised(world):
    formula = ApiKeySetFactory(label="=1+1", created_by=world["maker"], secret_changed_by=world["maker"])
    audit_record(actor=world["maker"], verb="keyset.update", obj=formula)
    response = _client(world["auditor"]).get(reverse("transfers:audit_export") + "?format=csv")
    assert "\"'=1+1" in _body(response)


def test_the_json_lines_export_round_trips_every_field_with_the_chain_fields(world):
    response = _client(world["auditor"]).get(reverse("transfers:audit_export") + "?format=jsonl")
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert response.streaming
    lines = [json.loads(line) for line in _body(response).splitlines()]
    events = list(AuditEvent.objects.exclude(verb="audit.export").order_by("seq"))
    assert lines == [json.loads(json.dumps(audit_event_row(e))) for e in events]
    assert [line["seq"] for line in lines] == sorted(line["seq"] for line in lines)
    for field in ("hash", "prev_hash", "seq", "at", "actor_label", "before", "after", "ip"):
        assert field in lines[0]
    assert lines[0]["after"] == {"note": "x;=1+1"}


def test_the_django_admin_shows_a_viewer_the_same_events_as_the_page(world):
    world["nogrant"].is_staff = True
    world["nogrant"].save()
    response = _client(world["nogrant"]).get(reverse("admin:accounts_auditevent_changelist"))
    assert response.status_code == 200
    shown = {(e.verb, e.object_id) for e in response.context["cl"].result_list}
    assert ("keyset.update", str(world["b"].pk)) not in shown
    assert ("auth.login_failed", str(world["nogrant"].pk)) in shown
