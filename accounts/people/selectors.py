"""Reads for the people pages (administrators only)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet

from accounts.access import ensure_admin
from accounts.models import ApiKeySet, KeySetGrant, PeopleChange, PeopleChangeStatus, User
from accounts.roles import ROLES


@dataclass(frozen=True)
class PersonRow:
    user: User
    roles: list[str]


def people_list(*, user: User) -> list[PersonRow]:
    ensure_admin(user=user)
    users = User.objects.order_by("username").prefetch_related("groups")
    return [PersonRow(user=u, roles=sorted(g.name for g in u.groups.all() if g.name in ROLES)) for u in users]


def person_get(*, user: User, pk: int) -> User:
    """User.DoesNotExist when there is no such person."""
    ensure_admin(user=user)
    return User.objects.prefetch_related("groups").get(pk=pk)


def person_grants(*, person: User) -> QuerySet[KeySetGrant]:
    return (
        KeySetGrant.objects.filter(user=person)
        .select_related("key_set", "created_by")
        .order_by("key_set__label")
    )


def key_sets_all() -> QuerySet[ApiKeySet]:
    return ApiKeySet.objects.order_by("label")


def _changes() -> QuerySet[PeopleChange]:
    return PeopleChange.objects.select_related("target_user", "proposed_by", "decided_by")


def people_changes_pending(*, user: User, person: User | None = None) -> QuerySet[PeopleChange]:
    ensure_admin(user=user)
    qs = _changes().filter(status=PeopleChangeStatus.PENDING).order_by("created_at", "pk")
    return qs.filter(target_user=person) if person is not None else qs


def people_changes_recent(*, user: User, person: User | None = None, limit: int = 25) -> list[PeopleChange]:
    ensure_admin(user=user)
    qs = _changes().exclude(status=PeopleChangeStatus.PENDING).order_by("-decided_at", "-pk")
    if person is not None:
        qs = qs.filter(target_user=person)
    return list(qs[:limit])


def role_names() -> list[str]:
    return sorted(ROLES)


__all__ = [
    "PersonRow",
    "key_sets_all",
    "people_changes_pending",
    "people_changes_recent",
    "people_list",
    "person_get",
    "person_grants",
    "role_names",
]
