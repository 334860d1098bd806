"""Running a sweep or top-up rule: read live balances through the master key set, compute family-transfer
legs, and submit them as a batch through the same service a person uses (so it needs approval like any
batch). Every run is recorded with the balances it used, with or without a batch."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Any

from django.db import transaction

from accounts.access import ensure_admin
from accounts.audit import audit_record
from accounts.models import User
from exchange.clients import client_for
from exchange.problems import exchange_problem
from transfers.batch_csv import LegInput
from transfers.models import TransferRule, TransferRuleKind, TransferRuleRun, TransferRuleStatus
from transfers.payload import AMOUNT_DECIMALS, FAMILY_ACCOUNT_TYPES
from transfers.services.batches import BatchRefused, transfer_batch_create
from transfers.services.transfer_rules import RuleRefused

QUANTUM = Decimal(1).scaleb(-AMOUNT_DECIMALS)
MAIN_TYPE, SUB_TYPE, FUNDING = 1, 2, 1
# A family account type's name in BingX's asset overview (allAccountBalance's accountType).
OVERVIEW_TYPES = {2: "stdFutures", 3: "USDTMPerp"}


@dataclass(frozen=True)
class Computation:
    balances: list[dict[str, str]]  # {"uid", "role", "wallet", "asset", "free"}
    legs: list[dict[str, str]]  # {"from_uid", "to_uid", "amount", "balance"}
    master_free: Decimal | None = None  # a top-up's source: the master's funding balance

    @property
    def shortfall(self) -> Decimal:
        """How much more a top-up's legs need than the master's funding wallet holds (0: covered)."""
        if self.master_free is None:
            return Decimal(0)
        total = sum((Decimal(leg["amount"]) for leg in self.legs), Decimal(0))
        return max(Decimal(0), total - self.master_free)

    @property
    def digest(self) -> str:
        """What the person saw before confirming a run (the legs, compactly hashed)."""
        return hashlib.sha256(json.dumps(self.legs, sort_keys=True).encode()).hexdigest()


def _free(balances: Any, asset: str) -> Decimal:
    return sum((Decimal(b.free) for b in balances if str(b.asset).upper() == asset), Decimal(0))


def _value(entries: Any, account_type: str) -> Decimal:
    return sum((Decimal(e.usdt_balance) for e in entries if e.account_type == account_type), Decimal(0))


def _down(amount: Decimal) -> Decimal:
    return amount.quantize(QUANTUM, rounding=ROUND_DOWN)


def rule_compute(*, rule: TransferRule) -> Computation:
    """Live balances (the master's sub-account list and each sub-account's funding balance, and for a
    top-up the master's funding balance) and the legs they give. RuleRefused on an exchange problem."""
    key_set = rule.key_set
    master_uid = str(key_set.uid)
    try:
        client = client_for(key_set=key_set)
        listed = {str(s.sub_uid) for s in client.sub_accounts()}
        wanted = [str(u) for u in rule.sub_uids] or sorted(listed)
        if rule.kind == TransferRuleKind.TOP_UP and rule.wallet != FUNDING:
            # A futures wallet: BingX gives the master only its value in USDT (the rule's asset).
            account_type = OVERVIEW_TYPES[rule.wallet]
            subs = {
                uid: _value(client.sub_account_overview(uid, account_type), account_type)
                for uid in wanted
                if uid in listed
            }
        else:
            subs = {uid: _free(client.sub_account_assets(uid), rule.asset) for uid in wanted if uid in listed}
        master = (
            _free(client.fund_balances(rule.asset), rule.asset)
            if rule.kind == TransferRuleKind.TOP_UP
            else None
        )
    except Exception as exc:
        raise RuleRefused(exchange_problem(exc=exc, key_set=key_set).message) from None
    sub_wallet = FAMILY_ACCOUNT_TYPES[rule.wallet] if rule.kind == TransferRuleKind.TOP_UP else "Funding"
    balances = [
        {
            "uid": uid,
            "role": "sub-account",
            "wallet": sub_wallet if rule.wallet == FUNDING else f"{sub_wallet} (value in USDT)",
            "asset": rule.asset,
            "free": format(free, "f"),
        }
        for uid, free in subs.items()
    ]
    for uid in wanted:
        if uid not in listed:
            balances.append(
                {
                    "uid": uid,
                    "role": "sub-account (not listed by BingX)",
                    "wallet": "",
                    "asset": rule.asset,
                    "free": "",
                }
            )
    if master is not None:
        balances.insert(
            0,
            {
                "uid": master_uid,
                "role": "master",
                "wallet": "Funding",
                "asset": rule.asset,
                "free": format(master, "f"),
            },
        )
    legs = []
    for uid, free in subs.items():
        if rule.kind == TransferRuleKind.SWEEP and free > rule.threshold:
            amount, src, dst = _down(free - rule.threshold), uid, master_uid
        elif rule.kind == TransferRuleKind.TOP_UP and free < rule.threshold:
            amount, src, dst = _down(rule.threshold - free), master_uid, uid
        else:
            continue
        if amount > 0:
            legs.append(
                {"from_uid": src, "to_uid": dst, "amount": format(amount, "f"), "balance": format(free, "f")}
            )
    return Computation(balances=balances, legs=legs, master_free=master)


def _leg_inputs(*, rule: TransferRule, legs: list[dict[str, str]]) -> list[LegInput]:
    sweep = rule.kind == TransferRuleKind.SWEEP
    return [
        LegInput(
            index + 1,
            "family",
            str(rule.key_set.uuid),
            rule.asset,
            leg["amount"],
            {
                "from_uid": leg["from_uid"],
                "from_type": str(SUB_TYPE if sweep else MAIN_TYPE),
                "from_account_type": str(FUNDING),
                "to_uid": leg["to_uid"],
                "to_type": str(MAIN_TYPE if sweep else SUB_TYPE),
                "to_account_type": str(rule.wallet),  # a sweep's master wallet, a top-up's sub wallet
            },
        )
        for index, leg in enumerate(legs)
    ]


def _note(*, rule: TransferRule, run: TransferRuleRun, computation: Computation) -> str:
    used = ", ".join(f"{b['uid']}={b['free']}" for b in computation.balances if b["free"])
    wallet = FAMILY_ACCOUNT_TYPES[rule.wallet]
    note = (
        f"From rule #{rule.pk} “{rule.name}”, run #{run.pk} ({rule.kind}, {wallet}); "
        f"balances used ({rule.asset}): {used}"
    )
    return note if len(note) <= 300 else note[:260] + f"… (all on run #{run.pk})"


def transfer_rule_run(
    *,
    rule_id: int,
    actor: User | None,
    trigger: str = "manual",
    expected_digest: str | None = None,
    ip: str | None = None,
) -> TransferRuleRun:
    """Run an active rule now: compute from live balances, record the run, and submit a batch of the
    legs (requested by `actor`, or the rule's proposer for a scheduled run) — no legs, no batch.
    `expected_digest`: the legs a person confirmed; if the balances moved since, RuleRefused."""
    if actor is not None:
        ensure_admin(user=actor)
    rule = TransferRule.objects.select_related("key_set", "proposed_by").filter(pk=rule_id).first()
    if rule is None or rule.status != TransferRuleStatus.ACTIVE:
        raise RuleRefused("Only an active (approved) rule can run.")
    requester = actor or rule.proposed_by
    computation = rule_compute(rule=rule)
    if expected_digest is not None and computation.digest != expected_digest:
        raise RuleRefused("The balances changed since you looked: check the new legs and confirm again.")
    with transaction.atomic():
        run = TransferRuleRun.objects.create(
            rule=rule, trigger=trigger, run_by=requester, balances=computation.balances, legs=computation.legs
        )
        if not computation.legs:
            run.outcome = "No legs: every balance was already where the rule wants it. No batch."
        elif computation.shortfall > 0:
            # Legs the master cannot pay would fail at the exchange one by one after two approvals.
            run.outcome = (
                f"No batch: the legs need {computation.shortfall.normalize():f} {rule.asset} more than the "
                f"master's funding wallet holds ({computation.master_free}). Fund the master, then run again."
            )
        else:
            try:
                with transaction.atomic():
                    run.batch = transfer_batch_create(
                        requester=requester,
                        legs=_leg_inputs(rule=rule, legs=computation.legs),
                        note=_note(rule=rule, run=run, computation=computation),
                        ip=ip,
                    )
                run.outcome = f"Batch #{run.batch.pk} created; it waits for approval."
            except BatchRefused as exc:
                run.outcome = f"No batch: {exc}"[:500]
        run.save(update_fields=["batch", "outcome"])
        audit_record(
            actor=requester,
            verb="transfer_rule.run",
            obj=rule,
            after={
                "run": run.pk,
                "trigger": trigger,
                "legs": len(computation.legs),
                "batch": run.batch_id,
                "outcome": run.outcome,
            },
            ip=ip,
        )
    return run
