"""Policy changes: only administrators, each bumps the version, stales pending requests and is audited."""

from decimal import Decimal

import pytest

from accounts.access import AccessDenied
from accounts.models import AuditEvent
from tests.transfers.workflow_support import *  # noqa: F403
from tests.transfers.workflow_support import new_request
from transfers.models import DailyLimit, PolicyRule, Status
from transfers.policy import policy_version_current
from transfers.services import (
    PolicyRefused,
    daily_limit_delete,
    daily_limit_save,
    policy_rule_delete,
    policy_rule_save,
)


def test_rule_save_bumps_version_and_stales_pending(admin1, alice, key_set):
    req = new_request(requester=alice, key_set=key_set)
    v = policy_version_current()
    rule, change = policy_rule_save(
        actor=admin1, name="big", required_approvals=2, min_amount=Decimal(1000), asset="usdt"
    )
    assert change.version == v + 1 == policy_version_current()
    assert change.stale_requests == 1
    assert rule.asset == "USDT"
    req.refresh_from_db()
    assert req.status == Status.STALE
    event = AuditEvent.objects.get(verb="policy.rule_save")
    assert event.after["required_approvals"] == 2
    assert event.actor == admin1


def test_new_requests_use_the_new_version(admin1, alice, key_set):
    policy_rule_save(actor=admin1, name="r", required_approvals=1)
    req = new_request(requester=alice, key_set=key_set)
    assert req.policy_version == policy_version_current()
    assert req.payload["policy_version"] == req.policy_version


def test_edit_and_delete(admin1):
    rule, _ = policy_rule_save(actor=admin1, name="r", required_approvals=1)
    rule, _ = policy_rule_save(actor=admin1, rule_id=rule.pk, name="r2", required_approvals=2)
    assert PolicyRule.objects.get().name == "r2"
    policy_rule_delete(actor=admin1, rule_id=rule.pk)
    assert not PolicyRule.objects.exists()
    assert AuditEvent.objects.filter(verb="policy.rule_delete").exists()


def test_non_admins_cannot_change_policy(alice):
    with pytest.raises(AccessDenied):
        policy_rule_save(actor=alice, name="r", required_approvals=1)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"name": "", "required_approvals": 1}, "name"),
        ({"name": "x", "required_approvals": 0}, "at least one"),
        ({"name": "x", "required_approvals": 1, "kind": "teleport"}, "Unknown"),
        ({"name": "x", "required_approvals": 1, "min_amount": Decimal(-1)}, "negative"),
    ],
)
def test_bad_rules_are_refused_and_nothing_changes(admin1, kwargs, match):
    v = policy_version_current()
    with pytest.raises(PolicyRefused, match=match):
        policy_rule_save(actor=admin1, **kwargs)
    assert policy_version_current() == v
    assert not PolicyRule.objects.exists()


def test_rule_whose_quorum_can_never_be_met_is_refused(admin1, key_set):
    # alice, bob and carol may approve on the key set: 3 is possible (with a warning), 4 never.
    _, change = policy_rule_save(actor=admin1, name="three", key_set_id=key_set.pk, required_approvals=3)
    assert change.warnings
    with pytest.raises(PolicyRefused, match="could never be met"):
        policy_rule_save(actor=admin1, name="four", key_set_id=key_set.pk, required_approvals=4)


def test_daily_limit_save_and_delete(admin1, alice, key_set):
    req = new_request(requester=alice, key_set=key_set)
    limit, change = daily_limit_save(actor=admin1, key_set_id=key_set.pk, asset="usdt", limit=Decimal(500))
    assert (limit.asset, change.stale_requests) == ("USDT", 1)
    req.refresh_from_db()
    assert req.status == Status.STALE
    limit, _ = daily_limit_save(actor=admin1, key_set_id=key_set.pk, asset="USDT", limit=Decimal(600))
    assert DailyLimit.objects.get().limit == Decimal(600)
    with pytest.raises(PolicyRefused, match="greater than zero"):
        daily_limit_save(actor=admin1, key_set_id=key_set.pk, asset="USDT", limit=Decimal(0))
    daily_limit_delete(actor=admin1, limit_id=limit.pk)
    assert not DailyLimit.objects.exists()
