"""Admin base classes shared by every app's admin (accounts and transfers): read-only, and scoped to
the key sets the access rules let the user view."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.access import Capability, key_sets_for
from accounts.models import ApiKeySet, User


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows are shown, never added, changed or deleted here (the services do that, with their rules)."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def visible_key_sets(request: HttpRequest) -> QuerySet[ApiKeySet] | None:
    """None for superusers (everything); otherwise the key sets the access rules allow."""
    user = request.user
    if user.is_superuser:
        return None
    assert isinstance(user, User)
    return key_sets_for(user=user, capability=Capability.VIEW)


class KeySetScopedAdmin(ReadOnlyAdmin):
    """Read-only rows that belong to a key set: non-superusers see only their key sets' rows.

    `key_set_field`: the lookup path from the row to its key set ("key_set", "main_key_set", ...).
    """

    key_set_field = "key_set"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        qs = super().get_queryset(request)
        visible = visible_key_sets(request)
        if visible is None:
            return qs
        return qs.filter(**{f"{self.key_set_field}__in": visible.values("pk")})
