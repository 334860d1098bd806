"""Django admin for the accounts app.

No secret field is ever shown. Key sets are added and their secrets replaced only on the key-set
pages (through the services); here an administrator may rename, set the rotate-by date or
deactivate — each through the same services and rules (activation needs a second-factor step-up, so
it is on the key-set page only). Non-superusers see only the key sets the access rules give them.
Grants, snapshots and the audit log are read-only. Users and groups are read-only for everyone but a
superuser, whose changes are audited (accounts.break_glass).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.access import AccessDenied
from accounts.admin_base import KeySetScopedAdmin, ReadOnlyAdmin, visible_key_sets
from accounts.audit_access import audit_events_visible
from accounts.models import (
    ApiKeySet,
    AssetOverviewSnapshot,
    AuditEvent,
    BalanceSnapshot,
    KeySetGrant,
    PeopleChange,
    SubAccount,
    User,
)
from accounts.services.key_sets import KeySetRefused, key_set_update


class SuperuserOnlyChanges:
    """People and permissions are read-only here for everyone but a superuser (break-glass: every change
    it makes is an audit event, accounts.break_glass). Administrators change people on the desk's
    People pages, under four eyes (accounts.services.people)."""

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return bool(request.user.is_active and request.user.is_superuser)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_active and request.user.is_superuser)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_active and request.user.is_superuser)


@admin.register(User)
class DeskUserAdmin(SuperuserOnlyChanges, UserAdmin):
    list_display = ("username", "email", "is_active", "is_staff", "is_superuser", "roles", "last_login")
    list_filter = ("is_active", "is_staff", "is_superuser", "groups")

    @admin.display(description="Roles")
    def roles(self, obj: User) -> str:
        return ", ".join(g.name for g in obj.groups.all())

    def get_queryset(self, request: HttpRequest) -> QuerySet[User]:
        return super().get_queryset(request).prefetch_related("groups")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # Only a superuser may create superusers or hand out individual permissions.
        readonly = tuple(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            readonly += ("is_superuser", "user_permissions")
        return readonly


admin.site.unregister(Group)


@admin.register(Group)
class DeskGroupAdmin(SuperuserOnlyChanges, GroupAdmin):
    pass


@admin.register(PeopleChange)
class PeopleChangeAdmin(ReadOnlyAdmin):
    list_display = (
        "pk",
        "kind",
        "status",
        "target_user",
        "proposed_by",
        "created_at",
        "decided_by",
        "decided_at",
    )
    list_filter = ("kind", "status")


@admin.register(ApiKeySet)
class ApiKeySetAdmin(admin.ModelAdmin):
    list_display = (
        "label",
        "sandbox",
        "environment",
        "account_kind",
        "uid",
        "api_key_hint",
        "status",
        "last_verified_at",
        "rotate_by",
    )
    list_filter = ("status", "environment", "account_kind")
    search_fields = ("label", "uid", "api_key_last4")
    fields = (
        "label",
        "rotate_by",
        "environment",
        "base_url",
        "account_kind",
        "parent",
        "uid",
        "api_key_hint",
        "status",
        "permissions",
        "ip_whitelist",
        "last_verified_at",
        "balances_synced_at",
        "created_by",
        "created_at",
        "secret_changed_by",
        "secret_changed_at",
        "activated_by",
        "activated_at",
    )
    readonly_fields = tuple(f for f in fields if f not in ("label", "rotate_by"))
    # Activation and deactivation need a second-factor step-up: the key-set page has both.
    actions: tuple[str, ...] = ()

    @admin.display(boolean=True, description="Sandbox")
    def sandbox(self, obj: ApiKeySet) -> bool:
        return obj.is_sandbox

    @admin.display(description="API key")
    def api_key_hint(self, obj: ApiKeySet) -> str:
        return obj.api_key_hint

    def get_queryset(self, request: HttpRequest) -> QuerySet[ApiKeySet]:
        qs = super().get_queryset(request)
        visible = visible_key_sets(request)
        return qs if visible is None else qs.filter(pk__in=visible.values("pk"))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # added on the key-set pages, where the secret is encrypted by the service

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # deactivate instead: requests and records refer to the key set

    def save_model(self, request: HttpRequest, obj: ApiKeySet, form: Any, change: bool) -> None:
        assert isinstance(request.user, User)
        try:
            key_set_update(
                actor=request.user,
                key_set_id=obj.pk,
                label=obj.label,
                rotate_by=obj.rotate_by,
                ip=request.META.get("REMOTE_ADDR"),
            )
        except (KeySetRefused, AccessDenied) as exc:
            self.message_user(request, str(exc), messages.ERROR)


@admin.register(KeySetGrant)
class KeySetGrantAdmin(KeySetScopedAdmin):
    list_display = (
        "key_set",
        "user",
        "group",
        "can_view",
        "can_request",
        "can_approve",
        "created_by",
        "created_at",
    )
    list_filter = ("can_view", "can_request", "can_approve", "group")
    search_fields = ("key_set__label", "user__username", "group__name")


@admin.register(SubAccount)
class SubAccountAdmin(KeySetScopedAdmin):
    key_set_field = "main_key_set"
    list_display = ("sub_uid", "name", "main_key_set", "frozen", "created_on_exchange", "discovered_at")
    list_filter = ("frozen",)
    search_fields = ("sub_uid", "name", "note", "main_key_set__label")


@admin.register(BalanceSnapshot)
class BalanceSnapshotAdmin(KeySetScopedAdmin):
    list_display = ("taken_at", "key_set", "wallet", "asset", "free", "locked")
    list_filter = ("wallet", "asset")
    search_fields = ("key_set__label", "asset")
    date_hierarchy = "taken_at"


@admin.register(AssetOverviewSnapshot)
class AssetOverviewSnapshotAdmin(KeySetScopedAdmin):
    list_display = ("taken_at", "key_set", "account_type", "usdt_balance")
    list_filter = ("account_type",)
    search_fields = ("key_set__label",)
    date_hierarchy = "taken_at"


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ("seq", "at", "actor_label", "verb", "object_type", "object_id", "object_repr", "ip")
    list_filter = ("verb", "object_type")
    search_fields = ("actor_label", "verb", "object_id", "object_repr")
    date_hierarchy = "at"

    def get_queryset(self, request: HttpRequest) -> QuerySet[AuditEvent]:
        """The same events as the audit page: everything for auditors, otherwise what the person may see."""
        user = request.user
        if not isinstance(user, User):
            return AuditEvent.objects.none()
        return audit_events_visible(user=user)
