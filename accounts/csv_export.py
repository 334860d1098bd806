"""CSV exports for every app: every cell quoted, spreadsheet formulas neutralised (OWASP CSV injection).

Ids go out as text (`TextCell`), so spreadsheets do not round long ones.
A semicolon-locale spreadsheet splits an unquoted `x;=1+1` into a second cell that starts with `=`;
quoting every cell keeps each value in its own cell, and a leading `=`, `+`, `-`, `@`, tab or
carriage return gets a `'` in front so the cell is shown as text, never evaluated.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator

from django.http import HttpResponse, StreamingHttpResponse

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


# Ids a spreadsheet would mangle as numbers (a 22-digit exchange id loses its last digits, "12e45"
# becomes 1.2E+46): written as ="…", the one formula every spreadsheet shows as that exact text. Only
# letters, digits, "-" and "_" qualify, so the formula can never be anything but a text literal.
_TEXT_CELL = re.compile(r"[0-9A-Za-z_-]{1,100}")


class TextCell(str):
    """A cell a spreadsheet must keep as text, such as an id: `csv_cell(TextCell(exchange_id))`."""


def csv_cell(value: object) -> str:
    if isinstance(value, TextCell):
        plain = "" + value
        return f'="{plain}"' if _TEXT_CELL.fullmatch(plain) else csv_cell(plain)
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


class _Echo:
    """csv.writer's file: hands each formatted row back instead of storing it."""

    def write(self, value: str) -> str:
        return value


def _csv_chunks(
    *, header: Iterable[str], rows: Iterable[Iterable[object]], rows_per_chunk: int
) -> Iterator[str]:
    writer = csv.writer(_Echo(), quoting=csv.QUOTE_ALL)
    chunk = [writer.writerow([csv_cell(v) for v in header])]
    for row in rows:
        chunk.append(writer.writerow([csv_cell(v) for v in row]))
        if len(chunk) >= rows_per_chunk:
            yield "".join(chunk)
            chunk = []
    if chunk:
        yield "".join(chunk)


def csv_streaming_response(
    *, filename: str, header: Iterable[str], rows: Iterable[Iterable[object]], rows_per_chunk: int = 500
) -> StreamingHttpResponse:
    """Like csv_response, streamed: rows are formatted as the client reads them (pass a lazy iterator,
    e.g. over `values_list(...).iterator()`), so memory stays flat and the first bytes leave at once."""
    response = StreamingHttpResponse(
        _csv_chunks(header=header, rows=rows, rows_per_chunk=rows_per_chunk),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response
