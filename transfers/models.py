"""Transfer requests, their approvals and execution, the policy, the address book and synced records.

Over 400 lines on purpose: Django keeps an app's models in one module, and these are one schema
(requests, approvals, attempts, records and the policy refer to one another).
"""

import uuid
from collections.abc import Collection
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q

from accounts.formatting import amount_label
from accounts.models import MONEY, ApiKeySet
from transfers.amounts import amount_matches


class TransferKind(models.TextChoices):
    WALLET = "wallet", "Between own wallets"
    INNER = "inner", "Main account → main or own sub-account"
    SUB_INNER = "sub_inner", "Sub-account → sub-account or main"
    FAMILY = "family", "Master-driven family transfer"


class Status(models.TextChoices):
    PENDING = "pending", "Pending approval"
    APPROVED = "approved", "Approved, waiting for execution"
    REJECTED = "rejected", "Rejected"
    CANCELLED = "cancelled", "Cancelled"
    EXPIRED = "expired", "Expired"
    STALE = "stale", "Stale (key set or policy changed)"
    SUBMITTING = "submitting", "Submitting to BingX"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    UNKNOWN = "unknown", "Outcome unknown, reconciling"


OPEN_STATUSES = (Status.PENDING,)
IN_FLIGHT_STATUSES = (Status.APPROVED, Status.SUBMITTING, Status.UNKNOWN)
FINAL_STATUSES = (
    Status.REJECTED,
    Status.CANCELLED,
    Status.EXPIRED,
    Status.STALE,
    Status.SUCCEEDED,
    Status.FAILED,
)


class Decision(models.TextChoices):
    APPROVE = "approve", "Approve"
    REJECT = "reject", "Reject"


class RecipientType(models.IntegerChoices):
    """BingX's userAccountType."""

    UID = 1, "UID"
    PHONE = 2, "Phone number"
    EMAIL = 3, "Email"


class RecipientStatus(models.TextChoices):
    PENDING = "pending", "Awaiting a second administrator"
    ACTIVE = "active", "Allowed"
    REJECTED = "rejected", "Rejected"
    REMOVED = "removed", "Removed"


class AllowedRecipient(models.Model):
    """Address book of BingX users outside the team's own accounts that may receive inner transfers."""

    label = models.CharField(max_length=100)
    recipient_type = models.PositiveSmallIntegerField(choices=RecipientType.choices)
    account = models.CharField(max_length=120)
    calling_code = models.CharField(max_length=8, blank=True)
    status = models.CharField(max_length=16, choices=RecipientStatus.choices, default=RecipientStatus.PENDING)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["label"]
        constraints = [
            models.UniqueConstraint(
                fields=["recipient_type", "account", "calling_code"], name="recipient_unique_account"
            ),
            models.CheckConstraint(
                condition=Q(recipient_type__in=RecipientType.values), name="recipient_type_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=RecipientStatus.values), name="recipient_status_valid"
            ),
            # A calling code belongs to a phone number and to nothing else (recipient_clean's rule).
            models.CheckConstraint(
                condition=(Q(recipient_type=RecipientType.PHONE) & ~Q(calling_code=""))
                | (~Q(recipient_type=RecipientType.PHONE) & Q(calling_code="")),
                name="recipient_calling_code_only_for_phone",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.label} ({self.get_recipient_type_display()} {self.account})"


class PolicyRule(models.Model):
    """Ordered rules; the first active rule that matches a request sets its quorum."""

    position = models.PositiveIntegerField(default=100)
    name = models.CharField(max_length=100)
    key_set = models.ForeignKey(ApiKeySet, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=16, choices=TransferKind.choices, blank=True)
    asset = models.CharField(max_length=20, blank=True)
    min_amount = models.DecimalField(
        **MONEY, null=True, blank=True, help_text="Applies at or above this amount."
    )
    required_approvals = models.PositiveSmallIntegerField(default=1)
    passkey_required_above = models.DecimalField(
        **MONEY,
        null=True,
        blank=True,
        help_text="Above this amount only passkey-signed approvals count towards the quorum.",
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(required_approvals__gte=1), name="rule_needs_one"),
            models.CheckConstraint(
                condition=Q(min_amount__isnull=True) | Q(min_amount__gte=0),
                name="rule_min_amount_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(kind="") | Q(kind__in=TransferKind.values), name="rule_kind_valid_or_any"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.position}. {self.name}: {self.required_approvals} approval(s)"


class DailyLimit(models.Model):
    """Rolling 24 h ceiling on what may be requested per key set and asset."""

    key_set = models.ForeignKey(ApiKeySet, on_delete=models.CASCADE, related_name="daily_limits")
    asset = models.CharField(max_length=20)
    limit = models.DecimalField(**MONEY)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["key_set", "asset"], name="daily_limit_unique"),
            # No zero ceiling: removing the limit is how "no limit" is said (_limit_clean refuses <= 0).
            models.CheckConstraint(condition=Q(limit__gt=0), name="daily_limit_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.key_set}: {amount_label(amount=self.limit, asset=self.asset)} / 24 h"


class PolicyChangeAction(models.TextChoices):
    RULE_CREATE = "rule_create", "Add rule"
    RULE_UPDATE = "rule_update", "Change rule"
    RULE_DELETE = "rule_delete", "Delete rule"
    LIMIT_SAVE = "limit_save", "Set 24 h limit"
    LIMIT_DELETE = "limit_delete", "Remove 24 h limit"


class PolicyChangeStatus(models.TextChoices):
    PENDING = "pending", "Awaiting a second administrator"
    APPLIED = "applied", "Applied"
    REJECTED = "rejected", "Rejected"
    CANCELLED = "cancelled", "Cancelled"


class PolicyChangeRequest(models.Model):
    """A proposed policy edit; it takes effect only when a second administrator approves it."""

    action = models.CharField(max_length=16, choices=PolicyChangeAction.choices)
    target_id = models.PositiveIntegerField(
        null=True, blank=True, help_text="The rule or limit changed or removed; empty when adding."
    )
    before = models.JSONField(default=dict, blank=True, help_text="The target as it was when proposed.")
    proposed = models.JSONField(default=dict, blank=True, help_text="Cleaned values to apply.")
    status = models.CharField(
        max_length=16, choices=PolicyChangeStatus.choices, default=PolicyChangeStatus.PENDING, db_index=True
    )
    proposed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    note = models.CharField(max_length=300, blank=True, help_text="Why it could not be applied, if so.")
    applied_version = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # The database backs the service: nobody applies their own proposal.
            models.CheckConstraint(
                condition=~Q(status="applied") | ~Q(decided_by=models.F("proposed_by")),
                name="policy_change_four_eyes",
            )
        ]

    def __str__(self) -> str:
        target = f" #{self.target_id}" if self.target_id else ""
        return f"{self.get_action_display()}{target} ({self.get_status_display().lower()})"

    def rows(self) -> list[tuple[str, Any, Any]]:
        """(field, before, after) for the page; after is None for a removal."""
        deleting = self.action in (PolicyChangeAction.RULE_DELETE, PolicyChangeAction.LIMIT_DELETE)
        names = list(dict.fromkeys([*self.before.keys(), *self.proposed.keys()]))
        out = []
        for name in names:
            old, new = self.before.get(name), None if deleting else self.proposed.get(name)
            if deleting or old != new:
                if name in self.AMOUNT_FIELDS:  # compared and shown as amounts ("10000" is 10,000)
                    old, new = _as_amount(old), _as_amount(new)
                    if not deleting and old == new:
                        continue
                out.append((name.replace("_", " "), old, new))
        return out

    AMOUNT_FIELDS = frozenset({"min_amount", "passkey_required_above", "limit"})


def _as_amount(value: Any) -> Any:
    """A stored amount ("10000", "10000.000000000000000000") as a Decimal; anything else unchanged."""
    try:
        return Decimal(str(value)) if value not in (None, "") else value
    except ArithmeticError:
        return value


class PolicyState(models.Model):
    """A single row whose version increases on every policy change; requests remember it."""

    version = models.PositiveIntegerField(default=1)
    changed_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"policy v{self.version}"


class BatchStatus(models.TextChoices):
    PENDING = "pending", "Pending approval"
    APPROVED = "approved", "Approved, legs executing"
    REJECTED = "rejected", "Rejected"
    CANCELLED = "cancelled", "Cancelled"
    EXPIRED = "expired", "Expired"
    STALE = "stale", "Stale (key set, policy or payload changed)"


class TransferBatch(models.Model):
    """One request with N legs (docs/workflow.md "Batch requests"). The legs are ordinary
    TransferRequest rows (`batch`, `leg_index`); `payload` is their payloads in leg order and
    `payload_sha256` hashes that list, so one approval covers every leg exactly."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    payload = models.JSONField(help_text="The legs' canonical payloads, in leg order.")
    payload_sha256 = models.CharField(max_length=64)
    note = models.CharField(max_length=300, blank=True)
    status = models.CharField(
        max_length=16, choices=BatchStatus.choices, default=BatchStatus.PENDING, db_index=True
    )
    required_approvals = models.PositiveSmallIntegerField()
    policy_version = models.PositiveIntegerField()
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    expires_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)
    attention_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=BatchStatus.values), name="batch_status_valid"),
            models.CheckConstraint(condition=Q(required_approvals__gte=1), name="batch_needs_one_approval"),
        ]

    def __str__(self) -> str:
        return f"batch #{self.pk} ({len(self.payload or [])} legs)"


class TransferRequest(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    client_id = models.CharField(max_length=40, unique=True, help_text="Sent as BingX transferClientId.")
    key_set = models.ForeignKey(ApiKeySet, on_delete=models.PROTECT, related_name="transfer_requests")
    kind = models.CharField(max_length=16, choices=TransferKind.choices)
    payload = models.JSONField(help_text="Canonical payload: exactly what is approved and executed.")
    payload_sha256 = models.CharField(max_length=64)
    asset = models.CharField(max_length=20)
    amount = models.DecimalField(**MONEY)
    recipient = models.ForeignKey(AllowedRecipient, null=True, blank=True, on_delete=models.PROTECT)
    note = models.CharField(max_length=300, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
    required_approvals = models.PositiveSmallIntegerField()
    policy_version = models.PositiveIntegerField()
    policy_rule = models.ForeignKey(
        PolicyRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    expires_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)
    # The claim's time; with `sending_at` it tells a claim that sent nothing from one that may have.
    submitted_at = models.DateTimeField(null=True, blank=True)
    # Set right before the money-moving call leaves (after the rate-limit token): a claim without it
    # provably sent nothing and goes back to APPROVED (transfers/execution/claims.py).
    sending_at = models.DateTimeField(null=True, blank=True)
    # When the execution message scheduled for a rate-limit slot is due (transfers.dispatch): until
    # then an APPROVED request waiting for its slot is not lost, and the sweeper leaves it alone.
    execute_at = models.DateTimeField(null=True, blank=True)
    # Executions again after the exchange's records proved the earlier one absent (bounded).
    absent_resends = models.PositiveSmallIntegerField(default=0)
    completed_at = models.DateTimeField(null=True, blank=True)
    exchange_id = models.CharField(max_length=64, blank=True)
    failure_code = models.CharField(max_length=32, blank=True)
    failure_message = models.TextField(blank=True)
    needs_attention = models.BooleanField(default=False, db_index=True)
    attention_reason = models.TextField(blank=True)
    # A leg of a batch request: decided only with its batch, executed on its own like any request.
    batch = models.ForeignKey(
        TransferBatch, null=True, blank=True, on_delete=models.PROTECT, related_name="legs"
    )
    leg_index = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["key_set", "asset", "created_at"]),
            # What the lists sort on (docs/performance.md): the dashboard's recent and attention lists,
            # "what I requested", the approvals queue, and reconciliation's settled requests.
            models.Index(fields=["-updated_at"], name="transfer_request_updated_idx"),
            models.Index(fields=["requested_by", "-created_at"], name="transfer_request_mine_idx"),
            models.Index(
                fields=["expires_at"], condition=Q(status="pending"), name="transfer_request_pending_idx"
            ),
            models.Index(
                fields=["submitted_at"],
                condition=Q(status__in=["succeeded", "unknown"]),
                name="transfer_request_settled_idx",
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="transfer_request_amount_positive"),
            models.CheckConstraint(
                condition=Q(status__in=Status.values), name="transfer_request_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=TransferKind.values), name="transfer_request_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(required_approvals__gte=1), name="transfer_request_needs_one_approval"
            ),
            models.UniqueConstraint(fields=["batch", "leg_index"], name="batch_leg_unique"),
            models.CheckConstraint(
                condition=Q(batch__isnull=True, leg_index__isnull=True)
                | Q(batch__isnull=False, leg_index__isnull=False),
                name="batch_leg_has_index",
            ),
        ]

    def __str__(self) -> str:
        # The payload's exact amount, formatted ("0.05 BTC", never the column's 18 decimals).
        label = amount_label(amount=(self.payload or {}).get("amount", self.amount), asset=self.asset)
        return f"#{self.pk} {label} ({self.get_kind_display()})"

    @property
    def amount_text(self) -> str:
        return format(Decimal(self.payload["amount"]), "f")

    @classmethod
    def from_db(
        cls, db: str | None, field_names: Collection[str], values: Collection[Any], **kwargs: Any
    ) -> "TransferRequest":
        instance = super().from_db(db, field_names, values, **kwargs)
        instance._amount_restore(using=db or "default")
        return instance

    def _amount_restore(self, *, using: str) -> None:
        """SQLite keeps 15 significant digits of the amount column; when the column is the payload's
        amount as stored, use the payload's exact value. Any other difference stays visible, so
        `payload_verify` still reports an edited column."""
        deferred = self.get_deferred_fields()
        if "amount" in deferred or "payload" in deferred or not isinstance(self.payload, dict):
            return
        try:
            exact = Decimal(str(self.payload.get("amount")))
        except (InvalidOperation, ValueError):
            return
        if (
            exact.is_finite()
            and self.amount != exact
            and amount_matches(exact=exact, stored=self.amount, using=using)
        ):
            self.amount = exact


class StepUpMethod(models.TextChoices):
    WEBAUTHN = "webauthn", "Passkey-signed"
    TOTP = "totp", "TOTP code"
    RECOVERY = "recovery", "Recovery code"


class Approval(models.Model):
    request = models.ForeignKey(TransferRequest, on_delete=models.CASCADE, related_name="approvals")
    approver = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decision = models.CharField(max_length=8, choices=Decision.choices)
    payload_sha256 = models.CharField(max_length=64)
    comment = models.CharField(max_length=500, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # The second factor that confirmed it (transfers/approval_proof.py): the method, a passkey's
    # assertion (credential id, authenticator data, client data JSON, signature; base64url) and the
    # desk's seal, an HMAC over request, decision, payload hash, approver, method and assertion.
    stepup_method = models.CharField(max_length=16, choices=StepUpMethod.choices, blank=True)
    stepup_assertion = models.JSONField(default=dict, blank=True)
    stepup_seal = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(fields=["request", "approver"], name="one_decision_per_person"),
            models.CheckConstraint(condition=Q(decision__in=Decision.values), name="approval_decision_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.approver} {self.decision} #{self.request_id}"


class AttemptKind(models.TextChoices):
    SUBMIT = "submit", "Submit"
    RECONCILE = "reconcile", "Reconcile"


class AttemptOutcome(models.TextChoices):
    SUCCEEDED = "succeeded", "Succeeded"
    REJECTED = "rejected", "Rejected by BingX"
    AMBIGUOUS = "ambiguous", "Outcome unknown"
    NOT_SENT = "not_sent", "Not sent"
    FOUND = "found", "Found in records"
    ABSENT = "absent", "Absent from records"
    REFUSED = "refused", "Refused before sending"


class ExecutionAttempt(models.Model):
    request = models.ForeignKey(TransferRequest, on_delete=models.CASCADE, related_name="attempts")
    kind = models.CharField(max_length=16, choices=AttemptKind.choices, default=AttemptKind.SUBMIT)
    endpoint = models.CharField(max_length=120)
    method = models.CharField(max_length=8, default="POST")
    params = models.JSONField(default=dict, help_text="Parameters sent, never the signature.")
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    bingx_code = models.CharField(max_length=32, blank=True)
    bingx_message = models.TextField(blank=True)
    outcome = models.CharField(max_length=16, choices=AttemptOutcome.choices)
    exchange_id = models.CharField(max_length=64, blank=True)
    worker = models.CharField(max_length=120, blank=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["started_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=AttemptKind.values), name="attempt_kind_valid"),
            models.CheckConstraint(
                condition=Q(outcome__in=AttemptOutcome.values), name="attempt_outcome_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.request_id}: {self.outcome}"


class RecordSource(models.TextChoices):
    ASSET = "asset", "Asset transfer records (new)"
    LEGACY_ASSET = "legacy_asset", "Asset transfer records (legacy)"
    INNER = "inner", "Main-account inner transfer records"
    SUB_INNER = "sub_inner", "Sub-account inner transfer records"
    FAMILY = "family", "Sub-account transfer history"


class TransferRecord(models.Model):
    """A transfer as the exchange reports it, upserted by exchange id."""

    key_set = models.ForeignKey(ApiKeySet, on_delete=models.CASCADE, related_name="records")
    source = models.CharField(max_length=16, choices=RecordSource.choices)
    exchange_id = models.CharField(max_length=64)
    asset = models.CharField(max_length=20)
    amount = models.DecimalField(**MONEY)
    status = models.CharField(max_length=32, blank=True)
    from_account = models.CharField(max_length=64, blank=True)
    to_account = models.CharField(max_length=64, blank=True)
    direction = models.CharField(max_length=8, blank=True)
    counterparty = models.CharField(max_length=64, blank=True)
    transfer_client_id = models.CharField(max_length=100, blank=True, db_index=True)
    occurred_at = models.DateTimeField(db_index=True)
    raw = models.JSONField(default=dict)
    matched_request = models.ForeignKey(
        TransferRequest, null=True, blank=True, on_delete=models.SET_NULL, related_name="records"
    )
    first_seen_at = models.DateTimeField(auto_now_add=True)
    # A legacy-endpoint record of a transfer the new endpoint also lists (same key set, asset, amount,
    # wallets and time): set at upsert (transfers.records.sync) so the reconciliation page shows each
    # transfer once without a correlated NOT EXISTS over every record.
    is_duplicate = models.BooleanField(default=False)
    # An outside record a person reviewed (transfers.records.review): acknowledged as known with a
    # note, or linked to the request it belongs to (then matched_request is set). Audited.
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    acknowledge_note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-occurred_at"]
        indexes = [
            # Reconciliation's "records nobody requested here", newest first (docs/performance.md).
            models.Index(
                fields=["-occurred_at", "-id"],
                condition=Q(matched_request__isnull=True, is_duplicate=False),
                name="record_outside_idx",
            ),
            # Reconciliation pairs the two legs of an inner transfer by exchange id (one IN query per
            # page); without it PostgreSQL scanned every record (25 ms at 100 000).
            models.Index(fields=["exchange_id"], name="record_exchange_id_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["key_set", "source", "exchange_id"], name="record_unique_exchange_id"
            ),
            models.CheckConstraint(condition=Q(source__in=RecordSource.values), name="record_source_valid"),
            # Sync stores abs(amount) (older answers signed outgoing rows); zero is the exchange's to report.
            models.CheckConstraint(condition=Q(amount__gte=0), name="record_amount_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.source} {self.exchange_id} {amount_label(amount=self.amount, asset=self.asset)}"


class SyncCursor(models.Model):
    """Where incremental sync of one record endpoint for one key set (and coin or pair) stopped."""

    key_set = models.ForeignKey(ApiKeySet, on_delete=models.CASCADE, related_name="sync_cursors")
    source = models.CharField(max_length=16, choices=RecordSource.choices)
    scope = models.CharField(max_length=64, blank=True, help_text="Coin, wallet pair or type, where needed.")
    last_time_ms = models.BigIntegerField(default=0)
    last_synced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["key_set", "source", "scope"], name="cursor_unique")]

    def __str__(self) -> str:
        return f"{self.key_set} {self.source} {self.scope} @ {self.last_time_ms}"


class TransferRuleKind(models.TextChoices):
    SWEEP = "sweep", "Sweep sub-accounts into the master"
    TOP_UP = "top_up", "Top up sub-accounts from the master"


class TransferRuleStatus(models.TextChoices):
    PENDING = "pending", "Awaiting a second administrator"
    ACTIVE = "active", "Active"
    REJECTED = "rejected", "Rejected"
    CANCELLED = "cancelled", "Cancelled"
    SUPERSEDED = "superseded", "Replaced by a newer version"


class TransferRule(models.Model):
    """A saved sweep or top-up rule (docs/workflow.md "Sweep and top-up rules"). Each row is one
    version, proposed by one administrator and active only once a second one approves it; a change is
    a new row that `replaces` the active one, which becomes SUPERSEDED when the change is approved."""

    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=16, choices=TransferRuleKind.choices)
    key_set = models.ForeignKey(ApiKeySet, on_delete=models.PROTECT, related_name="+")
    asset = models.CharField(max_length=20)
    # The family account type (transfers.payload.FAMILY_ACCOUNT_TYPES): the master's wallet a sweep
    # pays into, or the sub-accounts' wallet a top-up fills (a futures wallet: by its value in USDT).
    wallet = models.PositiveSmallIntegerField(default=1)
    threshold = models.DecimalField(**MONEY, help_text="KEEP for a sweep, TARGET for a top-up.")
    sub_uids = models.JSONField(default=list, blank=True, help_text="Empty for a sweep: every sub-account.")
    every_minutes = models.PositiveIntegerField(null=True, blank=True, help_text="Empty: on demand only.")
    status = models.CharField(
        max_length=16, choices=TransferRuleStatus.choices, default=TransferRuleStatus.PENDING, db_index=True
    )
    replaces = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    proposed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    note = models.CharField(max_length=300, blank=True)
    periodic_task = models.OneToOneField(
        "django_celery_beat.PeriodicTask", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(threshold__gte=0), name="transfer_rule_threshold_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=TransferRuleKind.values), name="transfer_rule_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=TransferRuleStatus.values), name="transfer_rule_status_valid"
            ),
            models.CheckConstraint(
                condition=~Q(status="active") | ~Q(decided_by=models.F("proposed_by")),
                name="transfer_rule_four_eyes",
            ),
        ]

    def __str__(self) -> str:
        return f"rule #{self.pk} {self.name} ({self.get_status_display().lower()})"


class TransferRuleRun(models.Model):
    """One run of a rule: the balances read, the legs computed and the batch created (or why none)."""

    rule = models.ForeignKey(TransferRule, on_delete=models.PROTECT, related_name="runs")
    trigger = models.CharField(max_length=16)  # "manual" or "schedule"
    run_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    balances = models.JSONField(default=list)
    legs = models.JSONField(default=list)
    batch = models.ForeignKey(
        TransferBatch, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    outcome = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"run #{self.pk} of rule #{self.rule_id}"


# Which notifications were sent already (deduplication across paths and processes).
from transfers.notification_models import NotificationSent as NotificationSent  # noqa: E402
