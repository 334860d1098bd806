"""The append-only audit log: `audit_record` appends one event; the chain is sealed after commit.

Writing is one INSERT whose sequence number comes from the database; nothing is locked across the
caller's transaction. After commit (and every few seconds from beat) the one sealer,
`accounts.audit_seal.audit_seal_pending`, links each committed event to its predecessor with an
HMAC under a key from the environment (accounts.audit_keys); `accounts.audit_verify` checks the chain
against signed checkpoints kept outside the database (accounts.audit_checkpoints).
Call `audit_record` inside the transaction of the change it records.
"""

import json
from typing import Any

from django.db import connection, models, transaction
from django.utils import timezone

from accounts.audit_chain import GAP_LOCK_CLASS
from accounts.audit_scope import audit_scope_fields
from accounts.audit_seal import audit_seal_pending
from accounts.audit_verify import ChainReport as ChainReport
from accounts.audit_verify import audit_verify_chain as audit_verify_chain
from accounts.models import AuditEvent, User


def _jsonable(value: dict[str, Any] | None) -> dict[str, Any]:
    return json.loads(json.dumps(value or {}, default=str))


def _seq_reserve() -> int | None:
    """On PostgreSQL: the next seq, with the advisory lock on it already held until this transaction
    ends (one statement), so the sealer never mistakes an id about to be inserted for a rolled-back
    one. Elsewhere None: the database assigns it on INSERT (SQLite has one writer at a time)."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT n, pg_advisory_xact_lock(%s, (n %% 2147483648)::int) "
            "FROM (SELECT nextval(pg_get_serial_sequence(%s, 'seq')) AS n) AS s",
            [GAP_LOCK_CLASS, AuditEvent._meta.db_table],
        )
        return int(cursor.fetchone()[0])


def _seal_after_commit() -> None:
    audit_seal_pending()


def audit_record(
    *,
    actor: User | None,
    verb: str,
    obj: models.Model,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    ip: str | None = None,
) -> AuditEvent:
    """Append one event (sealed into the chain after commit). Never pass secrets in before/after."""
    with transaction.atomic():
        event = AuditEvent(
            seq=_seq_reserve(),
            at=timezone.now(),
            actor=actor,
            actor_label=actor.get_username() if actor else "system",
            verb=verb,
            object_type=obj._meta.label_lower,
            object_id=str(obj.pk),
            object_repr=str(obj)[:200],
            before=_jsonable(before),
            after=_jsonable(after),
            ip=ip,
            **audit_scope_fields(obj),  # who may read it (accounts.audit_access); not part of the link
        )
        event.save(force_insert=True)
        transaction.on_commit(_seal_after_commit, robust=True)
        return event
