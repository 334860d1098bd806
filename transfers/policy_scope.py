"""Which pending requests a policy change can affect, derived from the rule's or limit's own fields.

A rule sets the quorum of the requests it matches (key set, kind, asset — blank means any — and an
amount at or above its threshold, while active). A rule change can change a request's quorum only if
the rule matched it before or matches it after, so exactly those requests go stale; the others keep
their approvals. A 24-hour limit on (key set, asset) that is new or lowered stales that pair's
pending requests (they may no longer fit); a raised or removed limit cannot break a pending request
and stales none.

Every applied change is a PolicyChangeRequest with its before/after values and the version it made,
so whether a request submitted under version v still holds under the current version is decided by
the changes applied since v (`request_policy_holds`). A version made any other way counts as
affecting every request (the safe reading).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db.models import Q

from transfers.models import (
    PolicyChangeAction,
    PolicyChangeRequest,
    PolicyChangeStatus,
    Status,
    TransferRequest,
)
from transfers.policy import policy_version_current

RULE_ACTIONS = (
    PolicyChangeAction.RULE_CREATE,
    PolicyChangeAction.RULE_UPDATE,
    PolicyChangeAction.RULE_DELETE,
)
LIMIT_ACTIONS = (PolicyChangeAction.LIMIT_SAVE, PolicyChangeAction.LIMIT_DELETE)


@dataclass(frozen=True)
class RequestFacts:
    """What a policy rule or limit looks at in a request."""

    key_set_id: int
    kind: str
    asset: str
    amount: Decimal


def request_facts(req: TransferRequest) -> RequestFacts:
    """The request's facts, with the exact amount of its payload (a SQLite column may round it)."""
    try:
        amount = Decimal(str(req.payload.get("amount")))
    except (InvalidOperation, ValueError, AttributeError):
        amount = req.amount
    return RequestFacts(key_set_id=req.key_set_id, kind=req.kind, asset=req.asset.upper(), amount=amount)


def _decimal(value: Any) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def rule_covers(state: dict[str, Any] | None, facts: RequestFacts) -> bool:
    """True when an active rule with these values (rule_state's shape) matches the request."""
    if not state or not state.get("is_active", True):
        return False
    key_set = state.get("key_set")
    kind = state.get("kind") or ""
    asset = (state.get("asset") or "").upper()
    threshold = _decimal(state.get("min_amount"))
    return (
        (key_set is None or key_set == facts.key_set_id)
        and (not kind or kind == facts.kind)
        and (not asset or asset == facts.asset)
        and (threshold is None or facts.amount >= threshold)
    )


def limit_tightens(before: dict[str, Any] | None, after: dict[str, Any] | None) -> bool:
    """A new limit, or a lower one: pending requests of that key set and asset may no longer fit."""
    if not after:
        return False  # removed: nothing can break
    new = _decimal(after.get("limit"))
    old = _decimal((before or {}).get("limit"))
    return old is None or new is None or new < old


def change_affects(
    *, action: str, before: dict[str, Any] | None, proposed: dict[str, Any] | None, facts: RequestFacts
) -> bool:
    """Whether applying this change can change what the request's approval relies on."""
    if action in RULE_ACTIONS:
        after = None if action == PolicyChangeAction.RULE_DELETE else proposed
        return rule_covers(before, facts) or rule_covers(after, facts)
    if action in LIMIT_ACTIONS:
        after = None if action == PolicyChangeAction.LIMIT_DELETE else proposed
        pair = after or before or {}
        same = pair.get("key_set") == facts.key_set_id and (pair.get("asset") or "").upper() == facts.asset
        return same and limit_tightens(before, after)
    return True


def _candidates(*, action: str, before: dict[str, Any], proposed: dict[str, Any]) -> Q:
    """A database pre-filter no wider than needed; change_affects decides exactly."""
    states = [s for s in (before, proposed) if s]
    if not states:
        return Q(pk__in=[])
    parts: list[Q] = []
    for state in states:
        conditions: dict[str, Any] = {}
        if state.get("key_set") is not None:
            conditions["key_set_id"] = state["key_set"]
        if action in RULE_ACTIONS and state.get("kind"):
            conditions["kind"] = state["kind"]
        if state.get("asset"):
            conditions["asset"] = str(state["asset"]).upper()
        if not conditions:
            return Q()  # any key set, kind and asset: every pending request is a candidate
        parts.append(Q(**conditions))
    q = parts[0]
    for part in parts[1:]:
        q |= part
    return q


def pending_affected_by(
    *, action: str, before: dict[str, Any] | None, proposed: dict[str, Any] | None
) -> list[TransferRequest]:
    """The pending requests this change would make stale if applied now, oldest first."""
    before, proposed = before or {}, proposed or {}
    qs = (
        TransferRequest.objects.filter(status=Status.PENDING)
        .filter(_candidates(action=action, before=before, proposed=proposed))
        .select_related("key_set", "requested_by")
        .order_by("created_at", "pk")
    )
    return [
        req
        for req in qs
        if change_affects(action=action, before=before, proposed=proposed, facts=request_facts(req))
    ]


def change_preview(change: PolicyChangeRequest) -> list[TransferRequest]:
    """For the policy page: the pending requests approving this proposal would make stale."""
    return pending_affected_by(action=change.action, before=change.before, proposed=change.proposed)


def policy_version_holds(*, version: int, facts: RequestFacts, current: int | None = None) -> bool:
    """True when no policy change applied after `version` affects a request with these facts."""
    current = policy_version_current() if current is None else current
    if version == current:
        return True
    if version > current:
        return False
    changes = list(
        PolicyChangeRequest.objects.filter(
            status=PolicyChangeStatus.APPLIED, applied_version__gt=version, applied_version__lte=current
        ).only("action", "before", "proposed", "applied_version")
    )
    if {c.applied_version for c in changes} != set(range(version + 1, current + 1)):
        return False  # a version without a recorded change: assume it touched everything
    return not any(
        change_affects(action=c.action, before=c.before, proposed=c.proposed, facts=facts) for c in changes
    )


def request_policy_holds(req: TransferRequest) -> bool:
    """The policy a request was submitted under still holds for it (no applied change since affects it)."""
    return policy_version_holds(version=req.policy_version, facts=request_facts(req))
