"""Exports of the audit trail (CSV and JSON Lines) and the audit event every export writes (issue 11).

Every concrete field of AuditEvent is exported as it is stored, chain fields included (link, previous
link, and whatever the chain carries), read from the model rather than listed here, so an auditor can
verify an export outside the desk with `tools/audit_verify.py`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.db.models import QuerySet

from accounts.audit import audit_record
from accounts.audit_access import AuditFilters
from accounts.models import AuditEvent, User

EXPORT_FORMATS = ("csv", "jsonl")
EXPORT_VERB = "audit.export"


def audit_export_fields() -> list[str]:
    """Column names: each concrete field's attname (`actor_id`, not `actor`), in model order."""
    return [f.attname for f in AuditEvent._meta.concrete_fields]


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()  # as the chain's canonical form writes it
    if isinstance(value, Decimal | UUID):
        return str(value)
    if isinstance(value, bytes | memoryview):
        return bytes(value).hex()
    return value


def audit_event_row(event: AuditEvent) -> dict[str, Any]:
    return {f.attname: _plain(f.value_from_object(event)) for f in AuditEvent._meta.concrete_fields}


def audit_export_jsonl(events: Iterable[AuditEvent]) -> Iterator[str]:
    """One event per line, oldest first as given; keys sorted, UTF-8, no ASCII escaping."""
    for event in events:
        yield (
            json.dumps(audit_event_row(event), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
            + "\n"
        )


def audit_export_csv_rows(events: Iterable[AuditEvent]) -> Iterator[list[object]]:
    """Values in audit_export_fields() order; JSON fields as compact JSON text."""
    names = audit_export_fields()
    for event in events:
        row = audit_event_row(event)
        yield [
            json.dumps(row[n], sort_keys=True, separators=(",", ":"))
            if isinstance(row[n], dict | list)
            else row[n]
            for n in names
        ]


def audit_export_events(*, events: QuerySet[AuditEvent]) -> list[AuditEvent]:
    """Oldest first, the order a verifier walks the chain."""
    return list(events.order_by("seq"))


def audit_export_record(
    *, actor: User, fmt: str, filters: AuditFilters, count: int, everything: bool, ip: str | None = None
) -> AuditEvent:
    """An export is itself an audit event: who took which events, in which format, from where."""
    return audit_record(
        actor=actor,
        verb=EXPORT_VERB,
        obj=actor,
        after={"format": fmt, "filters": filters.as_dict(), "events": count, "whole_trail": everything},
        ip=ip,
    )
