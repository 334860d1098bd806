"""The audit chain under concurrency on PostgreSQL: no fork, gaps handled, the table append-only."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.db import DatabaseError, connection, connections, transaction

from accounts.audit import audit_record
from accounts.audit_seal import audit_seal_pending
from accounts.audit_verify import audit_verify_chain
from accounts.models import AuditEvent, User
from tests.accounts.audit_support import TABLE
from tests.factories import UserFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _checkpoint_file(settings, tmp_path):
    settings.AUDIT_CHECKPOINT_FILE = str(tmp_path / "checkpoints.jsonl")


@pytest.fixture
def actor(require_postgres: None) -> User:
    return UserFactory.create(username="chain-writer")


def _threads(count: int, fn) -> list[BaseException]:
    barrier = threading.Barrier(count)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            fn()
        except BaseException as exc:  # collected for the assertion
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return errors


def test_eight_threads_of_25_events_give_one_chain_without_a_fork(actor):
    def write() -> None:
        for n in range(25):
            with transaction.atomic():
                audit_record(actor=actor, verb="test.concurrent", obj=actor, after={"n": n})

    assert _threads(8, write) == []
    deadline = time.monotonic() + 5  # every writer sealed after its commit; nothing may stay behind
    while AuditEvent.objects.filter(hash__isnull=True).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not AuditEvent.objects.filter(hash__isnull=True).exists()
    rows = list(AuditEvent.objects.order_by("chain_index").values("seq", "prev_hash", "hash", "chain_index"))
    assert len(rows) == 200
    assert [r["chain_index"] for r in rows] == list(range(1, 201))
    assert len({r["prev_hash"] for r in rows}) == 200  # no two events share a predecessor
    assert [r["seq"] for r in rows] == sorted(r["seq"] for r in rows)  # sealed in sequence order
    assert audit_verify_chain().ok


def test_an_id_in_flight_holds_back_later_events_until_it_rolls_back(actor, settings):
    settings.AUDIT_SEAL_GAP_SECONDS = 60
    first = audit_record(actor=actor, verb="test.event", obj=actor)
    inserted, release = threading.Event(), threading.Event()

    def slow_writer() -> None:
        try:
            with transaction.atomic():
                audit_record(actor=actor, verb="test.rolled_back", obj=actor)
                inserted.set()
                release.wait(10)
                raise RuntimeError("roll back")
        except RuntimeError:
            pass
        finally:
            connections.close_all()

    thread = threading.Thread(target=slow_writer)
    thread.start()
    assert inserted.wait(10)
    later = audit_record(
        actor=actor, verb="test.event", obj=actor
    )  # commits; its id comes after the slow one
    later.refresh_from_db()
    assert not later.sealed  # the id before it may still commit: wait for it
    release.set()
    thread.join(10)
    audit_seal_pending()  # what beat does after a rollback
    later.refresh_from_db()
    assert later.sealed
    assert later.prev_seq == first.seq
    assert later.seq - first.seq == 2
    assert audit_verify_chain().ok


def test_the_trigger_refuses_update_and_delete_but_lets_the_sealer_seal(actor):
    event = audit_record(actor=actor, verb="test.event", obj=actor)
    event.refresh_from_db()
    assert event.sealed  # sealed after commit: the trigger allowed exactly that UPDATE
    refused: list[tuple[str, list[Any]]] = [
        (f"UPDATE {TABLE} SET actor_label = %s WHERE seq = %s", ["mallory", event.seq]),
        (f"UPDATE {TABLE} SET hash = %s WHERE seq = %s", ["0" * 64, event.seq]),
        (f"DELETE FROM {TABLE} WHERE seq = %s", [event.seq]),
    ]
    for sql, params in refused:
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cur,
        ):
            cur.execute(sql, params)
    unsealed = AuditEvent.objects.create(
        at=event.at, actor_label="x", verb="test.raw", object_type="t", object_id="1"
    )
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=unsealed.pk).update(  # sealing while changing the content: refused
            verb="test.changed", hash="1" * 64, chain_index=999, sealed_at=event.at
        )
    assert AuditEvent.objects.filter(verb="test.event").count() == 1
