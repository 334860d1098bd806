"""Approve, reject, cancel and expire: every rule the service enforces, and what each transition records."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import AuditEvent, KeySetStatus
from tests.transfers.workflow_support import PASSWORD, member, new_request
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
            request_id=pending.pk, approver=bob, password=PASSWORD, comment="ok", ip="10.0.0.7"
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
            transfer_request_approve(request_id=pending.pk, approver=bob, password=PASSWORD)
            raise Boom

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(Boom):
        approve_then_fail()
    assert executed == []
    pending.refresh_from_db()
    assert pending.status == Status.PENDING


def test_requester_cannot_approve_own_request(pending, alice):
    refused("own_request", transfer_request_approve, request_id=pending.pk, approver=alice, password=PASSWORD)
    assert pending.approvals.count() == 0


def test_superuser_requester_cannot_approve_own_request_either(key_set, bob):
    from tests.transfers.workflow_support import grant

    root = member("root", is_superuser=True)
    grant(key_set, root, request=True, approve=True)
    req = new_request(requester=root, key_set=key_set)
    refused("own_request", transfer_request_approve, request_id=req.pk, approver=root, password=PASSWORD)
    refused("own_request", transfer_request_reject, request_id=req.pk, approver=root, password=PASSWORD)


def test_approver_needs_the_approve_grant_on_that_key_set(pending, stranger):
    refused("no_grant", transfer_request_approve, request_id=pending.pk, approver=stranger, password=PASSWORD)
    refused("no_grant", transfer_request_reject, request_id=pending.pk, approver=stranger, password=PASSWORD)


def test_view_grant_alone_is_not_enough(pending, key_set):
    from tests.transfers.workflow_support import grant

    viewer = member("vic", "viewer")
    grant(key_set, viewer)
    refused("no_grant", transfer_request_approve, request_id=pending.pk, approver=viewer, password=PASSWORD)


def test_inactive_user_cannot_decide(pending, bob):
    bob.is_active = False
    bob.save()
    refused("no_grant", transfer_request_approve, request_id=pending.pk, approver=bob, password=PASSWORD)


@pytest.mark.parametrize("password", [None, "", "wrong password"])
def test_decision_needs_the_approvers_password(pending, bob, password):
    refused("password", transfer_request_approve, request_id=pending.pk, approver=bob, password=password)
    refused("password", transfer_request_reject, request_id=pending.pk, approver=bob, password=password)
    pending.refresh_from_db()
    assert pending.status == Status.PENDING
    assert pending.approvals.count() == 0


def test_wrong_step_up_passwords_are_audited_and_lock_decisions_for_a_while(pending, alice, bob, carol):
    for _ in range(5):
        refused("password", transfer_request_approve, request_id=pending.pk, approver=bob, password="guess")
    assert verbs(pending).count("auth.step_up_failed") == 5
    # Even the right password is refused now, and nothing changes.
    refused("locked", transfer_request_approve, request_id=pending.pk, approver=bob, password=PASSWORD)
    pending.refresh_from_db()
    assert pending.status == Status.PENDING
    assert pending.approvals.count() == 0
    # The lock is per person: another approver still decides.
    transfer_request_approve(request_id=pending.pk, approver=carol, password=PASSWORD)
    # Failures older than the window no longer count.
    AuditEvent.objects.filter(verb="auth.step_up_failed").update(at=timezone.now() - timedelta(minutes=16))
    other = new_request(requester=alice, key_set=pending.key_set, amount="1")
    transfer_request_approve(request_id=other.pk, approver=bob, password=PASSWORD)


def test_two_approvals_needed_above_threshold(
    alice, bob, carol, key_set, executed, django_capture_on_commit_callbacks
):
    PolicyRule.objects.create(position=1, name="big", min_amount=Decimal(100), required_approvals=2)
    req = new_request(requester=alice, key_set=key_set, amount="150")
    with django_capture_on_commit_callbacks(execute=True):
        req = transfer_request_approve(request_id=req.pk, approver=bob, password=PASSWORD)
    assert req.status == Status.PENDING
    assert executed == []
    with django_capture_on_commit_callbacks(execute=True):
        req = transfer_request_approve(request_id=req.pk, approver=carol, password=PASSWORD)
    assert req.status == Status.APPROVED
    assert executed == [req.pk]


def test_one_decision_per_person(alice, bob, carol, key_set):
    PolicyRule.objects.create(position=1, name="two", required_approvals=2)
    req = new_request(requester=alice, key_set=key_set)
    transfer_request_approve(request_id=req.pk, approver=bob, password=PASSWORD)
    refused("already_decided", transfer_request_approve, request_id=req.pk, approver=bob, password=PASSWORD)
    refused("already_decided", transfer_request_reject, request_id=req.pk, approver=bob, password=PASSWORD)
    assert Approval.objects.filter(request=req).count() == 1


def test_reject_by_any_eligible_approver_ends_the_request(alice, bob, carol, key_set):
    PolicyRule.objects.create(position=1, name="two", required_approvals=2)
    req = new_request(requester=alice, key_set=key_set)
    transfer_request_approve(request_id=req.pk, approver=bob, password=PASSWORD)
    req = transfer_request_reject(
        request_id=req.pk, approver=carol, password=PASSWORD, comment="wrong amount"
    )
    assert req.status == Status.REJECTED
    assert req.decided_at
    assert verbs(req) == ["transfer.request", "transfer.approve", "transfer.reject"]


def test_decided_requests_cannot_be_decided_again(pending, bob, carol):
    transfer_request_approve(request_id=pending.pk, approver=bob, password=PASSWORD)
    refused("not_pending", transfer_request_approve, request_id=pending.pk, approver=carol, password=PASSWORD)
    refused("not_pending", transfer_request_reject, request_id=pending.pk, approver=carol, password=PASSWORD)


def test_expired_request_is_marked_expired_and_refused(pending, bob):
    TransferRequest.objects.filter(pk=pending.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    refused("expired", transfer_request_approve, request_id=pending.pk, approver=bob, password=PASSWORD)
    pending.refresh_from_db()
    assert pending.status == Status.EXPIRED  # the mark survives the refusal
    assert pending.approvals.count() == 0
    assert verbs(pending)[-1] == "transfer.expire"


def test_inactive_key_set_makes_the_request_stale_at_decision(pending, bob, key_set):
    key_set.status = KeySetStatus.INACTIVE
    key_set.save()
    refused("stale", transfer_request_approve, request_id=pending.pk, approver=bob, password=PASSWORD)
    pending.refresh_from_db()
    assert pending.status == Status.STALE


def test_policy_version_change_makes_the_request_stale_at_decision(pending, bob):
    from transfers.models import PolicyState

    PolicyState.objects.update(version=pending.policy_version + 1)  # changed behind the services' back
    refused("stale", transfer_request_approve, request_id=pending.pk, approver=bob, password=PASSWORD)
    pending.refresh_from_db()
    assert pending.status == Status.STALE


def test_policy_change_through_the_service_stales_pending_requests(pending, bob, admin1, admin2):
    change, _ = policy_change_propose(
        actor=admin1, action="rule_create", values={"name": "new", "required_approvals": 1}
    )
    pending.refresh_from_db()
    assert pending.status == Status.PENDING  # a proposal alone changes nothing
    policy_change_approve(actor=admin2, change_id=change.pk)
    pending.refresh_from_db()
    assert pending.status == Status.STALE
    assert "transfer.stale" in verbs(pending)
    refused("not_pending", transfer_request_approve, request_id=pending.pk, approver=bob, password=PASSWORD)


def test_tampered_payload_cannot_be_approved(pending, bob):
    TransferRequest.objects.filter(pk=pending.pk).update(
        payload={**pending.payload, "recipient_account": "99999999"}
    )
    refused("stale", transfer_request_approve, request_id=pending.pk, approver=bob, password=PASSWORD)
    pending.refresh_from_db()
    assert pending.status == Status.STALE
    assert pending.needs_attention
    assert pending.approvals.count() == 0
    assert verbs(pending)[-1] == "transfer.tampered"


def test_tampered_hash_cannot_be_approved(pending, bob):
    TransferRequest.objects.filter(pk=pending.pk).update(payload_sha256="0" * 64)
    refused("stale", transfer_request_approve, request_id=pending.pk, approver=bob, password=PASSWORD)


def test_requester_cancels_while_pending(pending, alice):
    req = transfer_request_cancel(request_id=pending.pk, actor=alice, ip="10.1.1.1")
    assert req.status == Status.CANCELLED
    assert verbs(req) == ["transfer.request", "transfer.cancel"]


def test_only_the_requester_can_cancel(pending, bob):
    refused("not_requester", transfer_request_cancel, request_id=pending.pk, actor=bob)


def test_cannot_cancel_after_approval(pending, alice, bob):
    transfer_request_approve(request_id=pending.pk, approver=bob, password=PASSWORD)
    refused("not_pending", transfer_request_cancel, request_id=pending.pk, actor=alice)


def test_expire_marks_only_overdue_pending_requests(alice, bob, key_set):
    overdue = new_request(requester=alice, key_set=key_set)
    fresh = new_request(requester=alice, key_set=key_set)
    decided = new_request(requester=alice, key_set=key_set)
    transfer_request_approve(request_id=decided.pk, approver=bob, password=PASSWORD)
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

    key_set_deactivate(actor=admin1, key_set_id=key_set.pk)
    pending.refresh_from_db()
    assert pending.status == Status.STALE
