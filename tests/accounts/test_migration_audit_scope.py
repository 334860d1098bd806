"""Migration accounts 0006: events written before it get their key set and subject backfilled, by the
same rules accounts.audit_scope applies at write time, so a viewer sees the old events they may see."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from tests.factories import ApiKeySetFactory, KeySetGrantFactory, UserFactory

BEFORE = ("accounts", "0005_second_factor")
AFTER = ("accounts", "0006_audit_scope_auditor")


@pytest.fixture
def executor() -> Iterator[MigrationExecutor]:
    """The database back at 0005 for the test; put back to the latest state after (its rows go with the
    transaction test's flush)."""
    executor = MigrationExecutor(connection)
    executor.migrate([BEFORE])
    executor.loader.build_graph()
    try:
        yield executor
    finally:
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())


def _event(model: Any, *, object_type: str, object_id: str, verb: str = "test.old") -> int:
    event = model.objects.create(
        at=timezone.now(),
        actor_label="someone",
        verb=verb,
        object_type=object_type,
        object_id=object_id,
        object_repr="",
        before={},
        after={},
        prev_hash=f"{model.objects.count():064x}",  # the old chain: unique links, not checked here
        hash=f"{model.objects.count() + 1:064x}",
    )
    return int(event.seq)


@pytest.mark.django_db(transaction=True)
def test_migration_0006_backfills_key_set_and_subject_of_earlier_events(executor: MigrationExecutor):
    person = UserFactory.create(username="old-subject")
    key_set = ApiKeySetFactory.create()
    grant = KeySetGrantFactory.create(key_set=key_set, user=person, can_view=True)
    old = executor.loader.project_state([BEFORE]).apps.get_model("accounts", "AuditEvent")
    seqs = {
        "key set": _event(old, object_type="accounts.apikeyset", object_id=str(key_set.pk)),
        "person": _event(old, object_type="accounts.user", object_id=str(person.pk)),
        "grant": _event(old, object_type="accounts.keysetgrant", object_id=str(grant.pk)),
        "gone": _event(old, object_type="accounts.keysetgrant", object_id="999999"),
        "other": _event(old, object_type="django.site", object_id="1"),
    }

    executor.migrate([AFTER])

    executor.loader.build_graph()
    new = executor.loader.project_state([AFTER]).apps.get_model("accounts", "AuditEvent")
    scope = {
        name: new.objects.filter(seq=seq).values_list("key_set_id", "subject_id").get()
        for name, seq in seqs.items()
    }
    assert scope == {
        "key set": (key_set.pk, None),
        "person": (None, person.pk),
        "grant": (key_set.pk, None),
        "gone": (None, None),  # nothing left to say whose it was: auditors only
        "other": (None, None),
    }
