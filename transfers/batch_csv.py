"""Batch legs from CSV text (docs/workflow.md "Batch requests"): parse only; the batch service checks
every leg as a single request is checked and reports each problem with its line number.

The header names the columns; `kind`, `key_set`, `asset` and `amount` are required, every other
column is one of the kinds' fields and may be left out when no leg needs it. Line 1 is the header.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any

from transfers.payload import KIND_FIELDS

REQUIRED_COLUMNS = ("kind", "key_set", "asset", "amount")
FIELD_COLUMNS = tuple(dict.fromkeys(name for spec in KIND_FIELDS.values() for name in spec))
CSV_HEADER = (*REQUIRED_COLUMNS, *FIELD_COLUMNS)
MAX_LEGS = 500
MAX_CSV_BYTES = 512 * 1024


@dataclass(frozen=True)
class LegInput:
    """One leg as entered: `line` is its line in the CSV (or its row in the form), for error messages."""

    line: int
    kind: str
    key_set: str  # the key set's label or UUID
    asset: str
    amount: str
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LegError:
    line: int | None  # None: the batch as a whole (totals, quorum)
    message: str

    def __str__(self) -> str:
        return f"Line {self.line}: {self.message}" if self.line is not None else self.message


def legs_from_csv(text: str) -> tuple[list[LegInput], list[LegError]]:
    """The legs of a CSV text, and what is wrong with its shape (unknown columns, too many rows)."""
    if len(text.encode()) > MAX_CSV_BYTES:
        return [], [LegError(None, f"The file is larger than {MAX_CSV_BYTES // 1024} KiB.")]
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    try:
        header = [name.strip() for name in next(reader)]
    except StopIteration:
        return [], [LegError(1, "The CSV is empty; the first line must be the header.")]
    except csv.Error as exc:
        return [], [LegError(1, f"Unreadable CSV: {exc}.")]
    errors: list[LegError] = []
    unknown = [name for name in header if name not in CSV_HEADER]
    missing = [name for name in REQUIRED_COLUMNS if name not in header]
    if unknown:
        errors.append(LegError(1, f"Unknown column(s): {', '.join(unknown)}."))
    if missing:
        errors.append(LegError(1, f"Missing column(s): {', '.join(missing)}."))
    if len(set(header)) != len(header):
        errors.append(LegError(1, "A column is named twice."))
    if errors:
        return [], errors
    legs: list[LegInput] = []
    try:
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                errors.append(LegError(line, f"{len(row)} values for {len(header)} columns."))
                continue
            values = {name: cell.strip() for name, cell in zip(header, row, strict=True)}
            legs.append(
                LegInput(
                    line=line,
                    kind=values.pop("kind"),
                    key_set=values.pop("key_set"),
                    asset=values.pop("asset"),
                    amount=values.pop("amount"),
                    fields={name: value for name, value in values.items() if value != ""},
                )
            )
    except csv.Error as exc:
        errors.append(LegError(reader.line_num, f"Unreadable CSV: {exc}."))
    if not legs and not errors:
        errors.append(LegError(None, "The CSV has no legs."))
    if len(legs) > MAX_LEGS:
        errors.append(LegError(None, f"A batch has at most {MAX_LEGS} legs ({len(legs)} given)."))
    return legs, errors


def legs_to_csv(legs: list[tuple[str, dict[str, Any]]]) -> str:
    """CSV text (the documented header) for (key set label, canonical payload) pairs: what the new-batch
    form is pre-filled with to retry failed legs as a new batch (new client ids, a new approval)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for label, payload in legs:
        row = {
            "kind": payload["kind"],
            "key_set": label,
            "asset": payload["asset"],
            "amount": payload["amount"],
        }
        row.update({name: payload[name] for name in KIND_FIELDS[payload["kind"]]})
        writer.writerow([row.get(name, "") for name in CSV_HEADER])
    return out.getvalue()
