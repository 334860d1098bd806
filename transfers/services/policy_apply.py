"""Applying policy edits (rules and daily limits): each bumps the policy version and makes the pending
requests it can affect stale (transfers.policy_scope). Private to transfers.services.policy_changes,
which calls them once a second administrator approved the change."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from accounts.access import ensure_admin
from accounts.audit import audit_record
from accounts.models import ApiKeySet, User
from transfers.models import (
    DailyLimit,
    PolicyChangeAction,
    PolicyRule,
    Status,
    TransferKind,
    TransferRequest,
)
from transfers.payload import (
    PayloadError,
    asset_clean,
)
from transfers.policy import (
    eligible_approvers,
    policy_state_lock,
)
from transfers.policy_scope import pending_affected_by
from transfers.refusals import PolicyRefused
from transfers.services.requests import requests_mark_stale

# --- policy --------------------------------------------------------------------------------------


def policy_changed(
    *,
    actor: User,
    reason: str,
    ip: str | None,
    action: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> tuple[int, int]:
    """Bump the policy version and make stale the pending requests this change can affect (the rule
    matched them before or matches them after; a new or lower limit on their key set and asset).
    Returns (new version, staled)."""
    state = policy_state_lock()
    state.version += 1
    state.save(update_fields=["version", "changed_at"])
    affected = [r.pk for r in pending_affected_by(action=action, before=before, proposed=after)]
    staled = requests_mark_stale(
        requests=TransferRequest.objects.filter(pk__in=affected, status=Status.PENDING),
        actor=actor,
        reason=reason,
        ip=ip,
    )
    return state.version, staled


def rule_state(rule: PolicyRule) -> dict[str, Any]:
    return {
        "position": rule.position,
        "name": rule.name,
        "key_set": rule.key_set_id,
        "kind": rule.kind,
        "asset": rule.asset,
        "min_amount": None if rule.min_amount is None else format(rule.min_amount.normalize(), "f"),
        "required_approvals": rule.required_approvals,
        "passkey_required_above": None
        if rule.passkey_required_above is None
        else format(rule.passkey_required_above.normalize(), "f"),
        "is_active": rule.is_active,
    }


@dataclass
class PolicyChange:
    version: int
    stale_requests: int
    warnings: list[str] = field(default_factory=list)


def rule_clean(
    *,
    name: str,
    required_approvals: int,
    position: int = 100,
    key_set_id: int | None = None,
    kind: str = "",
    asset: str = "",
    min_amount: Decimal | None = None,
    is_active: bool = True,
    passkey_required_above: Decimal | None = None,
) -> tuple[dict[str, Any], ApiKeySet | None, list[str]]:
    """Check a rule's values. Returns (clean values, key set, warnings); refuses a quorum never reachable."""
    name = (name or "").strip()
    if not name:
        raise PolicyRefused("Give the rule a name.")
    if len(name) > 100:
        raise PolicyRefused("Keep the rule name under 100 characters.")
    try:
        required = int(required_approvals)
        position = int(position)
        min_amount = None if min_amount in (None, "") else Decimal(str(min_amount))
        passkey_above = None if passkey_required_above in (None, "") else Decimal(str(passkey_required_above))
    except (TypeError, ValueError, ArithmeticError):
        raise PolicyRefused("Position, approvals and threshold are numbers.") from None
    if required < 1:
        raise PolicyRefused("A rule needs at least one approval besides the requester.")
    if position < 0:
        raise PolicyRefused("The position cannot be negative.")
    if kind and kind not in TransferKind.values:
        raise PolicyRefused("Unknown transfer kind.")
    if min_amount is not None and (not min_amount.is_finite() or min_amount < 0):
        raise PolicyRefused("The threshold cannot be negative.")
    if passkey_above is not None and (not passkey_above.is_finite() or passkey_above < 0):
        raise PolicyRefused("The passkey threshold cannot be negative.")
    try:
        asset = asset_clean(asset) if asset else ""
    except PayloadError as exc:
        raise PolicyRefused(str(exc)) from None
    key_set = ApiKeySet.objects.filter(pk=key_set_id).first() if key_set_id else None
    if key_set_id and key_set is None:
        raise PolicyRefused("No such key set.")
    warnings: list[str] = []
    if key_set is not None:
        approvers = eligible_approvers(key_set=key_set).count()
        if approvers < required:
            raise PolicyRefused(
                f"Only {approvers} person(s) may approve on key set “{key_set.label}”; a rule needing "
                f"{required} approval(s) could never be met."
            )
        if approvers == required:
            warnings.append(
                "Exactly as many approvers as the rule needs: an approver who requests a transfer "
                "can never reach the quorum."
            )
    values = {
        "position": position,
        "name": name,
        "key_set_id": key_set.pk if key_set else None,
        "kind": kind or "",
        "asset": asset,
        "min_amount": min_amount,
        "required_approvals": required,
        "is_active": bool(is_active),
        "passkey_required_above": passkey_above,
    }
    return values, key_set, warnings


def policy_rule_save(
    *, actor: User, rule_id: int | None = None, ip: str | None = None, **values: Any
) -> tuple[PolicyRule, PolicyChange]:
    """Apply a rule (create or change). Call inside policy_change_approve's transaction."""
    ensure_admin(user=actor)
    clean, key_set, warnings = rule_clean(**values)
    if rule_id is None:
        rule = PolicyRule()
        before: dict[str, Any] = {}
    else:
        found = PolicyRule.objects.select_for_update().filter(pk=rule_id).first()
        if found is None:
            raise PolicyRefused("No such rule: it was deleted after this change was proposed.")
        rule = found
        before = rule_state(rule)
    rule.name = clean["name"]
    rule.position = clean["position"]
    rule.key_set = key_set
    rule.kind = clean["kind"]
    rule.asset = clean["asset"]
    rule.min_amount = clean["min_amount"]
    rule.required_approvals = clean["required_approvals"]
    rule.passkey_required_above = clean["passkey_required_above"]
    rule.is_active = clean["is_active"]
    rule.save()
    version, staled = policy_changed(
        actor=actor,
        reason=f"policy rule “{rule.name}” changed",
        ip=ip,
        action=PolicyChangeAction.RULE_UPDATE if before else PolicyChangeAction.RULE_CREATE,
        before=before,
        after=rule_state(rule),
    )
    audit_record(
        actor=actor,
        verb="policy.rule_save",
        obj=rule,
        before=before,
        after={**rule_state(rule), "policy_version": version, "stale_requests": staled},
        ip=ip,
    )
    return rule, PolicyChange(version=version, stale_requests=staled, warnings=warnings)


def policy_rule_delete(*, actor: User, rule_id: int, ip: str | None = None) -> PolicyChange:
    """Apply a rule removal. Call inside policy_change_approve's transaction."""
    ensure_admin(user=actor)
    rule = PolicyRule.objects.select_for_update().filter(pk=rule_id).first()
    if rule is None:
        raise PolicyRefused("No such rule: it was deleted after this change was proposed.")
    return policy_object_delete(
        actor=actor,
        obj=rule,
        before=rule_state(rule),
        action=PolicyChangeAction.RULE_DELETE,
        verb="policy.rule_delete",
        reason=f"policy rule “{rule.name}” deleted",
        ip=ip,
    )


def policy_object_delete(
    *,
    actor: User,
    obj: PolicyRule | DailyLimit,
    before: dict[str, Any],
    action: str,
    verb: str,
    reason: str,
    ip: str | None,
) -> PolicyChange:
    """Remove a rule or limit: bump the policy version, stale the pending requests it can affect, audit,
    delete."""
    version, staled = policy_changed(
        actor=actor, reason=reason, ip=ip, action=action, before=before, after=None
    )
    audit_record(
        actor=actor,
        verb=verb,
        obj=obj,
        before=before,
        after={"deleted": True, "policy_version": version, "stale_requests": staled},
        ip=ip,
    )
    obj.delete()
    return PolicyChange(version=version, stale_requests=staled)


def limit_clean(
    *, key_set_id: int | None, asset: str, limit: Decimal | str | None
) -> tuple[ApiKeySet, str, Decimal]:
    key_set = ApiKeySet.objects.filter(pk=key_set_id).first() if key_set_id else None
    if key_set is None:
        raise PolicyRefused("No such key set.")
    try:
        asset = asset_clean(asset)
    except PayloadError as exc:
        raise PolicyRefused(str(exc)) from None
    try:
        amount = None if limit in (None, "") else Decimal(str(limit))
    except ArithmeticError:
        amount = None
    if amount is None or not amount.is_finite() or amount <= 0:
        raise PolicyRefused("The limit must be greater than zero (delete the limit to remove it).")
    return key_set, asset, amount


def daily_limit_save(
    *, actor: User, key_set_id: int, asset: str, limit: Decimal | str, ip: str | None = None
) -> tuple[DailyLimit, PolicyChange]:
    """Apply a 24 h limit. Call inside policy_change_approve's transaction."""
    ensure_admin(user=actor)
    key_set, asset, amount = limit_clean(key_set_id=key_set_id, asset=asset, limit=limit)
    obj = DailyLimit.objects.select_for_update().filter(key_set=key_set, asset=asset).first()
    before = {} if obj is None else {"limit": format(obj.limit.normalize(), "f")}
    scope_before = {} if obj is None else limit_state(obj)
    if obj is None:
        obj = DailyLimit(key_set=key_set, asset=asset, limit=amount)
    obj.limit = amount
    obj.save()
    version, staled = policy_changed(
        actor=actor,
        reason=f"daily limit for {asset} on {key_set.label} changed",
        ip=ip,
        action=PolicyChangeAction.LIMIT_SAVE,
        before=scope_before,
        after=limit_state(obj),
    )
    audit_record(
        actor=actor,
        verb="policy.limit_save",
        obj=obj,
        before=before,
        after={
            "key_set": key_set.pk,
            "asset": asset,
            "limit": format(amount.normalize(), "f"),
            "policy_version": version,
            "stale_requests": staled,
        },
        ip=ip,
    )
    return obj, PolicyChange(version=version, stale_requests=staled)


def daily_limit_delete(*, actor: User, limit_id: int, ip: str | None = None) -> PolicyChange:
    """Apply a limit removal. Call inside policy_change_approve's transaction."""
    ensure_admin(user=actor)
    obj = DailyLimit.objects.select_for_update().select_related("key_set").filter(pk=limit_id).first()
    if obj is None:
        raise PolicyRefused("No such limit: it was removed after this change was proposed.")
    return policy_object_delete(
        actor=actor,
        obj=obj,
        before=limit_state(obj),
        action=PolicyChangeAction.LIMIT_DELETE,
        verb="policy.limit_delete",
        reason=f"daily limit for {obj.asset} on {obj.key_set.label} removed",
        ip=ip,
    )


def limit_state(obj: DailyLimit) -> dict[str, Any]:
    return {"key_set": obj.key_set_id, "asset": obj.asset, "limit": format(obj.limit.normalize(), "f")}
