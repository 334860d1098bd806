"""Policy changes are four-eyes: one administrator proposes, a second approves, which applies the
change, bumps the version, stales pending requests; every step is audited."""

from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from accounts.access import AccessDenied
from accounts.models import AuditEvent, User
from tests.stepup_support import stepup_data
from tests.transfers.workflow_support import member, new_request
from transfers.models import (
    DailyLimit,
    PolicyChangeAction,
    PolicyChangeRequest,
    PolicyChangeStatus,
    PolicyRule,
    Status,
)
from transfers.policy import policy_version_current
from transfers.refusals import PolicyRefused
from transfers.services.policy_changes import (
    policy_change_approve,
    policy_change_cancel,
    policy_change_propose,
    policy_change_reject,
)


def propose(actor: User, action: str, target_id: int | None = None, **values: Any) -> PolicyChangeRequest:
    change, _ = policy_change_propose(actor=actor, action=action, target_id=target_id, values=values)
    return change


def rule_via_two(proposer: User, approver: User, **values: Any) -> PolicyRule:
    change = propose(proposer, PolicyChangeAction.RULE_CREATE, **values)
    policy_change_approve(actor=approver, stepup=stepup_data(approver), change_id=change.pk)
    return PolicyRule.objects.get(name=values["name"])


def test_proposal_changes_nothing_until_a_second_admin_approves(admin1, admin2, alice, key_set):
    req = new_request(requester=alice, key_set=key_set, amount="5000")  # in the new rule's range
    v = policy_version_current()
    change = propose(
        admin1,
        PolicyChangeAction.RULE_CREATE,
        name="big",
        required_approvals=2,
        min_amount="1000",
        asset="usdt",
    )
    assert change.status == PolicyChangeStatus.PENDING
    assert change.proposed["asset"] == "USDT"
    assert not PolicyRule.objects.exists()
    assert policy_version_current() == v
    req.refresh_from_db()
    assert req.status == Status.PENDING

    change, result = policy_change_approve(actor=admin2, stepup=stepup_data(admin2), change_id=change.pk)
    assert change.status == PolicyChangeStatus.APPLIED
    assert (change.decided_by, change.applied_version) == (admin2, v + 1)
    assert result.version == v + 1 == policy_version_current()
    assert result.stale_requests == 1
    rule = PolicyRule.objects.get()
    assert (rule.asset, rule.required_approvals, rule.min_amount) == ("USDT", 2, Decimal(1000))
    req.refresh_from_db()
    assert req.status == Status.STALE
    event = AuditEvent.objects.get(verb="policy.rule_save")
    assert event.after["required_approvals"] == 2
    assert event.actor == admin2
    assert AuditEvent.objects.get(verb="policy.change_propose").actor == admin1
    assert AuditEvent.objects.get(verb="policy.change_approve").after["stale_requests"] == 1


def test_proposer_cannot_approve_own_change(admin1, alice, key_set):
    req = new_request(requester=alice, key_set=key_set)
    change = propose(admin1, PolicyChangeAction.RULE_CREATE, name="r", required_approvals=1)
    v = policy_version_current()
    with pytest.raises(PolicyRefused, match="second administrator"):
        policy_change_approve(actor=admin1, stepup=stepup_data(admin1), change_id=change.pk)
    change.refresh_from_db()
    assert change.status == PolicyChangeStatus.PENDING
    assert policy_version_current() == v
    assert not PolicyRule.objects.exists()
    req.refresh_from_db()
    assert req.status == Status.PENDING


def test_superuser_proposer_cannot_approve_own_change_either(db):
    root = member("root", is_superuser=True, is_staff=True)
    change = propose(root, PolicyChangeAction.RULE_CREATE, name="r", required_approvals=1)
    with pytest.raises(PolicyRefused, match="second administrator"):
        policy_change_approve(actor=root, stepup=stepup_data(root), change_id=change.pk)
    with pytest.raises(PolicyRefused, match="second administrator"):
        policy_change_reject(actor=root, stepup=stepup_data(root), change_id=change.pk)


def test_new_requests_use_the_new_version(admin1, admin2, alice, key_set):
    rule_via_two(admin1, admin2, name="r", required_approvals=1)
    req = new_request(requester=alice, key_set=key_set)
    assert req.policy_version == policy_version_current()
    assert req.payload["policy_version"] == req.policy_version


def test_edit_and_delete(admin1, admin2):
    rule = rule_via_two(admin1, admin2, name="r", required_approvals=1)
    change = propose(admin2, PolicyChangeAction.RULE_UPDATE, rule.pk, name="r2", required_approvals=2)
    assert ("name", "r", "r2") in change.rows()
    assert PolicyRule.objects.get().name == "r"
    policy_change_approve(actor=admin1, stepup=stepup_data(admin1), change_id=change.pk)
    assert PolicyRule.objects.get().name == "r2"
    change = propose(admin1, PolicyChangeAction.RULE_DELETE, rule.pk)
    assert PolicyRule.objects.exists()
    policy_change_approve(actor=admin2, stepup=stepup_data(admin2), change_id=change.pk)
    assert not PolicyRule.objects.exists()
    assert AuditEvent.objects.filter(verb="policy.rule_delete").exists()


def test_rejection_changes_nothing(admin1, admin2, alice, key_set):
    req = new_request(requester=alice, key_set=key_set)
    v = policy_version_current()
    change = propose(admin1, PolicyChangeAction.LIMIT_SAVE, key_set_id=key_set.pk, asset="USDT", limit="500")
    change = policy_change_reject(actor=admin2, stepup=stepup_data(admin2), change_id=change.pk)
    assert (change.status, change.decided_by) == (PolicyChangeStatus.REJECTED, admin2)
    assert not DailyLimit.objects.exists()
    assert policy_version_current() == v
    req.refresh_from_db()
    assert req.status == Status.PENDING
    assert AuditEvent.objects.filter(verb="policy.change_reject").count() == 1
    with pytest.raises(PolicyRefused, match="not waiting"):
        policy_change_approve(actor=admin2, stepup=stepup_data(admin2), change_id=change.pk)


def test_proposer_may_cancel_others_may_not(admin1, admin2):
    change = propose(admin1, PolicyChangeAction.RULE_CREATE, name="r", required_approvals=1)
    with pytest.raises(PolicyRefused, match="Only the administrator who proposed"):
        policy_change_cancel(actor=admin2, change_id=change.pk)
    change = policy_change_cancel(actor=admin1, change_id=change.pk)
    assert change.status == PolicyChangeStatus.CANCELLED
    assert AuditEvent.objects.filter(verb="policy.change_cancel").count() == 1
    with pytest.raises(PolicyRefused, match="not waiting"):
        policy_change_approve(actor=admin2, stepup=stepup_data(admin2), change_id=change.pk)
    assert not PolicyRule.objects.exists()


def test_non_admins_cannot_propose_or_decide(admin1, alice):
    with pytest.raises(AccessDenied):
        propose(alice, PolicyChangeAction.RULE_CREATE, name="r", required_approvals=1)
    change = propose(admin1, PolicyChangeAction.RULE_CREATE, name="r", required_approvals=1)
    for decide in (policy_change_approve, policy_change_reject):
        with pytest.raises(AccessDenied):
            decide(actor=alice, change_id=change.pk, stepup=stepup_data(alice))
    with pytest.raises(AccessDenied):
        policy_change_cancel(actor=alice, change_id=change.pk)
    change.refresh_from_db()
    assert change.status == PolicyChangeStatus.PENDING


@pytest.mark.parametrize(
    ("values", "match"),
    [
        ({"name": "", "required_approvals": 1}, "name"),
        ({"name": "x", "required_approvals": 0}, "at least one"),
        ({"name": "x", "required_approvals": 1, "kind": "teleport"}, "Unknown"),
        ({"name": "x", "required_approvals": 1, "min_amount": Decimal(-1)}, "negative"),
        ({"name": "x", "required_approvals": 1, "key_set_id": 999999}, "No such key set"),
    ],
)
def test_bad_rules_are_refused_and_nothing_is_stored(admin1, values, match):
    v = policy_version_current()
    with pytest.raises(PolicyRefused, match=match):
        propose(admin1, PolicyChangeAction.RULE_CREATE, **values)
    assert policy_version_current() == v
    assert not PolicyRule.objects.exists()
    assert not PolicyChangeRequest.objects.exists()
    assert not AuditEvent.objects.filter(verb="policy.change_propose").exists()


def test_bad_limits_and_missing_targets_are_refused(admin1, key_set):
    with pytest.raises(PolicyRefused, match="greater than zero"):
        propose(admin1, PolicyChangeAction.LIMIT_SAVE, key_set_id=key_set.pk, asset="USDT", limit="0")
    with pytest.raises(PolicyRefused, match="No such rule"):
        propose(admin1, PolicyChangeAction.RULE_DELETE, 424242)
    with pytest.raises(PolicyRefused, match="No such limit"):
        propose(admin1, PolicyChangeAction.LIMIT_DELETE, 424242)
    with pytest.raises(PolicyRefused, match="Unknown policy change"):
        propose(admin1, "teleport")
    assert not PolicyChangeRequest.objects.exists()


def test_rule_whose_quorum_can_never_be_met_is_refused(admin1, key_set):
    # alice, bob and carol may approve on the key set: 3 is possible (with a warning), 4 never.
    _, warnings = policy_change_propose(
        actor=admin1,
        action=PolicyChangeAction.RULE_CREATE,
        values={"name": "three", "key_set_id": key_set.pk, "required_approvals": 3},
    )
    assert warnings
    with pytest.raises(PolicyRefused, match="could never be met"):
        propose(
            admin1, PolicyChangeAction.RULE_CREATE, name="four", key_set_id=key_set.pk, required_approvals=4
        )


def test_target_deleted_meanwhile_marks_the_proposal_rejected(admin1, admin2, alice, key_set):
    rule = rule_via_two(admin1, admin2, name="r", required_approvals=1)
    edit = propose(admin1, PolicyChangeAction.RULE_UPDATE, rule.pk, name="r2", required_approvals=2)
    delete = propose(admin1, PolicyChangeAction.RULE_DELETE, rule.pk)
    policy_change_approve(actor=admin2, stepup=stepup_data(admin2), change_id=delete.pk)
    req = new_request(requester=alice, key_set=key_set)
    v = policy_version_current()
    with pytest.raises(PolicyRefused, match=r"No such rule.*marked rejected"):
        policy_change_approve(actor=admin2, stepup=stepup_data(admin2), change_id=edit.pk)
    edit.refresh_from_db()
    assert edit.status == PolicyChangeStatus.REJECTED
    assert "No such rule" in edit.note
    assert policy_version_current() == v
    assert not PolicyRule.objects.exists()
    req.refresh_from_db()
    assert req.status == Status.PENDING
    assert AuditEvent.objects.filter(verb="policy.change_fail").count() == 1


def test_daily_limit_save_and_delete(admin1, admin2, alice, key_set):
    req = new_request(requester=alice, key_set=key_set)
    change = propose(admin1, PolicyChangeAction.LIMIT_SAVE, key_set_id=key_set.pk, asset="usdt", limit="500")
    _, result = policy_change_approve(actor=admin2, stepup=stepup_data(admin2), change_id=change.pk)
    limit = DailyLimit.objects.get()
    assert (limit.asset, result.stale_requests) == ("USDT", 1)
    req.refresh_from_db()
    assert req.status == Status.STALE
    change = propose(admin2, PolicyChangeAction.LIMIT_SAVE, key_set_id=key_set.pk, asset="USDT", limit="600")
    assert change.target_id == limit.pk
    assert ("limit", Decimal(500), Decimal(600)) in change.rows()
    policy_change_approve(actor=admin1, stepup=stepup_data(admin1), change_id=change.pk)
    assert DailyLimit.objects.get().limit == Decimal(600)
    change = propose(admin1, PolicyChangeAction.LIMIT_DELETE, limit.pk)
    policy_change_approve(actor=admin2, stepup=stepup_data(admin2), change_id=change.pk)
    assert not DailyLimit.objects.exists()


# --- pages ---------------------------------------------------------------------------------------


def client_for_user(user: User) -> Client:
    c = Client(enforce_csrf_checks=True)
    c.force_login(user)
    return c


def csrf_post(c: Client, url: str, data: dict[str, Any], follow: bool = False) -> Any:
    """POST as a browser would: fetch a page for the CSRF cookie, send its token."""
    c.get(reverse("transfers:dashboard"))
    return c.post(url, {**data, "csrfmiddlewaretoken": c.cookies["csrftoken"].value}, follow=follow)


def test_pages_propose_then_a_second_admin_approves(admin1, admin2, pending):
    c1 = client_for_user(admin1)
    response = csrf_post(
        c1,
        reverse("transfers:policy_rule_new"),
        # From 10 up: the pending 25 USDT request is in range, so approving makes it stale.
        {"position": 10, "name": "big", "required_approvals": 2, "min_amount": "10", "is_active": "on"},
        follow=True,
    )
    assert "Proposed; a second administrator must approve it." in response.content.decode()
    assert not PolicyRule.objects.exists()
    change = PolicyChangeRequest.objects.get()
    page = c1.get(reverse("transfers:policy")).content.decode()
    assert reverse("transfers:policy_change_cancel", args=[change.pk]) in page
    assert reverse("transfers:policy_change_approve", args=[change.pk]) not in page

    c2 = client_for_user(admin2)
    page = c2.get(reverse("transfers:policy")).content.decode()
    assert reverse("transfers:policy_change_approve", args=[change.pk]) in page
    assert "required approvals: — → 2" in page
    response = csrf_post(
        c2, reverse("transfers:policy_change_approve", args=[change.pk]), stepup_data(admin2)
    )
    assert response.status_code == 302
    assert PolicyRule.objects.get().required_approvals == 2
    pending.refresh_from_db()
    assert pending.status == Status.STALE


def test_forged_posts_are_refused_by_the_service(admin1, alice):
    change = propose(admin1, PolicyChangeAction.RULE_CREATE, name="r", required_approvals=1)
    url = reverse("transfers:policy_change_approve", args=[change.pk])
    # The proposer posts the Approve form the page never showed them.
    response = csrf_post(client_for_user(admin1), url, {}, follow=True)
    assert "second administrator" in response.content.decode()
    # A non-admin gets 403, on every decision and proposal endpoint.
    for name in ("policy_change_approve", "policy_change_reject", "policy_change_cancel"):
        assert (
            csrf_post(client_for_user(alice), reverse(f"transfers:{name}", args=[change.pk]), {}).status_code
            == 403
        )
    assert csrf_post(client_for_user(alice), reverse("transfers:policy_rule_new"), {}).status_code == 403
    change.refresh_from_db()
    assert change.status == PolicyChangeStatus.PENDING
    assert not PolicyRule.objects.exists()


def test_bad_form_input_stores_nothing(admin1, key_set):
    response = csrf_post(
        client_for_user(admin1),
        reverse("transfers:policy_rule_new"),
        {"position": 10, "name": "four", "key_set": key_set.pk, "required_approvals": 4},
    )
    assert response.status_code == 400
    assert "could never be met" in response.content.decode()
    assert not PolicyChangeRequest.objects.exists()


def test_the_policy_page_shows_a_pending_changes_values_for_people(admin1, admin2, key_set):
    rule = rule_via_two(admin1, admin2, name="big", required_approvals=2, min_amount="10000", asset="USDT")
    propose(
        admin1,
        PolicyChangeAction.RULE_UPDATE,
        target_id=rule.pk,
        name="big",
        required_approvals=2,
        min_amount="25000.5",
        asset="USDT",
    )
    c = Client()
    c.force_login(admin2)
    from tests.stepup_support import login_verified

    login_verified(c, admin2)
    body = c.get(reverse("transfers:policy")).content.decode()
    assert "min amount: 10,000 → 25,000.5" in body  # not 10000 → 25000.5
    assert "required approvals" not in body.split('id="changes"')[1].split("</table>")[0]  # unchanged
