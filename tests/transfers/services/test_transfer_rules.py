"""Sweep and top-up rules against the sandbox over HTTP: four eyes on the rule, legs computed from live
balances, a run creating a pending batch that needs approval, bad input changing nothing."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django_celery_beat.models import PeriodicTask

from accounts.models import ApiKeySet, User
from tests.factories import KeySetGrantFactory, UserFactory
from tests.stepup_support import stepup_data
from tests.transfers.execution_support import MAIN_UID, SUB1_UID, SUB2_UID, discover_seed_subs
from transfers.execution.execute import transfer_execute
from transfers.models import BatchStatus, Status, TransferRule, TransferRuleRun, TransferRuleStatus
from transfers.services.batch_decisions import transfer_batch_approve
from transfers.services.rule_runs import rule_compute, transfer_rule_run
from transfers.services.transfer_rules import (
    RuleRefused,
    transfer_rule_approve,
    transfer_rule_propose,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("limiter_dir")]


@pytest.fixture
def master(main_key_set: ApiKeySet, admin1: User, admin2: User) -> ApiKeySet:
    main_key_set.permissions = [1, 2, 4, 5]
    main_key_set.save(update_fields=["permissions"])
    discover_seed_subs(key_set=main_key_set)
    checker = UserFactory.create(username="checker")
    KeySetGrantFactory.create(key_set=main_key_set, user=admin1, can_view=True, can_request=True)
    KeySetGrantFactory.create(key_set=main_key_set, user=checker, can_view=True, can_approve=True)
    return main_key_set


def values(master: ApiKeySet, **over: Any) -> dict[str, Any]:
    return {
        "name": "Sweep USDT",
        "kind": "sweep",
        "key_set_id": master.pk,
        "asset": "USDT",
        "wallet": 1,
        "threshold": "100",
        "sub_uids": "",
        "every_minutes": 60,
        **over,
    }


def active_rule(master: ApiKeySet, admin1: User, admin2: User, **over: Any) -> TransferRule:
    rule = transfer_rule_propose(actor=admin1, values=values(master, **over))
    return transfer_rule_approve(actor=admin2, rule_id=rule.pk, stepup=stepup_data(admin2))


def test_rule_is_active_only_once_a_second_admin_approves(master, admin1, admin2):
    rule = transfer_rule_propose(actor=admin1, values=values(master))
    assert rule.status == TransferRuleStatus.PENDING
    with pytest.raises(RuleRefused, match="Only an active"):
        transfer_rule_run(rule_id=rule.pk, actor=admin1)
    with pytest.raises(RuleRefused, match="second administrator"):
        transfer_rule_approve(actor=admin1, rule_id=rule.pk, stepup=stepup_data(admin1))
    rule.refresh_from_db()
    assert rule.status == TransferRuleStatus.PENDING
    assert rule.periodic_task is None
    transfer_rule_approve(actor=admin2, rule_id=rule.pk, stepup=stepup_data(admin2))
    rule.refresh_from_db()
    assert rule.status == TransferRuleStatus.ACTIVE
    assert rule.decided_by == admin2
    task = PeriodicTask.objects.get(pk=rule.periodic_task_id)
    assert task.task == "transfers.tasks_rules.transfer_rule_run_task"
    assert task.args == f"[{rule.pk}]"
    assert task.interval.every == 60

    change = transfer_rule_propose(actor=admin2, values=values(master, threshold="200"), replaces_id=rule.pk)
    rule.refresh_from_db()
    assert rule.status == TransferRuleStatus.ACTIVE  # the change waits for its own approval
    transfer_rule_approve(actor=admin1, rule_id=change.pk, stepup=stepup_data(admin1))
    rule.refresh_from_db()
    change.refresh_from_db()
    assert rule.status == TransferRuleStatus.SUPERSEDED
    assert change.status == TransferRuleStatus.ACTIVE
    assert not PeriodicTask.objects.filter(pk=task.pk).exists()
    assert PeriodicTask.objects.filter(pk=change.periodic_task_id).exists()


def test_sweep_legs_come_from_live_sandbox_balances(master, admin1, admin2):
    rule = active_rule(master, admin1, admin2)
    computed = rule_compute(rule=rule)
    # The seed: sub 1 holds 1000 USDT in funding, sub 2 holds 500; keep 100 on each.
    assert {b["uid"]: Decimal(b["free"]) for b in computed.balances} == {
        str(SUB1_UID): Decimal(1000),
        str(SUB2_UID): Decimal(500),
    }
    assert [(leg["from_uid"], leg["to_uid"], Decimal(leg["amount"])) for leg in computed.legs] == [
        (str(SUB1_UID), str(MAIN_UID), Decimal(900)),
        (str(SUB2_UID), str(MAIN_UID), Decimal(400)),
    ]


def test_top_up_tops_listed_subs_below_target_rounded_down(master, admin1, admin2):
    with pytest.raises(RuleRefused, match="at most 8 decimal places"):
        transfer_rule_propose(
            actor=admin1,
            values=values(master, kind="top_up", threshold="750.123456789", sub_uids=str(SUB2_UID)),
        )
    rule = active_rule(
        master, admin1, admin2, kind="top_up", threshold="750.5", sub_uids=f"{SUB1_UID} {SUB2_UID}"
    )
    computed = rule_compute(rule=rule)
    assert computed.balances[0] == {
        "uid": str(MAIN_UID),
        "role": "master",
        "wallet": "Funding",
        "asset": "USDT",
        "free": "10000",
    }
    assert [(leg["from_uid"], leg["to_uid"], leg["amount"]) for leg in computed.legs] == [
        (str(MAIN_UID), str(SUB2_UID), "250.50000000")
    ]


def test_top_up_of_a_futures_wallet_fills_it_to_target_by_its_usdt_value(master, admin1, admin2, sandbox):
    """ "Top up each trading sub-account's USDT-M perpetual wallet to 400": BingX gives the master
    that wallet only as a USDT value, so the legs come from it; approved and executed over HTTP,
    each sub-account's wallet reaches the target."""
    rule = active_rule(
        master, admin1, admin2, kind="top_up", wallet=3, threshold="400", sub_uids=f"{SUB1_UID} {SUB2_UID}"
    )
    computed = rule_compute(rule=rule)
    # The seed: sub 1 holds 300 USDT in USDT-M perpetual, sub 2 holds 150.
    assert computed.balances[1:] == [
        {
            "uid": str(uid),
            "role": "sub-account",
            "wallet": "USDT-M perpetual (value in USDT)",
            "asset": "USDT",
            "free": free,
        }
        for uid, free in ((SUB1_UID, "300"), (SUB2_UID, "150"))
    ]
    assert [(leg["to_uid"], Decimal(leg["amount"])) for leg in computed.legs] == [
        (str(SUB1_UID), Decimal(100)),
        (str(SUB2_UID), Decimal(250)),
    ]

    run = transfer_rule_run(rule_id=rule.pk, actor=admin1)
    assert run.batch is not None
    checker = User.objects.get(username="checker")
    # Approved by a person (its on-commit enqueue does not run in this test's transaction), then each
    # leg executed as the worker would.
    transfer_batch_approve(batch_id=run.batch.pk, approver=checker, stepup=stepup_data(checker))
    for leg in run.batch.legs.order_by("leg_index"):
        assert leg.payload["to_account_type"] == 3
        transfer_execute(request_id=leg.pk)
        leg.refresh_from_db()
        assert leg.status == Status.SUCCEEDED, leg.failure_message
    state = sandbox.control("GET", "state?records=false")
    perp = {a["uid"]: a["wallets"].get("USDTMPerp", {}).get("USDT") for a in state["accounts"]}
    assert Decimal(perp[SUB1_UID]) == Decimal(400)
    assert Decimal(perp[SUB2_UID]) == Decimal(400)


def test_run_creates_a_pending_batch_needing_approval_and_records_the_balances(master, admin1, admin2):
    rule = active_rule(master, admin1, admin2)
    run = transfer_rule_run(rule_id=rule.pk, actor=admin1)
    assert run.batch is not None
    batch = run.batch
    assert batch.status == BatchStatus.PENDING
    assert batch.requested_by == admin1
    assert f"rule #{rule.pk}" in batch.note
    assert f"{SUB1_UID}=1000" in batch.note
    legs = list(batch.legs.order_by("leg_index"))
    assert [(leg.kind, leg.status, leg.amount) for leg in legs] == [
        ("family", Status.PENDING, Decimal(900)),
        ("family", Status.PENDING, Decimal(400)),
    ]
    assert legs[0].payload["from_uid"] == SUB1_UID
    assert legs[0].payload["to_uid"] == MAIN_UID
    assert run.balances
    assert run.legs
    assert "waits for approval" in run.outcome
    # A scheduled run is requested by the rule's proposer.
    scheduled = transfer_rule_run(rule_id=rule.pk, actor=None, trigger="schedule")
    assert scheduled.batch is not None
    assert scheduled.batch.requested_by == admin1


def test_no_legs_no_batch_but_the_run_is_recorded(master, admin1, admin2):
    rule = active_rule(master, admin1, admin2, threshold="5000")
    run = transfer_rule_run(rule_id=rule.pk, actor=admin1)
    assert run.batch is None
    assert run.legs == []
    assert "No batch" in run.outcome
    assert TransferRuleRun.objects.filter(rule=rule).count() == 1


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"threshold": "-1"}, "KEEP cannot be negative"),
        ({"asset": "DOGE"}, "Unknown asset DOGE"),
        ({"asset": "US DT"}, "asset symbol"),
        ({"kind": "top_up", "sub_uids": ""}, "List the sub-accounts"),
        (
            {"kind": "top_up", "wallet": 3, "asset": "ETH", "sub_uids": "10000002"},
            "futures wallet is in USDT",
        ),
        ({"sub_uids": "123"}, "Not a discovered sub-account"),
        ({"every_minutes": 1}, "every 5 to"),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(master, admin1, over, message):
    with pytest.raises(RuleRefused, match=message):
        transfer_rule_propose(actor=admin1, values=values(master, **over))
    assert not TransferRule.objects.exists()


def test_pages_propose_approve_run_now_and_link_to_the_batch(master, admin1, admin2):
    from django.test import Client
    from django.urls import reverse

    from tests.stepup_support import login_verified

    one, two = Client(), Client()
    login_verified(one, admin1)
    login_verified(two, admin2)
    response = one.post(reverse("transfers:rule_new"), {**values(master), "threshold": "-5"})
    assert response.status_code == 400
    assert "KEEP cannot be negative" in response.content.decode()
    assert not TransferRule.objects.exists()
    one.post(reverse("transfers:rule_new"), values(master))
    rule = TransferRule.objects.get()
    assert "Sweep USDT" in two.get(reverse("transfers:rules")).content.decode()
    one.post(reverse("transfers:rule_approve", args=[rule.pk]), stepup_data(admin1))
    rule.refresh_from_db()
    assert rule.status == TransferRuleStatus.PENDING
    two.post(reverse("transfers:rule_approve", args=[rule.pk]), stepup_data(admin2))
    rule.refresh_from_db()
    assert rule.status == TransferRuleStatus.ACTIVE
    page = one.get(reverse("transfers:rule_run", args=[rule.pk])).content.decode()
    assert "900.00000000" in page
    assert "1000" in page
    digest = rule_compute(rule=rule).digest
    response = one.post(reverse("transfers:rule_run", args=[rule.pk]), {"digest": digest})
    run = TransferRuleRun.objects.get()
    assert run.batch is not None
    assert response["Location"] == reverse("transfers:batch_detail", args=[run.batch.pk])


def test_a_top_up_the_master_cannot_pay_makes_no_batch(master, admin1, admin2):
    """The legs would fail one by one at the exchange after two approvals: the run says by how much
    the master's funding wallet falls short, and creates nothing to approve."""
    rule = active_rule(
        master, admin1, admin2, kind="top_up", threshold="20000", sub_uids=f"{SUB1_UID} {SUB2_UID}"
    )
    computed = rule_compute(rule=rule)
    total = sum((Decimal(leg["amount"]) for leg in computed.legs), Decimal(0))
    assert computed.master_free == Decimal(10000)
    assert total > Decimal(10000)
    run = transfer_rule_run(rule_id=rule.pk, actor=admin1)
    assert run.batch is None
    assert run.legs == computed.legs  # still shown, with the balances they came from
    assert f"need {(total - 10000).normalize():f} USDT more" in run.outcome
    assert "Fund the master" in run.outcome


def test_the_beat_entry_runs_the_rule_as_scheduled(master, admin1, admin2):
    """What beat sends (the PeriodicTask's task name and arguments) runs the rule: a batch requested
    by the rule's proposer; once the rule is no longer active, the task logs why and creates nothing."""
    import json

    from celery import current_app

    rule = active_rule(master, admin1, admin2)
    entry = PeriodicTask.objects.get(pk=rule.periodic_task_id)
    current_app.loader.import_default_modules()  # what a worker imports at start (CELERY_IMPORTS)
    task = current_app.tasks[entry.task]
    task.apply(args=json.loads(entry.args)).get()
    run = TransferRuleRun.objects.get(rule=rule)
    assert run.trigger == "schedule"
    assert run.batch is not None
    assert run.batch.requested_by == admin1

    TransferRule.objects.filter(pk=rule.pk).update(status=TransferRuleStatus.CANCELLED)
    task.apply(args=json.loads(entry.args)).get()
    assert TransferRuleRun.objects.filter(rule=rule).count() == 1  # refused (logged), nothing created
