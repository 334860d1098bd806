"""Django admin: read-only views of the workflow. Every change goes through the pages and services
(policy rules, limits and the address book have their own four-eyes pages, which bump the policy
version, mark pending requests stale and write audit events — the admin would bypass all of that)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.admin_base import KeySetScopedAdmin, ReadOnlyAdmin
from transfers.models import (
    AllowedRecipient,
    Approval,
    DailyLimit,
    ExecutionAttempt,
    PolicyChangeRequest,
    PolicyRule,
    TransferBatch,
    TransferRecord,
    TransferRequest,
    TransferRule,
    TransferRuleRun,
)


@admin.register(TransferRequest)
class TransferRequestAdmin(KeySetScopedAdmin):
    list_display = (
        "id",
        "status",
        "kind",
        "key_set",
        "amount",
        "asset",
        "requested_by",
        "created_at",
        "needs_attention",
    )
    list_filter = ("status", "kind", "needs_attention")
    search_fields = ("client_id", "payload_sha256", "exchange_id", "note")
    date_hierarchy = "created_at"


@admin.register(Approval)
class ApprovalAdmin(KeySetScopedAdmin):
    key_set_field = "request__key_set"
    list_display = ("request", "approver", "decision", "created_at", "ip")
    list_filter = ("decision",)


@admin.register(ExecutionAttempt)
class ExecutionAttemptAdmin(KeySetScopedAdmin):
    key_set_field = "request__key_set"
    list_display = ("request", "kind", "endpoint", "outcome", "bingx_code", "started_at", "duration_ms")
    list_filter = ("kind", "outcome")


@admin.register(TransferRecord)
class TransferRecordAdmin(KeySetScopedAdmin):
    list_display = (
        "exchange_id",
        "source",
        "key_set",
        "amount",
        "asset",
        "status",
        "occurred_at",
        "matched_request",
    )
    list_filter = ("source", "status")
    search_fields = ("exchange_id", "transfer_client_id")


@admin.register(PolicyRule)
class PolicyRuleAdmin(ReadOnlyAdmin):
    list_display = (
        "position",
        "name",
        "key_set",
        "kind",
        "asset",
        "min_amount",
        "required_approvals",
        "is_active",
    )


@admin.register(DailyLimit)
class DailyLimitAdmin(ReadOnlyAdmin):
    list_display = ("key_set", "asset", "limit")


@admin.register(PolicyChangeRequest)
class PolicyChangeRequestAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at",
        "action",
        "target_id",
        "status",
        "proposed_by",
        "decided_by",
        "applied_version",
    )
    list_filter = ("status", "action")


@admin.register(AllowedRecipient)
class AllowedRecipientAdmin(ReadOnlyAdmin):
    list_display = (
        "label",
        "recipient_type",
        "account",
        "calling_code",
        "status",
        "requested_by",
        "decided_by",
    )
    list_filter = ("status", "recipient_type")


@admin.register(TransferBatch)
class TransferBatchAdmin(KeySetScopedAdmin):
    """A batch is visible to whoever may see any of its legs' key sets."""

    key_set_field = "legs__key_set"
    list_display = ("id", "status", "requested_by", "created_at", "expires_at", "decided_at")
    list_filter = ("status",)
    search_fields = ("payload_sha256", "note")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).distinct()


@admin.register(TransferRule)
class TransferRuleAdmin(KeySetScopedAdmin):
    list_display = ("id", "name", "kind", "key_set", "asset", "threshold", "status", "every_minutes")
    list_filter = ("kind", "status")


@admin.register(TransferRuleRun)
class TransferRuleRunAdmin(KeySetScopedAdmin):
    key_set_field = "rule__key_set"
    list_display = ("id", "rule", "trigger", "run_by", "batch", "created_at", "outcome")
    list_filter = ("trigger",)
