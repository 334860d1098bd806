"""What an audit link covers: the canonical form of an event and the message its HMAC signs.

Shared by the sealer (accounts.audit_seal) and the verifier (accounts.audit_verify), so both compute
exactly the same bytes. link(n) = HMAC-SHA256(key[key_id], link(n-1) + "|" + canonical(event n)).
"""

from __future__ import annotations

import json

from accounts.models import AuditEvent

GENESIS = "0" * 64
# pg_advisory_xact_lock(GAP_LOCK_CLASS, seq): each writer holds the lock on its own sequence number
# until its transaction ends, so the sealer can tell an id still in flight from one rolled back.
GAP_LOCK_CLASS = 0x41554454  # "AUDT"
# pg_try_advisory_xact_lock(SEALER_LOCK): the one sealer's short critical section.
SEALER_LOCK = 0x4155445453454C  # "AUDTSEL"


def audit_canonical(event: AuditEvent) -> str:
    """The event's content, its place in the chain and its key id, as canonical JSON."""
    body = {
        "seq": event.seq,
        "index": event.chain_index,
        "prev_seq": event.prev_seq,
        "key": event.key_id,
        "at": event.at.isoformat(),
        "actor": event.actor_label,
        "actor_id": event.actor_id,
        "verb": event.verb,
        "object": f"{event.object_type}:{event.object_id}",
        "repr": event.object_repr,
        "before": event.before,
        "after": event.after,
        "ip": event.ip,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)


def audit_link_message(*, prev_link: str, event: AuditEvent) -> str:
    return f"{prev_link}|{audit_canonical(event)}"
