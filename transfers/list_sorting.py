"""Sortable lists: a `sort` query parameter picks one of a list's whitelisted columns ("amount",
"-amount" for descending); anything else falls back to the list's default order."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from django.db.models import Model, QuerySet

M = TypeVar("M", bound=Model)

# Column name in the URL → the ordering it stands for (always ended by -pk, so pages are stable).
REQUEST_SORTS: dict[str, tuple[str, ...]] = {
    "id": ("pk",),
    "created": ("created_at",),
    "amount": ("amount",),
    "asset": ("asset", "amount"),
    "status": ("status", "created_at"),
    "kind": ("kind", "created_at"),
    "key_set": ("key_set__label", "created_at"),
    "requester": ("requested_by__username", "created_at"),
    "expires": ("expires_at",),
    "approvals": ("approvals_so_far", "expires_at"),
}


@dataclass(frozen=True)
class Sort:
    key: str  # "amount" (empty for the default)
    descending: bool

    @property
    def param(self) -> str:
        return ("-" if self.descending else "") + self.key if self.key else ""


def sort_parse(*, raw: str | None, allowed: dict[str, tuple[str, ...]]) -> Sort:
    """The sort asked for, when its column is allowed; the default (Sort("", False)) otherwise."""
    text = (raw or "").strip()
    descending = text.startswith("-")
    key = text[1:] if descending else text
    return Sort(key, descending) if key in allowed else Sort("", False)


def sort_apply(qs: QuerySet[M], *, sort: Sort, allowed: dict[str, tuple[str, ...]]) -> QuerySet[M]:
    if not sort.key:
        return qs
    fields = [f"-{f}" if sort.descending else f for f in allowed[sort.key]]
    return qs.order_by(*fields, "-pk" if sort.descending else "pk")
