"""People changes under four eyes: one row per proposed change to a person, a role or a grant.

Imported by accounts.models (so Django registers it there); kept apart so the people flow owns one file.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class PeopleChangeKind(models.TextChoices):
    USER_CREATE = "user_create", "Create a user"
    ROLE_ADD = "role_add", "Add a role"
    ROLE_REMOVE = "role_remove", "Remove a role"
    GRANT_SET = "grant_set", "Grant access to a key set"
    GRANT_REVOKE = "grant_revoke", "Revoke access to a key set"
    USER_DEACTIVATE = "user_deactivate", "Deactivate a user"
    USER_REACTIVATE = "user_reactivate", "Reactivate a user"
    PASSWORD_RESET = "password_reset", "Reset a password"
    SECOND_FACTOR_RESET = "second_factor_reset", "Reset a second factor"


class PeopleChangeStatus(models.TextChoices):
    PENDING = "pending", "Awaiting a second administrator"
    APPLIED = "applied", "Applied"
    REJECTED = "rejected", "Rejected"
    CANCELLED = "cancelled", "Cancelled"


class PeopleChange(models.Model):
    """A change to a person's access, proposed by one administrator and applied when a different one
    approves; a change that only takes a right away is applied at once and recorded here as applied.

    `target_user` is empty for a user that does not exist yet (set when the creation is applied) and
    for a grant to a group; `change` holds what changes (names, not secrets), `before` the state seen
    when it was proposed.
    """

    kind = models.CharField(max_length=32, choices=PeopleChangeKind.choices)
    status = models.CharField(
        max_length=16, choices=PeopleChangeStatus.choices, default=PeopleChangeStatus.PENDING, db_index=True
    )
    target_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    change = models.JSONField(default=dict)
    before = models.JSONField(default=dict, blank=True)
    note = models.CharField(max_length=300, blank=True)
    proposed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=PeopleChangeKind.values), name="peoplechange_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=PeopleChangeStatus.values), name="peoplechange_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(status="pending") | Q(decided_by__isnull=False, decided_at__isnull=False),
                name="peoplechange_decided_has_decider",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} ({self.status})"

    @property
    def subject(self) -> str:
        """Whom the change is about, in words: the user, the group, or the user to be created."""
        if self.target_user_id is not None:
            return str(self.change.get("username") or self.target_user)
        if self.change.get("group"):
            return f"group {self.change['group']}"
        return str(self.change.get("username", "?"))
