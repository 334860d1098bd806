"""Helpers for the audit chain tests: write events, seal them, and tamper as a database writer would."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connection

from accounts.audit import audit_record
from accounts.audit_seal import audit_seal_pending
from accounts.models import AuditEvent, User

TABLE = AuditEvent._meta.db_table


def events_write(*, actor: User, count: int, verb: str = "test.event") -> list[AuditEvent]:
    events = [audit_record(actor=actor, verb=verb, obj=actor, after={"n": n}) for n in range(count)]
    audit_seal_pending()
    return events


@contextmanager
def as_database_owner() -> Iterator[Any]:
    """A writer who bypasses the append-only trigger (the table's owner can disable it)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no pending deferred checks before ALTER TABLE
            cursor.execute(f"ALTER TABLE {TABLE} DISABLE TRIGGER USER")
        try:
            yield cursor
        finally:
            if connection.vendor == "postgresql":
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                cursor.execute(f"ALTER TABLE {TABLE} ENABLE TRIGGER USER")
