"""Approve, reject, cancel and expire: every rule the service enforces, and what each transition records."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import AuditEvent, KeySetStatus, StepUpThrottle
from tests.stepup_support import stepup_data
from tests.transfers.workflow_support import member, new_request
from transfers.models import Approval, Decision, PolicyRule, Status, TransferRequest
from transfers.refusals import DecisionRefused
from transfers.services.decisions import transfer_request_approve, transfer_request_reject
from transfers.services.policy_changes import policy_change_approve, policy_change_propose
from transfers.services.requests import transfer_request_cancel, transfer_requests_expire


def verbs(req):
    return list(
        AuditEvent.objects.filter(object_id=str(req.pk), object_type="transfers.transferrequest")
        .order_by("seq")
        .values_list("verb", flat=True)
    )


def refused(code, fn, **kwargs):
    with pytest.raises(DecisionRefused) as info:
        fn(**kwargs)
    assert info.value.code == code, str(info.value)
    return info.value


def test_one_approval_reaches_default_quorum_and_enqueues_execution_on_commit(
    pending, bob, executed, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        req = transfer_request_approve(
            request_id=pending.pk, approver=bob, stepup=stepup_data(bob), comment="ok", ip="10.0.0.7"
        )
    assert req.status == Status.APPROVED
    assert req.decided_at is not None
    assert executed == [pending.pk]
    approval = Approval.objects.get(request=pending)
    assert (approval.approver, approval.decision, approval.comment, approval.ip) == (
        bob,
        Decision.APPROVE,
        "ok",
        "10.0.0.7",
    )
    assert approval.payload_sha256 == pending.payload_sha256
    event = AuditEvent.objects.get(verb="transfer.approve", object_id=str(pending.pk))
    assert (event.actor, event.ip) == (bob, "10.0.0.7")
    assert event.before["status"] == Status.PENDING
    assert event.after["status"] == Status.APPROVED


def test_nothing_is_enqueued_when_the_transaction_rolls_back(
    pending, bob, executed, django_capture_on_commit_callbacks
):
    from django.db import transaction

    class Boom(Exception):
        pass

    def approve_then_fail():
        with transaction.atomic():
            transfer_request_approve(request_id=pending.pk, approver=bob, stepup=stepup_data(bob))
            raise Boom

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(Boom):
        approve_then_fail()
    assert executed == []
    pending.refresh_from_db()
    assert pending.status == Status.PENDING


def test_requester_cannot_approve_own_request(pending, alice):
    refused(
        "own_request",
        transfer_request_approve,
        request_id=pending.pk,
        approver=alice,
        stepup=stepup_data(alice),
    )
    assert pending.approvals.count() == 0


def test_superuser_requester_cannot_approve_own_request_either(key_set, bob):
    from tests.transfers.workflow_support import grant

    root = member("root", is_superuser=True)
    grant(key_set, root, request=True, approve=True)
    req = new_request(requester=root, key_set=key_set)
    refused(
        "own_request", transfer_request_approve, request_id=req.pk, approver=root, stepup=stepup_data(root)
    )
    refused(
        "own_request", transfer_request_reject, request_id=req.pk, approver=root, stepup=stepup_data(root)
    )


def test_approver_needs_the_approve_grant_on_that_key_set(pending, stranger):
    refused(
        "no_grant",
        transfer_request_approve,
        request_id=pending.pk,
        approver=stranger,
        stepup=stepup_data(stranger),
    )
    refused(
        "no_grant",
        transfer_request_reject,
        request_id=pending.pk,
        approver=stranger,
        stepup=stepup_data(stranger),
    )


def test_view_grant_alone_is_not_enough(pending, key_set):
    from tests.transfers.workflow_support import grant

    viewer = member("vic", "viewer")
    grant(key_set, viewer)
    refused(
        "no_grant",
        transfer_request_approve,
        request_id=pending.pk,
        approver=viewer,
        stepup=stepup_data(viewer),
    )


def test_inactive_user_cannot_decide(pending, bob):
    bob.is_active = False
    bob.save()
    refused(
        "no_grant", transfer_request_approve, request_id=pending.pk, approver=bob, stepup=stepup_data(bob)
    )


@pytest.mark.parametrize(
    "stepup", [{}, {"stepup_code": ""}, {"stepup_code": "000000"}, {"stepup_code": "guess"}]
)
def test_decision_needs_the_approvers_second_factor(pending, bob, stepup):
    stepup_data(bob)  # enrolled, so the refusal is about the code itself
    refused("second_factor", transfer_request_approve, request_id=pending.pk, approver=bob, stepup=stepup)
    refused(
        "second_factor",
        transfer_request_reject,
        request_id=pending.pk,
        approver=bob,
        stepup=stepup,
        comment="wrong amount",
    )
    pending.refresh_from_db()
    assert pending.status == Status.PENDING
    assert pending.approvals.count() == 0


def test_the_password_is_no_step_up(pending, bob):
    stepup_data(bob)
    refused(
        "second_factor",
        transfer_request_approve,
        request_id=pending.pk,
        approver=bob,
        stepup={"password": "correct horse battery staple"},
    )


def test_wrong_step_up_codes_are_audited_and_lock_decisions_for_a_while(pending, alice, bob, carol):
    stepup_data(bob)
    for _ in range(5):
        refused(
            "second_factor",
            transfer_request_approve,
            request_id=pending.pk,
            approver=bob,
            stepup={"stepup_code": "000000"},
        )
    assert AuditEvent.objects.filter(actor=bob, verb="auth.step_up_failed").count() == 5
    # Even the right code is refused now (and audited), and nothing changes.
    refused("locked", transfer_request_approve, request_id=pending.pk, approver=bob, stepup=stepup_data(bob))
    assert AuditEvent.objects.filter(actor=bob, verb="auth.step_up_failed").count() == 6
    pending.refresh_from_db()
    assert pending.status == Status.PENDING
    assert pending.approvals.count() == 0
    # The lock is per person: another approver still decides.
    transfer_request_approve(request_id=pending.pk, approver=carol, stepup=stepup_data(carol))
    # Once the lock has passed, bob decides again.
    StepUpThrottle.objects.filter(user=bob).update(locked_until=timezone.now() - timedelta(seconds=1))
    other = new_request(requester=alice, key_set=pending.key_set, amount="1")
    transfer_request_approve(request_id=other.pk, approver=bob, stepup=stepup_data(bob))


def test_approval_records_the_second_factor_and_its_seal(pending, bob):
    transfer_request_approve(request_id=pending.pk, approver=bob, stepup=stepup_data(bob))
    approval = pending.approvals.get()
    assert approval.stepup_method == "totp"
    assert approval.stepup_assertion == {}
    assert len(approval.stepup_seal) == 64


def test_two_approvals_needed_above_threshold(
    alice, bob, carol, key_set, executed, django_capture_on_commit_callbacks
):
    PolicyRule.objects.create(position=1, name="big", min_amount=Decimal(100), required_approvals=2)
    req = new_request(requester=alice, key_set=key_set, amount="150")
    with django_capture_on_commit_callbacks(execute=True):
        req = transfer_request_approve(request_id=req.pk, approver=bob, stepup=stepup_data(bob))
    assert req.status == Status.PENDING
    assert executed == []
    with django_capture_on_commit_callbacks(execute=True):
        req = transfer_request_approve(request_id=req.pk, approver=carol, stepup=stepup_data(carol))
    assert req.status == Status.APPROVED
    assert executed == [req.pk]


def test_one_decision_per_person(alice, bob, carol, key_set):
    PolicyRule.objects.create(position=1, name="two", required_approvals=2)
    req = new_request(requester=alice, key_set=key_set)
    transfer_request_approve(request_id=req.pk, approver=bob, stepup=stepup_data(bob))
    refused(
        "already_decided", transfer_request_approve, request_id=req.pk, approver=bob, stepup=stepup_data(bob)
    )
    refused(
        "already_decided", transfer_request_reject, request_id=req.pk, approver=bob, stepup=stepup_data(bob)
    )
    assert Approval.objects.filter(request=req).count() == 1


def test_reject_by_any_eligible_approver_ends_the_request(alice, bob, carol, key_set):
    PolicyRule.objects.create(position=1, name="two", required_approvals=2)
    req = new_request(requester=alice, key_set=key_set)
    transfer_request_approve(request_id=req.pk, approver=bob, stepup=stepup_data(bob))
    req = transfer_request_reject(
        request_id=req.pk, approver=carol, stepup=stepup_data(carol), comment="wrong amount"
    )
    assert req.status == Status.REJECTED
    assert req.decided_at
    assert verbs(req) == ["transfer.request", "transfer.approve", "transfer.reject"]


def test_decided_requests_cannot_be_decided_again(pending, bob, carol):
    transfer_request_approve(request_id=pending.pk, approver=bob, stepup=stepup_data(bob))
    refused(
        "not_pending",
        transfer_request_approve,
        request_id=pending.pk,
        approver=carol,
        stepup=stepup_data(carol),
    )
    refused(
        "not_pending",
        transfer_request_reject,
        request_id=pending.pk,
        approver=carol,
        stepup=stepup_data(carol),
    )


def test_expired_request_is_marked_expired_and_refused(pending, bob):
    TransferRequest.objects.filter(pk=pending.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    refused("expired", transfer_request_approve, request_id=pending.pk, approver=bob, stepup=stepup_data(bob))
    pending.refresh_from_db()
    assert pending.status == Status.EXPIRED  # the mark survives the refusal
    assert pending.approvals.count() == 0
    assert verbs(pending)[-1] == "transfer.expire"


def test_inactive_key_set_makes_the_request_stale_at_decision(pending, bob, key_set):
    key_set.status = KeySetStatus.INACTIVE
    key_set.save()
    refused("stale", transfer_request_approve, request_id=pending.pk, approver=bob, stepup=stepup_data(bob))
    pending.refresh_from_db()
    assert pending.status == Status.STALE


def test_policy_version_change_makes_the_request_stale_at_decision(pending, bob):
    from transfers.models import PolicyState

    PolicyState.objects.update(version=pending.policy_version + 1)  # changed behind the services' back
    refused("stale", transfer_request_approve, request_id=pending.pk, approver=bob, stepup=stepup_data(bob))
    pending.refresh_from_db()
    assert pending.status == Status.STALE


def test_policy_change_through_the_service_stales_pending_requests(pending, bob, admin1, admin2):
    change, _ = policy_change_propose(
        actor=admin1, action="rule_create", values={"name": "new", "required_approvals": 1}
    )
    pending.refresh_from_db()
    assert pending.status == Status.PENDING  # a proposal alone changes nothing
    policy_change_approve(actor=admin2, stepup=stepup_data(admin2), change_id=change.pk)
    pending.refresh_from_db()
    assert pending.status == Status.STALE
    assert "transfer.stale" in verbs(pending)
    refused(
        "not_pending", transfer_request_approve, request_id=pending.pk, approver=bob, stepup=stepup_data(bob)
    )


def test_tampered_payload_cannot_be_approved(pending, bob):
    TransferRequest.objects.filter(pk=pending.pk).update(
        payload={**pending.payload, "recipient_account": "99999999"}
    )
    refused("stale", transfer_request_approve, request_id=pending.pk, approver=bob, stepup=stepup_data(bob))
    pending.refresh_from_db()
    assert pending.status == Status.STALE
    assert pending.needs_attention
    assert pending.approvals.count() == 0
    assert verbs(pending)[-1] == "transfer.tampered"


def test_tampered_hash_cannot_be_approved(pending, bob):
    TransferRequest.objects.filter(pk=pending.pk).update(payload_sha256="0" * 64)
    refused("stale", transfer_request_approve, request_id=pending.pk, approver=bob, stepup=stepup_data(bob))


def test_requester_cancels_while_pending(pending, alice):
    req = transfer_request_cancel(request_id=pending.pk, actor=alice, ip="10.1.1.1")
    assert req.status == Status.CANCELLED
    assert verbs(req) == ["transfer.request", "transfer.cancel"]


def test_only_the_requester_can_cancel(pending, bob):
    refused("not_requester", transfer_request_cancel, request_id=pending.pk, actor=bob)


def test_cannot_cancel_after_approval(pending, alice, bob):
    transfer_request_approve(request_id=pending.pk, approver=bob, stepup=stepup_data(bob))
    refused("not_pending", transfer_request_cancel, request_id=pending.pk, actor=alice)


def test_expire_marks_only_overdue_pending_requests(alice, bob, key_set):
    overdue = new_request(requester=alice, key_set=key_set)
    fresh = new_request(requester=alice, key_set=key_set)
    decided = new_request(requester=alice, key_set=key_set)
    transfer_request_approve(request_id=decided.pk, approver=bob, stepup=stepup_data(bob))
    past = timezone.now() - timedelta(minutes=1)
    TransferRequest.objects.filter(pk__in=[overdue.pk, decided.pk]).update(expires_at=past)
    assert transfer_requests_expire() == 1
    statuses = dict(TransferRequest.objects.values_list("pk", "status"))
    assert statuses == {overdue.pk: Status.EXPIRED, fresh.pk: Status.PENDING, decided.pk: Status.APPROVED}
    event = AuditEvent.objects.get(verb="transfer.expire")
    assert event.actor is None
    assert event.actor_label == "system"
    assert transfer_requests_expire() == 0


def test_expire_task_calls_the_service(alice, key_set):
    from transfers.tasks import transfer_requests_expire_task

    req = new_request(requester=alice, key_set=key_set)
    TransferRequest.objects.filter(pk=req.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert transfer_requests_expire_task.run() == 1


def test_key_set_deactivation_by_accounts_stales_pending(pending, admin1, key_set):
    from accounts.services.key_sets import key_set_deactivate

    key_set_deactivate(actor=admin1, key_set_id=key_set.pk, stepup=stepup_data(admin1))
    pending.refresh_from_db()
    assert pending.status == Status.STALE


def test_a_rule_proposed_with_a_passkey_threshold_refuses_totp_approvals_above_it(
    admin1, admin2, alice, bob, key_set
):
    from transfers.models import PolicyChangeAction

    change, _ = policy_change_propose(
        actor=admin1,
        action=PolicyChangeAction.RULE_CREATE,
        values={"name": "passkeys above 100", "required_approvals": 1, "passkey_required_above": "100"},
    )
    policy_change_approve(actor=admin2, stepup=stepup_data(admin2), change_id=change.pk)
    assert PolicyRule.objects.get().passkey_required_above == Decimal(100)
    small = new_request(requester=alice, key_set=key_set, amount="100")
    transfer_request_approve(request_id=small.pk, approver=bob, stepup=stepup_data(bob))  # not above
    big = new_request(requester=alice, key_set=key_set, amount="100.01")
    refused(
        "passkey_required", transfer_request_approve, request_id=big.pk, approver=bob, stepup=stepup_data(bob)
    )
    transfer_request_reject(
        request_id=big.pk, approver=bob, stepup=stepup_data(bob), comment="too much"
    )  # rejecting needs no passkey
    big.refresh_from_db()
    assert big.status == Status.REJECTED


@pytest.mark.parametrize("comment", ["", "   "])
def test_a_rejection_needs_a_reason_and_spends_no_second_factor(pending, bob, comment):
    data = stepup_data(bob)
    refused(
        "reason_required",
        transfer_request_reject,
        request_id=pending.pk,
        approver=bob,
        stepup=data,
        comment=comment,
    )
    pending.refresh_from_db()
    assert pending.status == Status.PENDING
    assert pending.approvals.count() == 0
    # the code was not spent: the same code still rejects, with a reason
    req = transfer_request_reject(request_id=pending.pk, approver=bob, stepup=data, comment="wrong wallet")
    assert req.status == Status.REJECTED
    assert req.approvals.get().comment == "wrong wallet"
