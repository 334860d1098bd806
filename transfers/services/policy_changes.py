"""Policy edits under four eyes: `policy_change_propose` stores a pending change, a second administrator's
`policy_change_approve` applies it through the private rule/limit steps, which bump the policy version
and make the pending requests they can affect stale (transfers.policy_scope); `policy_change_reject`,
`policy_change_cancel`.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.access import ensure_admin
from accounts.audit import audit_record
from accounts.four_eyes import decision_stepup, proposal_decide, proposal_lock_pending, second_person_ensure
from accounts.models import User
from accounts.stepup import stepup_binding
from transfers.models import (
    DailyLimit,
    PolicyChangeAction,
    PolicyChangeRequest,
    PolicyChangeStatus,
    PolicyRule,
)
from transfers.refusals import PolicyRefused
from transfers.services.policy_apply import (
    PolicyChange,
    daily_limit_delete,
    daily_limit_save,
    limit_clean,
    limit_state,
    policy_rule_delete,
    policy_rule_save,
    rule_clean,
    rule_state,
)

# --- policy changes: proposed by one administrator, applied when a second approves ---------------

_RULE_FIELDS = (
    "position",
    "name",
    "key_set_id",
    "kind",
    "asset",
    "min_amount",
    "required_approvals",
    "is_active",
    "passkey_required_above",
)


def _rule_json(clean: dict[str, Any]) -> dict[str, Any]:
    """Rule values in the shape of rule_state, so before and after compare field by field."""
    amount = clean["min_amount"]
    return {
        "position": clean["position"],
        "name": clean["name"],
        "key_set": clean["key_set_id"],
        "kind": clean["kind"],
        "asset": clean["asset"],
        "min_amount": None if amount is None else format(amount.normalize(), "f"),
        "required_approvals": clean["required_approvals"],
        "passkey_required_above": None
        if clean["passkey_required_above"] is None
        else format(clean["passkey_required_above"].normalize(), "f"),
        "is_active": clean["is_active"],
    }


def _rule_values(proposed: dict[str, Any]) -> dict[str, Any]:
    return {**{k: v for k, v in proposed.items() if k != "key_set"}, "key_set_id": proposed.get("key_set")}


def _change_state(change: PolicyChangeRequest) -> dict[str, Any]:
    return {
        "action": change.action,
        "target": change.target_id,
        "status": change.status,
        "before": change.before,
        "proposed": change.proposed,
        "proposed_by": change.proposed_by_id,
    }


@transaction.atomic
def policy_change_propose(
    *,
    actor: User,
    action: str,
    target_id: int | None = None,
    values: dict[str, Any] | None = None,
    ip: str | None = None,
) -> tuple[PolicyChangeRequest, list[str]]:
    """Store a pending policy change after checking it as if it were applied now; nothing changes yet.

    `values`: for a rule, name, required_approvals, position, key_set_id, kind, asset, min_amount,
    is_active; for a limit, key_set_id, asset, limit. Returns the proposal and any warnings.
    """
    ensure_admin(user=actor)
    values = dict(values or {})
    before: dict[str, Any] = {}
    proposed: dict[str, Any] = {}
    warnings: list[str] = []
    if action in (PolicyChangeAction.RULE_CREATE, PolicyChangeAction.RULE_UPDATE):
        if action == PolicyChangeAction.RULE_UPDATE:
            rule = PolicyRule.objects.filter(pk=target_id).first() if target_id else None
            if rule is None:
                raise PolicyRefused("No such rule.")
            before = rule_state(rule)
        else:
            target_id = None
        unknown = set(values) - set(_RULE_FIELDS)
        if unknown:
            raise PolicyRefused(f"Unknown rule field(s): {', '.join(sorted(unknown))}.")
        if "name" not in values or "required_approvals" not in values:
            raise PolicyRefused("A rule needs a name and a number of approvals.")
        clean, _, warnings = rule_clean(**values)
        proposed = _rule_json(clean)
        if before and proposed == before:
            raise PolicyRefused("Nothing to change: the rule already has these values.")
    elif action == PolicyChangeAction.RULE_DELETE:
        rule = PolicyRule.objects.filter(pk=target_id).first() if target_id else None
        if rule is None:
            raise PolicyRefused("No such rule.")
        before = rule_state(rule)
    elif action == PolicyChangeAction.LIMIT_SAVE:
        key_set, asset, amount = limit_clean(
            key_set_id=values.get("key_set_id"), asset=values.get("asset") or "", limit=values.get("limit")
        )
        existing = DailyLimit.objects.filter(key_set=key_set, asset=asset).first()
        target_id = existing.pk if existing else None
        before = limit_state(existing) if existing else {}
        proposed = {"key_set": key_set.pk, "asset": asset, "limit": format(amount.normalize(), "f")}
        if before and proposed == before:
            raise PolicyRefused("Nothing to change: the limit already has this value.")
    elif action == PolicyChangeAction.LIMIT_DELETE:
        obj = DailyLimit.objects.filter(pk=target_id).first() if target_id else None
        if obj is None:
            raise PolicyRefused("No such limit.")
        before = limit_state(obj)
    else:
        raise PolicyRefused("Unknown policy change.")
    change = PolicyChangeRequest.objects.create(
        action=action, target_id=target_id, before=before, proposed=proposed, proposed_by=actor
    )
    audit_record(
        actor=actor,
        verb="policy.change_propose",
        obj=change,
        after={**_change_state(change), "warnings": warnings},
        ip=ip,
    )
    return change, warnings


def _change_lock_pending(*, change_id: int, actor: User) -> PolicyChangeRequest:
    return proposal_lock_pending(
        queryset=PolicyChangeRequest.objects.all(),
        pk=change_id,
        decider=actor,
        pending=PolicyChangeStatus.PENDING,
        what="policy change",
        refused=PolicyRefused,
        status_text=lambda change: change.get_status_display().lower(),
    )


def _target_unchanged_ensure(change: PolicyChangeRequest) -> None:
    """The rule or limit is still as the proposal saw it: the approver judged that before → after, and
    the requests the change stales are derived from it."""
    current: dict[str, Any] | None = None
    if change.action in (PolicyChangeAction.RULE_UPDATE, PolicyChangeAction.RULE_DELETE):
        rule = PolicyRule.objects.filter(pk=change.target_id or 0).first()
        current = rule_state(rule) if rule is not None else None
        what = "rule"
    elif change.action == PolicyChangeAction.LIMIT_SAVE:
        p = change.proposed
        found = DailyLimit.objects.filter(key_set_id=p.get("key_set"), asset=p.get("asset")).first()
        current = limit_state(found) if found is not None else {}
        what = "24-hour limit"
    elif change.action == PolicyChangeAction.LIMIT_DELETE:
        limit = DailyLimit.objects.filter(pk=change.target_id or 0).first()
        current = limit_state(limit) if limit is not None else None
        what = "24-hour limit"
    else:
        return
    if current is not None and current != (change.before or {}):
        raise PolicyRefused(
            f"The {what} was changed after this proposal was made; propose the change again against its "
            "current values."
        )


def _change_apply(*, change: PolicyChangeRequest, actor: User, ip: str | None) -> PolicyChange:
    """Apply through the policy services: they validate again, bump the version and stale the pending
    requests the change can affect."""
    _target_unchanged_ensure(change)
    p = change.proposed
    if change.action == PolicyChangeAction.RULE_CREATE:
        return policy_rule_save(actor=actor, ip=ip, **_rule_values(p))[1]
    if change.action == PolicyChangeAction.RULE_UPDATE:
        if change.target_id is None:
            raise PolicyRefused("No such rule.")
        return policy_rule_save(actor=actor, rule_id=change.target_id, ip=ip, **_rule_values(p))[1]
    if change.action == PolicyChangeAction.RULE_DELETE and change.target_id is not None:
        return policy_rule_delete(actor=actor, rule_id=change.target_id, ip=ip)
    if change.action == PolicyChangeAction.LIMIT_SAVE:
        return daily_limit_save(
            actor=actor, key_set_id=p["key_set"], asset=p["asset"], limit=Decimal(p["limit"]), ip=ip
        )[1]
    if change.action == PolicyChangeAction.LIMIT_DELETE and change.target_id is not None:
        return daily_limit_delete(actor=actor, limit_id=change.target_id, ip=ip)
    raise PolicyRefused("Unknown policy change.")


POLICY_PURPOSE = "policy.{decision}"


POLICY_SUBJECT = "policy-change"


def policy_change_binding(*, change_id: int, decision: str) -> bytes:
    return stepup_binding(subject=POLICY_SUBJECT, object_id=change_id, decision=decision)


def _step_up(
    *, actor: User, change_id: int, decision: str, stepup: Mapping[str, str], ip: str | None
) -> None:
    ensure_admin(user=actor)
    decision_stepup(
        decider=actor,
        subject=POLICY_SUBJECT,
        object_id=change_id,
        decision=decision,
        purpose=POLICY_PURPOSE.format(decision=decision),
        stepup=stepup,
        refuse=PolicyRefused,
        ip=ip,
    )


def policy_change_approve(
    *, actor: User, change_id: int, stepup: Mapping[str, str], ip: str | None = None
) -> tuple[PolicyChangeRequest, PolicyChange]:
    """A second administrator applies a pending change (same transaction: version bump, stale requests).

    If it can no longer be applied (its rule or limit was removed, the quorum became unreachable…)
    the proposal is marked REJECTED with the reason, committed, and PolicyRefused is raised.
    """
    _step_up(actor=actor, change_id=change_id, decision="approve", stepup=stepup, ip=ip)
    refusal: str | None = None
    with transaction.atomic():
        change = _change_lock_pending(change_id=change_id, actor=actor)
        second_person_ensure(
            decider=actor,
            makers=[change.proposed_by_id],
            refused=PolicyRefused,
            message="A second administrator must approve a policy change you proposed yourself.",
        )
        before = _change_state(change)
        try:
            with transaction.atomic():
                result = _change_apply(change=change, actor=actor, ip=ip)
        except PolicyRefused as exc:
            refusal = str(exc)
            change.status = PolicyChangeStatus.REJECTED
            change.note = f"Could not be applied: {refusal}"[:300]
            verb = "policy.change_fail"
        else:
            change.status = PolicyChangeStatus.APPLIED
            change.applied_version = result.version
            verb = "policy.change_approve"
        change.decided_by = actor
        change.decided_at = timezone.now()
        change.save(update_fields=["status", "note", "applied_version", "decided_by", "decided_at"])
        after = {**_change_state(change), "note": change.note}
        if refusal is None:
            after.update(policy_version=result.version, stale_requests=result.stale_requests)
        audit_record(actor=actor, verb=verb, obj=change, before=before, after=after, ip=ip)
    if refusal is not None:
        raise PolicyRefused(f"{refusal} The proposal was marked rejected; nothing changed.")
    return change, result


def policy_change_reject(
    *, actor: User, change_id: int, stepup: Mapping[str, str], ip: str | None = None
) -> PolicyChangeRequest:
    """A second administrator turns a pending change down; the policy stays as it is."""
    _step_up(actor=actor, change_id=change_id, decision="reject", stepup=stepup, ip=ip)
    with transaction.atomic():
        return _change_reject(actor=actor, change_id=change_id, ip=ip)


def _change_reject(*, actor: User, change_id: int, ip: str | None) -> PolicyChangeRequest:
    change = _change_lock_pending(change_id=change_id, actor=actor)
    if change.proposed_by_id == actor.pk:
        raise PolicyRefused(
            "A second administrator must decide a policy change you proposed; cancel it instead."
        )
    return _change_close(
        change=change, status=PolicyChangeStatus.REJECTED, verb="policy.change_reject", actor=actor, ip=ip
    )


@transaction.atomic
def policy_change_cancel(*, actor: User, change_id: int, ip: str | None = None) -> PolicyChangeRequest:
    """The proposer withdraws their own change while it is pending."""
    change = _change_lock_pending(change_id=change_id, actor=actor)
    if change.proposed_by_id != actor.pk:
        raise PolicyRefused("Only the administrator who proposed a change can cancel it (reject it instead).")
    return _change_close(
        change=change, status=PolicyChangeStatus.CANCELLED, verb="policy.change_cancel", actor=actor, ip=ip
    )


def _change_close(
    *, change: PolicyChangeRequest, status: str, verb: str, actor: User, ip: str | None
) -> PolicyChangeRequest:
    """End a pending change without applying it (rejected or cancelled): one save, one audit event."""
    return proposal_decide(
        proposal=change, status=status, decider=actor, verb=verb, state=_change_state, ip=ip
    )
