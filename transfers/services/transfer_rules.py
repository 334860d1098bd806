"""Sweep and top-up rules under four eyes: one administrator proposes a rule (or a change to an active
one, which is a new version), a second approves it with their second factor (accounts.four_eyes); only
then is it active and, when it has a schedule, given its beat task (docs/workflow.md "Sweep and top-up
rules"). Runs are in transfers.services.rule_runs."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from accounts.access import ensure_admin
from accounts.audit import audit_record
from accounts.four_eyes import decision_stepup, proposal_decide, proposal_lock_pending, second_person_ensure
from accounts.models import AccountKind, ApiKeySet, BalanceSnapshot, KeySetStatus, SubAccount, User
from exchange.clients import client_for
from exchange.problems import exchange_problem
from transfers.models import TransferRule, TransferRuleKind, TransferRuleStatus
from transfers.payload import AMOUNT_DECIMALS, FAMILY_ACCOUNT_TYPES, PayloadError, asset_clean
from transfers.refusals import TransferRefused

RUN_TASK = "transfers.tasks_rules.transfer_rule_run_task"
RULE_SUBJECT = "transfer-rule"
RULE_PURPOSE = "transfer_rule.{decision}"
# The asset of a futures-wallet top-up: the only one BingX values those wallets in for a master.
TOP_UP_VALUE_ASSET = "USDT"
MIN_EVERY, MAX_EVERY = 5, 7 * 24 * 60


class RuleRefused(TransferRefused):
    """A rule proposal, decision or run was refused; nothing changed."""


@dataclass(frozen=True)
class RuleValues:
    name: str
    kind: str
    key_set: ApiKeySet
    asset: str
    wallet: int
    threshold: Decimal
    sub_uids: list[int]
    every_minutes: int | None


def _threshold_clean(value: Any, *, kind: str) -> Decimal:
    word = "KEEP" if kind == TransferRuleKind.SWEEP else "TARGET"
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise RuleRefused(f"Enter {word} as a decimal number, for example 100 or 0.5.") from None
    if not amount.is_finite():
        raise RuleRefused(f"Enter {word} as a decimal number, for example 100 or 0.5.")
    if amount < 0:
        raise RuleRefused(f"{word} cannot be negative ({value}).")
    if kind == TransferRuleKind.TOP_UP and amount == 0:
        raise RuleRefused("TARGET must be greater than zero.")
    exponent = amount.normalize().as_tuple().exponent
    if isinstance(exponent, int) and -exponent > AMOUNT_DECIMALS:
        raise RuleRefused(f"{word} has at most {AMOUNT_DECIMALS} decimal places.")
    return amount


def _known_assets(*, key_set: ApiKeySet) -> set[str]:
    """Assets the master holds now (funding and spot, live) or held at a balance sync."""
    try:
        client = client_for(key_set=key_set)
        live = [*client.fund_balances(), *client.spot_balances()]
    except Exception as exc:
        raise RuleRefused(exchange_problem(exc=exc, key_set=key_set).message) from None
    known = {str(b.asset).upper() for b in live}
    known |= set(BalanceSnapshot.objects.filter(key_set=key_set).values_list("asset", flat=True))
    return known


def rule_values_clean(*, values: Mapping[str, Any]) -> RuleValues:
    """Every field checked, the asset against what the master holds; RuleRefused names the problem."""
    name = str(values.get("name") or "").strip()
    if not name or len(name) > 100:
        raise RuleRefused("Give the rule a name of 1 to 100 characters.")
    kind = str(values.get("kind") or "")
    if kind not in TransferRuleKind.values:
        raise RuleRefused("Choose a sweep or a top-up.")
    key_set_id = values.get("key_set_id")
    key_set = ApiKeySet.objects.filter(pk=key_set_id).first() if key_set_id else None
    if key_set is None or key_set.status != KeySetStatus.ACTIVE or key_set.account_kind != AccountKind.MAIN:
        raise RuleRefused("Choose an active main (master) key set.")
    try:
        asset = asset_clean(values.get("asset"))
    except PayloadError as exc:
        raise RuleRefused(str(exc)) from None
    try:
        wallet = int(values.get("wallet") or 1)
    except (TypeError, ValueError):
        wallet = 0
    if wallet not in FAMILY_ACCOUNT_TYPES:
        raise RuleRefused(
            "Choose the wallet: " + ", ".join(f"{k} {v}" for k, v in FAMILY_ACCOUNT_TYPES.items())
        )
    if kind == TransferRuleKind.TOP_UP and wallet != 1 and asset != TOP_UP_VALUE_ASSET:
        # BingX tells a master a sub-account's futures wallets only as a value in USDT
        # (subAccount/v1/allAccountBalance), so a futures top-up is a USDT top-up of that value.
        raise RuleRefused(
            f"A top-up of a futures wallet is in {TOP_UP_VALUE_ASSET}: BingX reports a sub-account's "
            f"futures wallets to the master only as their value in {TOP_UP_VALUE_ASSET}."
        )
    threshold = _threshold_clean(values.get("threshold"), kind=kind)
    raw_uids = values.get("sub_uids") or []
    if isinstance(raw_uids, str):
        raw_uids = [u for u in raw_uids.replace(",", " ").split() if u]
    try:
        sub_uids = sorted({int(u) for u in raw_uids})
    except (TypeError, ValueError):
        raise RuleRefused("Sub-account UIDs are numbers, separated by commas or spaces.") from None
    known = set(SubAccount.objects.filter(main_key_set=key_set).values_list("sub_uid", flat=True))
    unknown = [u for u in sub_uids if u not in known]
    if unknown:
        raise RuleRefused(
            f"Not a discovered sub-account of “{key_set.label}”: {', '.join(map(str, unknown))}."
        )
    if kind == TransferRuleKind.TOP_UP and not sub_uids:
        raise RuleRefused("List the sub-accounts to top up.")
    every = values.get("every_minutes")
    every_minutes = None if every in (None, "", 0, "0") else int(every)
    if every_minutes is not None and not MIN_EVERY <= every_minutes <= MAX_EVERY:
        raise RuleRefused(f"Run it every {MIN_EVERY} to {MAX_EVERY} minutes, or leave it on demand.")
    if asset not in _known_assets(key_set=key_set):
        raise RuleRefused(f"Unknown asset {asset}: the master account “{key_set.label}” holds none.")
    return RuleValues(name, kind, key_set, asset, wallet, threshold, sub_uids, every_minutes)


def _state(rule: TransferRule) -> dict[str, Any]:
    return {
        "name": rule.name,
        "kind": rule.kind,
        "key_set": rule.key_set_id,
        "asset": rule.asset,
        "wallet": rule.wallet,
        "threshold": format(rule.threshold, "f"),
        "sub_uids": rule.sub_uids,
        "every_minutes": rule.every_minutes,
        "status": rule.status,
        "replaces": rule.replaces_id,
    }


def transfer_rule_propose(
    *, actor: User, values: Mapping[str, Any], replaces_id: int | None = None, ip: str | None = None
) -> TransferRule:
    """A new rule, or a new version of an active one; pending until a second administrator approves."""
    ensure_admin(user=actor)
    clean = rule_values_clean(values=values)  # reads the exchange: before the transaction
    with transaction.atomic():
        replaces = None
        if replaces_id is not None:
            replaces = TransferRule.objects.select_for_update().filter(pk=replaces_id).first()
            if replaces is None or replaces.status != TransferRuleStatus.ACTIVE:
                raise RuleRefused("Only an active rule can be changed.")
            if TransferRule.objects.filter(replaces=replaces, status=TransferRuleStatus.PENDING).exists():
                raise RuleRefused("A change to this rule is already waiting for a decision.")
        rule = TransferRule.objects.create(
            name=clean.name,
            kind=clean.kind,
            key_set=clean.key_set,
            asset=clean.asset,
            wallet=clean.wallet,
            threshold=clean.threshold,
            sub_uids=clean.sub_uids,
            every_minutes=clean.every_minutes,
            replaces=replaces,
            proposed_by=actor,
        )
        audit_record(actor=actor, verb="transfer_rule.propose", obj=rule, after=_state(rule), ip=ip)
    return rule


def _step_up(*, actor: User, rule_id: int, decision: str, stepup: Mapping[str, str], ip: str | None) -> None:
    ensure_admin(user=actor)
    decision_stepup(
        decider=actor,
        subject=RULE_SUBJECT,
        object_id=rule_id,
        decision=decision,
        purpose=RULE_PURPOSE.format(decision=decision),
        stepup=stepup,
        refuse=RuleRefused,
        ip=ip,
    )


def _lock(*, actor: User, rule_id: int) -> TransferRule:
    return proposal_lock_pending(
        queryset=TransferRule.objects.all(),
        pk=rule_id,
        decider=actor,
        pending=TransferRuleStatus.PENDING,
        what="rule proposal",
        refused=RuleRefused,
    )


def _schedule(rule: TransferRule) -> None:
    """The rule's beat task (django-celery-beat), when it has a schedule."""
    if rule.every_minutes is None:
        return
    interval, _ = IntervalSchedule.objects.get_or_create(
        every=rule.every_minutes, period=IntervalSchedule.MINUTES
    )
    task, _ = PeriodicTask.objects.update_or_create(
        name=f"Transfer rule #{rule.pk}: {rule.name}"[:200],
        defaults={
            "task": RUN_TASK,
            "interval": interval,
            "args": json.dumps([rule.pk]),
            "enabled": True,
            "expire_seconds": max(60, rule.every_minutes * 60 - 30),
        },
    )
    rule.periodic_task = task
    rule.save(update_fields=["periodic_task"])


def _unschedule(rule: TransferRule) -> None:
    if rule.periodic_task_id is not None:
        PeriodicTask.objects.filter(pk=rule.periodic_task_id).delete()


def transfer_rule_approve(
    *, actor: User, rule_id: int, stepup: Mapping[str, str], ip: str | None = None
) -> TransferRule:
    """A second administrator activates a proposal (the version it replaces is superseded)."""
    _step_up(actor=actor, rule_id=rule_id, decision="approve", stepup=stepup, ip=ip)
    with transaction.atomic():
        rule = _lock(actor=actor, rule_id=rule_id)
        second_person_ensure(
            decider=actor,
            makers=[rule.proposed_by_id],
            refused=RuleRefused,
            message="A second administrator must approve a rule you proposed yourself.",
        )
        if rule.replaces_id is not None:
            old = TransferRule.objects.select_for_update().get(pk=rule.replaces_id)
            if old.status != TransferRuleStatus.ACTIVE:
                raise RuleRefused("The rule this change replaces is no longer active; propose it anew.")
            _unschedule(old)
            proposal_decide(
                proposal=old,
                status=TransferRuleStatus.SUPERSEDED,
                decider=actor,
                verb="transfer_rule.supersede",
                state=_state,
                ip=ip,
                extra={"by": rule.pk},
            )
        proposal_decide(
            proposal=rule,
            status=TransferRuleStatus.ACTIVE,
            decider=actor,
            verb="transfer_rule.approve",
            state=_state,
            ip=ip,
        )
        _schedule(rule)
    return rule


def transfer_rule_reject(
    *, actor: User, rule_id: int, stepup: Mapping[str, str], ip: str | None = None
) -> TransferRule:
    _step_up(actor=actor, rule_id=rule_id, decision="reject", stepup=stepup, ip=ip)
    with transaction.atomic():
        rule = _lock(actor=actor, rule_id=rule_id)
        second_person_ensure(
            decider=actor,
            makers=[rule.proposed_by_id],
            refused=RuleRefused,
            message="A second administrator must decide a rule you proposed; cancel it instead.",
        )
        return proposal_decide(
            proposal=rule,
            status=TransferRuleStatus.REJECTED,
            decider=actor,
            verb="transfer_rule.reject",
            state=_state,
            ip=ip,
        )


@transaction.atomic
def transfer_rule_cancel(*, actor: User, rule_id: int, ip: str | None = None) -> TransferRule:
    """The proposer withdraws a pending proposal, or any administrator retires an active rule (at once:
    taking a schedule away is fail safe)."""
    ensure_admin(user=actor)
    rule = TransferRule.objects.select_for_update().filter(pk=rule_id).first()
    if rule is None:
        raise RuleRefused("No such rule.")
    if rule.status == TransferRuleStatus.PENDING and rule.proposed_by_id != actor.pk:
        raise RuleRefused("Only the administrator who proposed a rule can cancel it (reject it instead).")
    if rule.status not in (TransferRuleStatus.PENDING, TransferRuleStatus.ACTIVE):
        raise RuleRefused(f"This rule is not in use ({rule.get_status_display().lower()}).")
    _unschedule(rule)
    return proposal_decide(
        proposal=rule,
        status=TransferRuleStatus.CANCELLED,
        decider=actor,
        verb="transfer_rule.cancel",
        state=_state,
        ip=ip,
    )
