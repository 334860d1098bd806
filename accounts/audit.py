"""The append-only, hash-chained audit log: `audit_record` writes, `audit_verify_chain` checks.

Each event's hash covers its content and the previous event's hash, so editing or deleting any
row breaks every later link. Call `audit_record` inside the transaction of the change it records.
"""

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from django.db import models, transaction
from django.utils import timezone

from accounts.audit_scope import audit_scope_fields
from accounts.models import AuditEvent, User

GENESIS = "0" * 64
_LOCK_KEY = "audit-chain"


def _canonical(event: AuditEvent) -> str:
    body = {
        "seq": event.seq,
        "at": event.at.isoformat(),
        "actor": event.actor_label,
        "verb": event.verb,
        "object": f"{event.object_type}:{event.object_id}",
        "repr": event.object_repr,
        "before": event.before,
        "after": event.after,
        "ip": event.ip,
        "prev": event.prev_hash,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)


def _digest(event: AuditEvent) -> str:
    return hashlib.sha256(_canonical(event).encode()).hexdigest()


def _jsonable(value: dict[str, Any] | None) -> dict[str, Any]:
    return json.loads(json.dumps(value or {}, default=str))


def audit_record(
    *,
    actor: User | None,
    verb: str,
    obj: models.Model,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    ip: str | None = None,
) -> AuditEvent:
    """Append one event to the chain. Never pass secrets in before/after."""
    with transaction.atomic():
        # Serialise writers so two events never claim the same predecessor.
        last = AuditEvent.objects.select_for_update().order_by("-seq").first()
        prev_hash = last.hash if last else GENESIS
        event = AuditEvent(
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
            prev_hash=prev_hash,
            **audit_scope_fields(obj),  # who may read it (accounts.audit_access); not part of the link
            hash="pending-"
            + hashlib.sha256(f"{prev_hash}{timezone.now().isoformat()}".encode()).hexdigest()[:56],
        )
        event.save()
        event.hash = _digest(event)  # the hash covers seq, known only after insert
        AuditEvent.objects.filter(pk=event.pk).update(hash=event.hash)
        return event


@dataclass(frozen=True)
class ChainReport:
    checked: int
    first_broken_seq: int | None
    reason: str

    @property
    def ok(self) -> bool:
        return self.first_broken_seq is None


def audit_verify_chain() -> ChainReport:
    """Walk the chain in order and report the first event whose link or content does not verify."""
    prev = GENESIS
    checked = 0
    for event in AuditEvent.objects.order_by("seq").iterator(chunk_size=2000):
        if event.prev_hash != prev:
            return ChainReport(
                checked, event.seq, "previous-hash link does not match (an event was removed or reordered)"
            )
        if _digest(event) != event.hash:
            return ChainReport(checked, event.seq, "content does not match its hash (the event was edited)")
        prev = event.hash
        checked += 1
    return ChainReport(checked, None, "intact")
