"""Cursor pagination: newest first by id; the cursor is an opaque string naming the last id seen."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any, TypeVar

from django.db.models import Model, QuerySet
from ninja import Schema

M = TypeVar("M", bound=Model)


class CursorInvalid(ValueError):
    pass


class Page(Schema):
    results: list[Any]
    next_cursor: str | None


def _decode(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor.encode("ascii") + b"==").decode("ascii")
        kind, _, value = text.partition(":")
        if kind != "id" or not value.isdigit():
            raise ValueError
        return int(value)
    except (ValueError, UnicodeError):
        raise CursorInvalid("This cursor is not one the API gave out.") from None


def _encode(pk: int) -> str:
    return base64.urlsafe_b64encode(f"id:{pk}".encode("ascii")).decode("ascii").rstrip("=")


def page_of(
    queryset: QuerySet[M], *, cursor: str | None, limit: int, item: Callable[[M], dict[str, Any]]
) -> dict[str, Any]:
    rows = queryset.order_by("-pk")
    if cursor:
        rows = rows.filter(pk__lt=_decode(cursor))
    items = list(rows[: limit + 1])
    more = len(items) > limit
    items = items[:limit]
    return {
        "results": [item(row) for row in items],
        "next_cursor": _encode(items[-1].pk) if more and items else None,
    }
