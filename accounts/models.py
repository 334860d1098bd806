"""People, BingX API key sets, grants, discovered sub-accounts, balances and the audit log."""

import uuid
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractUser, Group
from django.db import models
from django.db.models import Q

from accounts.crypto import PURPOSE_API_KEY, PURPOSE_SECRET, secret_decrypt

MONEY: dict[str, Any] = {"max_digits": 38, "decimal_places": 18}


class User(AbstractUser):
    """A desk member. Roles are Django groups; access to key sets is granted per key set."""


class Environment(models.TextChoices):
    BINGX = "bingx", "BingX (real money)"
    SANDBOX = "sandbox", "Sandbox exchange"


class AccountKind(models.TextChoices):
    MAIN = "main", "Main account"
    SUB = "sub", "Sub-account"


class KeySetStatus(models.TextChoices):
    PENDING_ACTIVATION = "pending", "Awaiting activation by a second administrator"
    ACTIVE = "active", "Active"
    INACTIVE = "inactive", "Inactive"


class Wallet(models.TextChoices):
    """BingX's wallet (account) names used by Asset Transfer New."""

    FUND = "fund", "Funding"
    SPOT = "spot", "Spot"
    STD_FUTURES = "stdFutures", "Standard futures"
    USDTM_PERP = "USDTMPerp", "USDT-M perpetual"
    COINM_PERP = "coinMPerp", "COIN-M perpetual"


# Asset overview names its funding account "spot" (docs) or "sopt" (docs' example): both mean fund.
OVERVIEW_WALLET = {
    "sopt": Wallet.FUND,
    "spot": Wallet.FUND,
    "fund": Wallet.FUND,
    "stdFutures": Wallet.STD_FUTURES,
    "USDTMPerp": Wallet.USDTM_PERP,
    "coinMPerp": Wallet.COINM_PERP,
}


class ApiKeySet(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    label = models.CharField(max_length=100, unique=True)
    environment = models.CharField(max_length=16, choices=Environment.choices, default=Environment.BINGX)
    base_url = models.URLField(max_length=200)
    account_kind = models.CharField(max_length=8, choices=AccountKind.choices, default=AccountKind.MAIN)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="sub_key_sets"
    )
    uid = models.BigIntegerField(null=True, blank=True, help_text="Read from BingX on verification.")
    # The API key is not a secret on its own but is stored encrypted too; only its tail is shown.
    api_key_encrypted = models.TextField(editable=False)
    api_key_last4 = models.CharField(max_length=4, editable=False)
    secret_encrypted = models.TextField(editable=False)
    status = models.CharField(
        max_length=16, choices=KeySetStatus.choices, default=KeySetStatus.PENDING_ACTIVATION
    )
    permissions = models.JSONField(default=list, blank=True, help_text="Permission codes reported by BingX.")
    ip_whitelist = models.JSONField(default=list, blank=True)
    verification = models.JSONField(default=dict, blank=True, help_text="Last verification report.")
    last_verified_at = models.DateTimeField(null=True, blank=True)
    balances_synced_at = models.DateTimeField(
        null=True, blank=True, help_text="When the latest balance snapshot was taken (all its rows share it)."
    )
    rotate_by = models.DateField(null=True, blank=True)
    secret_changed_at = models.DateTimeField(null=True, blank=True)
    secret_changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    activated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    activated_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["label"]
        constraints = [
            models.CheckConstraint(
                condition=Q(account_kind="main", parent__isnull=True) | Q(account_kind="sub"),
                name="keyset_main_has_no_parent",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.label} [sandbox]" if self.is_sandbox else self.label

    @property
    def is_sandbox(self) -> bool:
        return self.environment == Environment.SANDBOX

    @property
    def is_active(self) -> bool:
        return self.status == KeySetStatus.ACTIVE

    @property
    def api_key_hint(self) -> str:
        return f"…{self.api_key_last4}"

    def credentials(self) -> tuple[str, str]:
        """(API key, secret), decrypted for signing (exchange.credentials.KeySetLike).

        Fails closed with accounts.crypto.SecretUnavailable: never a ciphertext or an empty string.
        """
        api_key = secret_decrypt(
            token=self.api_key_encrypted, key_set_uuid=self.uuid, purpose=PURPOSE_API_KEY
        )
        secret = secret_decrypt(token=self.secret_encrypted, key_set_uuid=self.uuid, purpose=PURPOSE_SECRET)
        return api_key, secret


class KeySetGrant(models.Model):
    """Access to one key set for a user or a group, with separate capabilities."""

    key_set = models.ForeignKey(ApiKeySet, on_delete=models.CASCADE, related_name="grants")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="key_set_grants",
    )
    group = models.ForeignKey(
        Group, null=True, blank=True, on_delete=models.CASCADE, related_name="key_set_grants"
    )
    can_view = models.BooleanField(default=True)
    can_request = models.BooleanField(default=False)
    can_approve = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(Q(user__isnull=False) & Q(group__isnull=True))
                | (Q(user__isnull=True) & Q(group__isnull=False)),
                name="grant_user_xor_group",
            ),
            models.UniqueConstraint(fields=["key_set", "user"], name="grant_unique_user"),
            models.UniqueConstraint(fields=["key_set", "group"], name="grant_unique_group"),
        ]

    def __str__(self) -> str:
        who = self.user or self.group
        caps = [
            c
            for c, on in (
                ("view", self.can_view),
                ("request", self.can_request),
                ("approve", self.can_approve),
            )
            if on
        ]
        return f"{who} on {self.key_set}: {', '.join(caps)}"


class SubAccount(models.Model):
    """A sub-account discovered from a main key set with the sub-account list endpoint."""

    main_key_set = models.ForeignKey(ApiKeySet, on_delete=models.CASCADE, related_name="discovered_subs")
    sub_uid = models.BigIntegerField()
    name = models.CharField(max_length=100, blank=True)
    note = models.CharField(max_length=200, blank=True)
    frozen = models.BooleanField(default=False)
    created_on_exchange = models.DateTimeField(null=True, blank=True)
    discovered_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["sub_uid"]
        constraints = [models.UniqueConstraint(fields=["main_key_set", "sub_uid"], name="subaccount_unique")]

    def __str__(self) -> str:
        return f"{self.sub_uid} {self.name}".strip()


class BalanceSnapshot(models.Model):
    """One wallet/asset balance at one moment; the history is kept for charts."""

    key_set = models.ForeignKey(ApiKeySet, on_delete=models.CASCADE, related_name="balances")
    wallet = models.CharField(max_length=16, choices=Wallet.choices)
    asset = models.CharField(max_length=20)
    free = models.DecimalField(**MONEY, default=Decimal(0))
    locked = models.DecimalField(**MONEY, default=Decimal(0))
    taken_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-taken_at", "wallet", "asset"]
        indexes = [models.Index(fields=["key_set", "wallet", "asset", "-taken_at"])]

    def __str__(self) -> str:
        return f"{self.key_set} {self.wallet} {self.asset} {self.free}"

    @property
    def total(self) -> Decimal:
        return self.free + self.locked


class AssetOverviewSnapshot(models.Model):
    """BingX's asset overview: the USDT value held per account type."""

    key_set = models.ForeignKey(ApiKeySet, on_delete=models.CASCADE, related_name="overviews")
    account_type = models.CharField(max_length=32)
    usdt_balance = models.DecimalField(**MONEY)
    taken_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-taken_at", "account_type"]

    def __str__(self) -> str:
        return f"{self.key_set} {self.account_type} {self.usdt_balance} USDT"


class AuditEvent(models.Model):
    """Append-only, HMAC-chained record of who did what: written by accounts.audit (one INSERT), sealed in
    order by accounts.audit_seal, checked by accounts.audit_verify (docs/security.md#audit-chain)."""

    seq = models.BigAutoField(primary_key=True)
    at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_label = models.CharField(max_length=150, help_text="Username at the time, or 'system'.")
    verb = models.CharField(max_length=64, db_index=True)
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64, db_index=True)
    object_repr = models.CharField(max_length=200, blank=True)
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    # Set once, by the sealer (accounts/audit_seal.py) after commit; empty while unsealed.
    prev_hash = models.CharField(max_length=64, blank=True, default="", help_text="Previous link.")
    hash = models.CharField(
        max_length=64, unique=True, null=True, blank=True, help_text="HMAC-SHA256 link; empty until sealed."
    )
    key_id = models.CharField(
        max_length=32, blank=True, default="", help_text="AUDIT_CHAIN_KEYS id of the link."
    )
    chain_index = models.BigIntegerField(
        null=True, blank=True, unique=True, help_text="Position in the chain."
    )
    prev_seq = models.BigIntegerField(
        null=True, blank=True, help_text="seq of the chain predecessor; seq - prev_seq > 1: ids skipped."
    )
    sealed_at = models.DateTimeField(null=True, blank=True)
    # Who may read the event (accounts.audit_access), filled at write time by accounts.audit_scope:
    # the key set it is about, and the person whose account it is about. No database constraint, so
    # the append-only table never needs an UPDATE when a key set or a person goes away.
    key_set = models.ForeignKey(
        "ApiKeySet", null=True, blank=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    subject = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
        help_text="The person whose account the event is about.",
    )

    class Meta:
        ordering = ["-seq"]
        # The sealer's work list: without it, finding the unsealed events scans the sealed ones.
        indexes = [models.Index(fields=["seq"], condition=Q(hash__isnull=True), name="auditevent_unsealed")]

    def __str__(self) -> str:
        return f"#{self.seq} {self.actor_label} {self.verb} {self.object_type}:{self.object_id}"

    @property
    def sealed(self) -> bool:
        return bool(self.hash)


class AuditVerification(models.Model):
    """The outcome of one background verification of the audit chain (accounts.audit_verify)."""

    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    full = models.BooleanField(help_text="Walked from genesis (else from the last good checkpoint).")
    ok = models.BooleanField()
    checked = models.BigIntegerField(default=0)
    first_broken_seq = models.BigIntegerField(null=True, blank=True)
    reason = models.CharField(max_length=300)
    through_index = models.BigIntegerField(default=0, help_text="Last chain_index verified.")
    unsealed = models.BigIntegerField(default=0)
    checkpoints = models.IntegerField(default=0, help_text="Checkpoints checked.")

    class Meta:
        ordering = ["-finished_at"]

    def __str__(self) -> str:
        return f"{self.finished_at:%Y-%m-%d %H:%M:%S} {'intact' if self.ok else 'BROKEN'}"


class WebAuthnCredential(models.Model):
    """A passkey or security key registered by its owner (accounts/passkeys.py). The public key verifies
    step-ups at decision time and, again, every counted approval in the worker before money moves."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="passkeys")
    name = models.CharField(max_length=64)
    credential_id = models.CharField(max_length=400, unique=True, help_text="base64url")
    public_key = models.BinaryField(help_text="COSE public key from the registration ceremony.")
    sign_count = models.BigIntegerField(default=0)
    transports = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.user_id})"


class StepUpThrottle(models.Model):
    """One row per person, locked (select_for_update) around every second-factor check, so parallel
    wrong codes are checked one after another and the limit holds exactly (accounts/stepup.py)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    failures = models.PositiveIntegerField(default=0)
    window_started_at = models.DateTimeField(null=True, blank=True)
    locked_until = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"step-up throttle of {self.user_id}: {self.failures} failure(s)"


# People changes under four eyes live in their own module; importing them here registers the model.
from accounts.people_models import PeopleChange as PeopleChange  # noqa: E402
from accounts.people_models import PeopleChangeKind as PeopleChangeKind  # noqa: E402
from accounts.people_models import PeopleChangeStatus as PeopleChangeStatus  # noqa: E402

# Per-person preferences (notifications, time zone) live in their own module.
from accounts.preferences_models import PersonPreferences as PersonPreferences  # noqa: E402

# Background balance refreshes (their progress, for the page's poll).
from accounts.refresh_models import BalanceRefresh as BalanceRefresh  # noqa: E402
