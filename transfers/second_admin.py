"""What waits for a second administrator: key sets to activate, people changes, policy changes,
address-book entries and sweep/top-up rules proposed by someone else (read-only; the dashboard's
"Waiting for a second administrator" and the administrators' emails)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import models
from django.urls import reverse

from accounts.access import user_is_admin
from accounts.models import ApiKeySet, KeySetStatus, PeopleChange, PeopleChangeStatus, User
from transfers.models import (
    AllowedRecipient,
    PolicyChangeRequest,
    PolicyChangeStatus,
    RecipientStatus,
    TransferRule,
    TransferRuleStatus,
)

# verb of the proposal's audit event -> (model, its "waiting" status, who proposed it, what it is, page)
WAITING: dict[str, tuple[type[models.Model], str, str, str, str]] = {
    "keyset.create": (ApiKeySet, KeySetStatus.PENDING_ACTIVATION, "created_by", "Key set", "keyset"),
    "people.propose": (PeopleChange, PeopleChangeStatus.PENDING, "proposed_by", "People change", "people"),
    "policy.change_propose": (
        PolicyChangeRequest,
        PolicyChangeStatus.PENDING,
        "proposed_by",
        "Policy change",
        "transfers:policy",
    ),
    "recipient.request": (
        AllowedRecipient,
        RecipientStatus.PENDING,
        "requested_by",
        "Address-book entry",
        "transfers:recipients",
    ),
    "transfer_rule.propose": (
        TransferRule,
        TransferRuleStatus.PENDING,
        "proposed_by",
        "Sweep/top-up rule",
        "transfers:rules",
    ),
}


@dataclass(frozen=True)
class WaitingItem:
    what: str
    label: str
    proposed_by: str
    created_at: datetime | None
    url: str


def _url(page: str, pk: int) -> str:
    if page == "keyset":
        return reverse("accounts:keyset_detail", args=[pk])
    if page == "people":
        return reverse("people:list")
    return reverse(page)


def second_admin_pending(*, verb: str, object_id: str) -> bool:
    """Whether the proposal an audit event `verb` names still waits for a second administrator."""
    if verb not in WAITING or not object_id.isdigit():
        return False
    model, status, *_ = WAITING[verb]
    return model._default_manager.filter(pk=int(object_id), status=status).exists()


def second_admin_waiting_for(*, user: User, limit: int = 50) -> list[WaitingItem]:
    """Proposals this administrator may decide (not their own), oldest first; empty for others."""
    if not user_is_admin(user=user):
        return []
    items: list[WaitingItem] = []
    for model, status, proposer, what, page in WAITING.values():
        rows = (
            model._default_manager.filter(status=status)
            .exclude(**{proposer: user})
            .select_related(proposer)
            .order_by("created_at")[:limit]
        )
        for row in rows:
            who = getattr(row, proposer)
            items.append(
                WaitingItem(
                    what=what,
                    label=str(row),
                    proposed_by=who.get_username() if who else "—",
                    created_at=getattr(row, "created_at", None),
                    url=_url(page, row.pk),
                )
            )
    items.sort(key=lambda i: (i.created_at is None, i.created_at))
    return items[:limit]
