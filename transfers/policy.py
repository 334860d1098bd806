"""The approval policy, read side: which rule sets a request's quorum, who may approve, the daily limit.

Rules are ordered (position, id); the first active rule whose key set, kind and asset match (blank
means any) and whose `min_amount` the amount reaches wins. No match: one approval. Every policy
change bumps `PolicyState.version` (see transfers.services); requests remember the version they were
submitted under, and a request submitted under an older version can no longer be decided or executed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import QuerySet, Sum
from django.utils import timezone

from accounts.access import Capability, key_sets_for, users_with
from accounts.models import ApiKeySet, User
from transfers.models import (
    DailyLimit,
    PolicyChangeRequest,
    PolicyChangeStatus,
    PolicyRule,
    PolicyState,
    Status,
    TransferRequest,
)

DEFAULT_REQUIRED_APPROVALS = 1
DAILY_WINDOW = timedelta(hours=24)
# Requests that will never move money do not count against the daily limit.
NOT_COUNTED = (Status.FAILED, Status.REJECTED, Status.CANCELLED, Status.EXPIRED, Status.STALE)


def policy_state() -> PolicyState:
    state = PolicyState.objects.order_by("pk").first()
    return state if state is not None else PolicyState.objects.create(pk=1, version=1)


def policy_state_lock() -> PolicyState:
    """The policy row, locked for a change (callers are inside a transaction)."""
    policy_state()
    return PolicyState.objects.select_for_update().order_by("pk").first()  # type: ignore[return-value]


def policy_version_current() -> int:
    return policy_state().version


@dataclass(frozen=True)
class Quorum:
    required: int
    rule: PolicyRule | None

    @property
    def source(self) -> str:
        return f"rule “{self.rule.name}”" if self.rule else "the default (no rule matched)"


def rule_matches(*, rule: PolicyRule, key_set: ApiKeySet, kind: str, asset: str, amount: Decimal) -> bool:
    return (
        rule.is_active
        and (rule.key_set_id is None or rule.key_set_id == key_set.pk)
        and (not rule.kind or rule.kind == kind)
        and (not rule.asset or rule.asset.upper() == asset.upper())
        and (rule.min_amount is None or amount >= rule.min_amount)
    )


def quorum_for(*, key_set: ApiKeySet, kind: str, asset: str, amount: Decimal) -> Quorum:
    for rule in PolicyRule.objects.filter(is_active=True).order_by("position", "id"):
        if rule_matches(rule=rule, key_set=key_set, kind=kind, asset=asset, amount=amount):
            return Quorum(required=max(1, rule.required_approvals), rule=rule)
    return Quorum(required=DEFAULT_REQUIRED_APPROVALS, rule=None)


def eligible_approvers(*, key_set: ApiKeySet, requester: User | None = None) -> QuerySet[User]:
    """Active users holding the approve grant on the key set, never the requester."""
    users = users_with(key_set=key_set, capability=Capability.APPROVE)
    if requester is not None:
        users = users.exclude(pk=requester.pk)
    return users


def daily_limit_for(*, key_set: ApiKeySet, asset: str) -> DailyLimit | None:
    return DailyLimit.objects.filter(key_set=key_set, asset=asset.upper()).first()


def daily_used(*, key_set: ApiKeySet, asset: str, now: datetime | None = None) -> Decimal:
    """What was requested in the last 24 h on this key set and asset, excluding what will never move."""
    since = (now or timezone.now()) - DAILY_WINDOW
    total = (
        TransferRequest.objects.filter(key_set=key_set, asset=asset.upper(), created_at__gte=since)
        .exclude(status__in=NOT_COUNTED)
        .aggregate(total=Sum("amount"))["total"]
    )
    return Decimal(total or 0)


@dataclass(frozen=True)
class DailyUsage:
    limit: Decimal | None
    used: Decimal

    @property
    def remaining(self) -> Decimal | None:
        return None if self.limit is None else max(Decimal(0), self.limit - self.used)


def daily_usage(*, key_set: ApiKeySet, asset: str) -> DailyUsage:
    limit = daily_limit_for(key_set=key_set, asset=asset)
    return DailyUsage(limit=limit.limit if limit else None, used=daily_used(key_set=key_set, asset=asset))


@dataclass(frozen=True)
class PolicyOverview:
    rules: list[PolicyRule]
    limits: list[DailyLimit]
    changes: list[PolicyChangeRequest]
    recent_changes: list[PolicyChangeRequest]
    state: PolicyState


def _change_key_set_ids(change: PolicyChangeRequest) -> set[int]:
    """The key sets a proposal names, before and after (rules and limits store it as key_set / key_set_id)."""
    found: set[int] = set()
    for values in (change.before or {}, change.proposed or {}):
        for name in ("key_set", "key_set_id"):
            value = values.get(name)
            if isinstance(value, int):
                found.add(value)
    return found


def policy_overview(*, user: User) -> PolicyOverview:
    """What the policy page shows: rules in order, limits, pending and recently decided changes.

    Scoped to the key sets the person may view (administrators see all): a rule for any key set is
    shown to everyone; a key set's own rules, limits and proposed changes only to those with a grant.
    """
    visible = set(key_sets_for(user=user, capability=Capability.VIEW).values_list("pk", flat=True))
    rules = PolicyRule.objects.select_related("key_set").order_by("position", "id")
    limits = DailyLimit.objects.select_related("key_set").order_by("key_set__label", "asset")
    pending = (
        PolicyChangeRequest.objects.filter(status=PolicyChangeStatus.PENDING)
        .select_related("proposed_by")
        .order_by("created_at", "id")
    )
    recent = (
        PolicyChangeRequest.objects.exclude(status=PolicyChangeStatus.PENDING)
        .select_related("proposed_by", "decided_by")
        .order_by("-decided_at", "-id")
    )
    return PolicyOverview(
        rules=[r for r in rules if r.key_set_id is None or r.key_set_id in visible],
        limits=[limit for limit in limits if limit.key_set_id in visible],
        changes=[c for c in pending if _change_key_set_ids(c) <= visible],
        recent_changes=[c for c in recent[:200] if _change_key_set_ids(c) <= visible][:10],
        state=policy_state(),
    )


def policy_rule_get(*, pk: int) -> PolicyRule | None:
    return PolicyRule.objects.filter(pk=pk).first()
