"""Audit exports stream: a large export leaves in pieces, read in chunks, complete and in order."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts import audit_export
from accounts.models import AuditEvent
from accounts.roles import roles_ensure
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

EVENTS = 5000


@pytest.fixture
def auditor_client() -> Client:
    auditor = UserFactory(username="auditor-stream")
    roles_ensure()
    auditor.groups.add(Group.objects.get(name="auditor"))
    now = timezone.now()
    AuditEvent.objects.bulk_create(
        [
            AuditEvent(
                at=now,
                actor=auditor,
                actor_label=auditor.username,
                verb="test.bulk",
                object_type="accounts.user",
                object_id=str(auditor.pk),
                object_repr=str(auditor),
                after={"n": n, "note": "=1+1;x"},
                ip="192.0.2.1",
            )
            for n in range(EVENTS)
        ],
        batch_size=1000,
    )
    client = Client()
    client.force_login(auditor)
    return client


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_a_large_export_is_streamed_in_pieces_and_complete(auditor_client, monkeypatch, fmt):
    chunk_sizes: list[int] = []
    iterator = AuditEvent.objects.none().__class__.iterator

    def spy(self, chunk_size=None):
        chunk_sizes.append(chunk_size)
        return iterator(self, chunk_size=chunk_size)

    monkeypatch.setattr(type(AuditEvent.objects.all()), "iterator", spy)
    response = auditor_client.get(reverse("transfers:audit_export") + f"?format={fmt}")
    assert response.status_code == 200
    assert response.streaming
    assert "no-store" in response["Cache-Control"]
    pieces = list(response.streaming_content)
    assert len(pieces) > 1  # not one body built in memory
    assert chunk_sizes == [audit_export.EXPORT_CHUNK]  # read through a chunked cursor
    text = b"".join(pieces).decode()
    if fmt == "jsonl":
        rows = [json.loads(line) for line in text.splitlines()]
    else:
        rows = list(csv.DictReader(io.StringIO(text)))
        assert rows[0]["after"].startswith("{")  # JSON field as text, quoted
    before = AuditEvent.objects.exclude(verb="audit.export").count()  # the bulk events and the sign-in
    assert before >= EVENTS
    assert len(rows) == before  # complete; the export's own event, recorded first, is not in it
    assert [int(r["seq"]) for r in rows] == sorted(int(r["seq"]) for r in rows)
    assert AuditEvent.objects.get(verb="audit.export").after["events"] == before
