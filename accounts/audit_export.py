"""Exports of the audit trail (CSV and JSON Lines) and the audit event every export writes (issue 11).

Every concrete field of AuditEvent is exported as it is stored, chain fields included (link, previous
link, and whatever the chain carries), read from the model rather than listed here, so an auditor can
verify an export outside the desk with `tools/audit_verify.py`.

Exports stream: the rows are read with a server-side cursor in chunks of EXPORT_CHUNK events
(`QuerySet.iterator`) and leave in pieces of about EXPORT_PIECE_BYTES, so a whole-trail export of
hundreds of thousands of events never sits in the web process's memory.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.db.models import Max, QuerySet
from django.http import StreamingHttpResponse

from accounts.audit import audit_record
from accounts.audit_access import AuditFilters
from accounts.csv_export import csv_cell
from accounts.models import AuditEvent, User

EXPORT_FORMATS = ("csv", "jsonl")
EXPORT_VERB = "audit.export"
EXPORT_CHUNK = 2000  # events per database round trip
EXPORT_PIECE_BYTES = 64 * 1024  # roughly, per piece handed to the server
CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson; charset=utf-8"}


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


def audit_export_snapshot(*, events: QuerySet[AuditEvent]) -> tuple[QuerySet[AuditEvent], int]:
    """The events to export, oldest first (the order a verifier walks the chain), bounded by the newest
    one that matches now, and how many they are: the export's own event, recorded next, and anything
    written while the file streams are not in it, so the recorded count is the file's."""
    top = events.aggregate(top=Max("seq"))["top"]
    if top is None:
        return events.none(), 0
    bounded = events.filter(seq__lte=top).order_by("seq")
    return bounded, bounded.count()


class _Echo:
    """csv.writer's file: hands each formatted row back instead of storing it."""

    def write(self, value: str) -> str:
        return value


def audit_export_csv(events: Iterable[AuditEvent]) -> Iterator[str]:
    """The CSV text row by row: the header, then every cell quoted and neutralised (csv_export)."""
    writer = csv.writer(_Echo(), quoting=csv.QUOTE_ALL)
    yield writer.writerow([csv_cell(v) for v in audit_export_fields()])
    for row in audit_export_csv_rows(events):
        yield writer.writerow([csv_cell(v) for v in row])


def _pieces(lines: Iterable[str]) -> Iterator[str]:
    """Lines joined into pieces of about EXPORT_PIECE_BYTES (one write per piece, not per row)."""
    buffer: list[str] = []
    size = 0
    for line in lines:
        buffer.append(line)
        size += len(line)
        if size >= EXPORT_PIECE_BYTES:
            yield "".join(buffer)
            buffer, size = [], 0
    if buffer:
        yield "".join(buffer)


def audit_export_response(*, events: QuerySet[AuditEvent], fmt: str) -> StreamingHttpResponse:
    """A streamed attachment (`fmt` in EXPORT_FORMATS) of `events` as audit_export_snapshot gives them."""
    rows = events.iterator(chunk_size=EXPORT_CHUNK)
    lines = audit_export_csv(rows) if fmt == "csv" else audit_export_jsonl(rows)
    response = StreamingHttpResponse(_pieces(lines), content_type=CONTENT_TYPES[fmt])
    response["Content-Disposition"] = f'attachment; filename="audit-events.{fmt}"'
    response["Cache-Control"] = "no-store"
    return response


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
