"""Personal API tokens, stored idempotent responses, webhook endpoints and their deliveries."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from accounts.models import ApiKeySet


class TokenScope(models.TextChoices):
    READ = "read", "Read only"
    REQUEST = "request", "Read and request transfers"


class ApiToken(models.Model):
    """A person's token for scripts. Only the SHA-256 of the secret is stored; the prefix identifies it."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True, help_text="Shown in lists: the token's start.")
    token_sha256 = models.CharField(max_length=64, unique=True)
    scope = models.CharField(max_length=8, choices=TokenScope.choices, default=TokenScope.READ)
    # Empty: every key set the person may see (their grants still decide what they may do).
    key_sets = models.ManyToManyField(ApiKeySet, blank=True, related_name="+")
    allowed_ips = models.JSONField(default=list, blank=True, help_text="Addresses or networks (CIDR).")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_used_ip = models.GenericIPAddressField(null=True, blank=True)
    last_audited_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"API token “{self.name}” ({self.prefix}…) of {self.user}"


class IdempotentResponse(models.Model):
    """The first response to a POST with an Idempotency-Key, replayed for the same key and body."""

    token = models.ForeignKey(ApiToken, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=300)
    body_sha256 = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    body = models.TextField()
    content_type = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["token", "key"], name="idempotency_key_per_token")]

    def __str__(self) -> str:
        return f"{self.method} {self.path} (key {self.key[:40]})"


class EventType(models.TextChoices):
    REQUEST_CREATED = "request.created", "Request created"
    REQUEST_APPROVED = "request.approved", "Request approved"
    REQUEST_REJECTED = "request.rejected", "Request rejected"
    REQUEST_CANCELLED = "request.cancelled", "Request cancelled"
    REQUEST_SUCCEEDED = "request.succeeded", "Request succeeded"
    REQUEST_FAILED = "request.failed", "Request failed"
    REQUEST_UNKNOWN = "request.unknown", "Request outcome unknown"
    REQUEST_STALE = "request.stale", "Request stale"
    REQUEST_EXPIRED = "request.expired", "Request expired"
    BATCH_PROGRESS = "batch.progress", "Batch progress"
    RECONCILIATION_FINDING = "reconciliation.finding", "Reconciliation finding"


class EndpointStatus(models.TextChoices):
    PENDING = "pending", "Awaiting a second administrator"
    ACTIVE = "active", "Active"
    PAUSED = "paused", "Paused (failing)"
    REJECTED = "rejected", "Rejected"
    REMOVED = "removed", "Removed"


class WebhookEndpoint(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    url = models.URLField(max_length=500)
    description = models.CharField(max_length=200, blank=True)
    event_types = models.JSONField(default=list)
    # Encrypted like key-set secrets (accounts.crypto), bound to this row's uuid.
    secret_encrypted = models.TextField(editable=False)
    status = models.CharField(max_length=16, choices=EndpointStatus.choices, default=EndpointStatus.PENDING)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    failing_since = models.DateTimeField(null=True, blank=True)
    paused_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"webhook endpoint {self.url}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RETRYING = "retrying", "Retrying"
    DELIVERED = "delivered", "Delivered"
    GAVE_UP = "gave_up", "Gave up"


class WebhookDelivery(models.Model):
    """One event for one endpoint; its attempts are WebhookAttempt rows."""

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event_id = models.UUIDField(default=uuid.uuid4, editable=False)
    event_type = models.CharField(max_length=40)
    payload = models.JSONField()
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempt_count = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.event_type} → {self.endpoint.url}"


class WebhookAttempt(models.Model):
    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempts")
    at = models.DateTimeField()
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    manual = models.BooleanField(default=False)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"attempt at {self.at:%Y-%m-%d %H:%M:%S}: {self.http_status or self.error}"
