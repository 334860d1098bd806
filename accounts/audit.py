"""The append-only audit log: `audit_record` appends one event; the chain is sealed after commit.

Writing is one INSERT whose sequence number comes from the database; nothing is locked across the
caller's transaction. After commit (and every few seconds from beat) the one sealer,
`accounts.audit_seal.audit_seal_pending`, links each committed event to its predecessor with an
HMAC under a key from the environment (accounts.audit_keys); `accounts.audit_verify` checks the chain
against signed checkpoints kept outside the database (accounts.audit_checkpoints).
Call `audit_record` inside the transaction of the change it records.
"""

import json
import time
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


# Seconds between after-commit seals in this process; 0: after every commit (web processes, tests).
# A Celery worker sets it (bingxadmin.celery): executing dozens of transfers a second, it would
# otherwise spend ~7 queries sealing after each one. Events committed in between are sealed by the
# process's next seal after the interval, or by beat's sealer (every 5 s): the chain stays at most
# that far behind, and an unsealed event is still in the table, ordered by its seq.
_seal_interval_s = 0.0
_last_seal = -1.0e9


def audit_seal_coalesce(*, interval_s: float) -> None:
    """Seal at most every `interval_s` after commits in this process (a worker's start-up)."""
    global _seal_interval_s
    _seal_interval_s = max(0.0, interval_s)


def _seal_after_commit() -> None:
    global _last_seal
    if _seal_interval_s:
        now = time.monotonic()
        if now - _last_seal < _seal_interval_s:
            return
        _last_seal = now
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
    # No savepoint of its own: an event that cannot be written fails the change it records.
    with transaction.atomic(savepoint=False):
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
        if not _seal_scheduled():
            transaction.on_commit(_seal_after_commit, robust=True)
        return event


def _seal_scheduled() -> bool:
    """Whether this transaction already seals after commit: one seal per commit, not one per event
    (approving a 400-leg batch writes 400 events in one transaction). A hook registered inside a
    savepoint that was rolled back is gone from the list; one inside a savepoint still open is one
    this event is inside too (savepoints nest), so it survives whenever this event does."""
    return any(hook[1] is _seal_after_commit for hook in connection.run_on_commit)  # (sids, func, robust)
