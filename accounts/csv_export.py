"""CSV exports for every app: every cell quoted, spreadsheet formulas neutralised (OWASP CSV injection).

A semicolon-locale spreadsheet splits an unquoted `x;=1+1` into a second cell that starts with `=`;
quoting every cell keeps each value in its own cell, and a leading `=`, `+`, `-`, `@`, tab or
carriage return gets a `'` in front so the cell is shown as text, never evaluated.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable

from django.http import HttpResponse

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def csv_response(*, filename: str, header: Iterable[str], rows: Iterable[Iterable[object]]) -> HttpResponse:
    """An attachment with every cell quoted and neutralised; `Cache-Control: no-store` like every export."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    writer = csv.writer(response, quoting=csv.QUOTE_ALL)
    writer.writerow([csv_cell(v) for v in header])
    for row in rows:
        writer.writerow([csv_cell(v) for v in row])
    return response
