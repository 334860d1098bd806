"""Execution re-checks everything approval relied on, after the claim and before the call: a failed
re-check ends the request FAILED with a reason a person understands, writes an audit event, and
sends nothing to the exchange (the sandbox's journal, over HTTP, shows no call)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from accounts.models import AuditEvent, KeySetGrant, KeySetStatus, SubAccount, User
from accounts.services.grants import grant_revoke
from tests.factories import ApiKeySetFactory, KeySetGrantFactory, UserFactory
from tests.stepup_support import stepup_data
from tests.transfers.execution_support import (
    APPLY_PATHS,
    EXTERNAL_UID,
    INNER_APPLY,
    SUB1_UID,
    Sandbox,
    approved_request,
)
from transfers.execution import checks
from transfers.models import Approval, AttemptOutcome, Decision, Status, TransferKind, TransferRequest
from transfers.services.address_book import recipient_approve, recipient_remove, recipient_request

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("limiter_dir")]


@pytest.fixture
def admins(db: None) -> tuple[User, User]:
    group = Group.objects.get_or_create(name="administrator")[0]
    first, second = UserFactory.create(username="admin1"), UserFactory.create(username="admin2")
    first.groups.add(group)
    second.groups.add(group)
    return first, second


def approver_of(req: TransferRequest) -> User:
    return req.approvals.get().approver


def assert_refused_and_nothing_sent(sandbox: Sandbox, req: TransferRequest, *, reason: str) -> None:
    assert req.status == Status.FAILED
    assert req.failure_code == "refused"
    assert reason in req.failure_message
    assert "nothing was sent" in req.failure_message.lower()
    assert all(sandbox.calls(path) == [] for path in APPLY_PATHS)  # no call to any transfer endpoint
    assert req.attempts.get().outcome == AttemptOutcome.REFUSED
    event = AuditEvent.objects.get(verb="transfer.execute.refused", object_id=str(req.pk))
    assert reason in event.after["failure_message"]


# --- the happy path -----------------------------------------------------------------------------


def test_a_fully_valid_approved_request_still_executes(sandbox: Sandbox, main_key_set, execute):
    req = execute(approved_request(key_set=main_key_set, kind=TransferKind.INNER, amount="3"))
    assert req.status == Status.SUCCEEDED
    assert len(sandbox.applied(INNER_APPLY)) == 1


def test_an_approver_dropped_while_the_quorum_still_holds_does_not_stop_it(
    sandbox: Sandbox, main_key_set, execute
):
    req = approved_request(key_set=main_key_set)  # needs 1; add a second approval, then lose one
    extra = UserFactory.create(username="carol")
    KeySetGrantFactory.create(key_set=main_key_set, user=extra, can_approve=True)
    Approval.objects.create(
        request=req, approver=extra, decision=Decision.APPROVE, payload_sha256=req.payload_sha256
    )
    User.objects.filter(pk=extra.pk).update(is_active=False)
    assert execute(req).status == Status.SUCCEEDED


# --- the recipient ------------------------------------------------------------------------------


def test_an_address_book_entry_removed_after_approval_stops_execution(
    sandbox: Sandbox, main_key_set, execute, admins
):
    first, second = admins
    entry = recipient_request(actor=first, label="Partner", recipient_type=1, account=str(EXTERNAL_UID))
    recipient_approve(actor=second, stepup=stepup_data(second), recipient_id=entry.pk)
    req = approved_request(key_set=main_key_set, recipient_account=str(EXTERNAL_UID))
    recipient_remove(
        actor=first, recipient_id=entry.pk, stepup=stepup_data(first)
    )  # after approval, before the worker runs

    req = execute(req)
    assert_refused_and_nothing_sent(
        sandbox, req, reason=f"The recipient UID {EXTERNAL_UID} is no longer allowed"
    )
    assert sandbox.journal() == []  # not even a read


def test_an_own_key_set_deactivated_after_approval_is_no_longer_a_recipient(
    sandbox: Sandbox, main_key_set, execute
):
    other = ApiKeySetFactory.create(label="Other main", uid=EXTERNAL_UID, base_url=sandbox.base_url)
    req = approved_request(key_set=main_key_set, recipient_account=str(EXTERNAL_UID))
    other.status = KeySetStatus.INACTIVE
    other.save(update_fields=["status"])

    req = execute(req)
    assert_refused_and_nothing_sent(sandbox, req, reason="is no longer allowed")


def test_a_family_member_no_longer_discovered_stops_a_family_move(sandbox: Sandbox, main_key_set, execute):
    req = approved_request(key_set=main_key_set, kind=TransferKind.FAMILY)
    SubAccount.objects.filter(main_key_set=main_key_set, sub_uid=SUB1_UID).delete()

    req = execute(req)
    assert_refused_and_nothing_sent(sandbox, req, reason=f"UID {SUB1_UID} is no longer")


# --- the approvers ------------------------------------------------------------------------------


def test_an_approver_whose_grant_was_revoked_no_longer_counts(
    sandbox: Sandbox, main_key_set, execute, admins
):
    req = approved_request(key_set=main_key_set)
    approver = approver_of(req)
    grant = KeySetGrant.objects.get(key_set=main_key_set, user=approver)
    grant_revoke(actor=admins[0], grant_id=grant.pk)

    req = execute(req)
    assert_refused_and_nothing_sent(
        sandbox, req, reason=f"{approver.username} no longer holds approve on “{main_key_set.label}”"
    )
    assert "only 0 of 1 required approvals still count" in req.failure_message


def test_an_approver_left_with_view_only_no_longer_counts(sandbox: Sandbox, main_key_set, execute):
    req = approved_request(key_set=main_key_set)
    KeySetGrant.objects.filter(key_set=main_key_set, user=approver_of(req)).update(can_approve=False)
    assert_refused_and_nothing_sent(sandbox, execute(req), reason="no longer holds approve")


def test_an_approver_with_approve_only_through_a_group_still_counts(sandbox: Sandbox, main_key_set, execute):
    req = approved_request(key_set=main_key_set)
    approver = approver_of(req)
    KeySetGrant.objects.filter(key_set=main_key_set, user=approver).delete()
    group = Group.objects.create(name="treasury approvers")
    approver.groups.add(group)
    KeySetGrantFactory.create(key_set=main_key_set, group=group, can_approve=True)
    assert execute(req).status == Status.SUCCEEDED


def test_a_deactivated_approver_no_longer_counts(sandbox: Sandbox, main_key_set, execute):
    req = approved_request(key_set=main_key_set)
    approver = approver_of(req)
    User.objects.filter(pk=approver.pk).update(is_active=False)

    req = execute(req)
    assert_refused_and_nothing_sent(sandbox, req, reason=f"{approver.username} has been deactivated")


def test_approvals_are_counted_like_the_quorum_requester_and_other_payloads_excluded(
    sandbox: Sandbox, main_key_set, execute
):
    req = approved_request(key_set=main_key_set)
    req.approvals.update(payload_sha256="0" * 64)  # approved something else
    KeySetGrantFactory.create(key_set=main_key_set, user=req.requested_by, can_approve=True)
    Approval.objects.create(
        request=req, approver=req.requested_by, decision=Decision.APPROVE, payload_sha256=req.payload_sha256
    )
    assert_refused_and_nothing_sent(sandbox, execute(req), reason="Only 0 of 1 required approvals")


# --- age and key set ----------------------------------------------------------------------------


def test_a_request_older_than_the_maximum_age_is_not_sent(sandbox: Sandbox, main_key_set, execute, settings):
    settings.TRANSFER_MAX_AGE_HOURS = 48
    req = approved_request(key_set=main_key_set)
    TransferRequest.objects.filter(pk=req.pk).update(created_at=timezone.now() - timedelta(hours=49))

    req = execute(req)
    assert_refused_and_nothing_sent(sandbox, req, reason="older than the maximum age of 48 hours")


def test_a_request_just_within_the_maximum_age_is_sent(sandbox: Sandbox, main_key_set, execute, settings):
    settings.TRANSFER_MAX_AGE_HOURS = 48
    req = approved_request(key_set=main_key_set)
    TransferRequest.objects.filter(pk=req.pk).update(created_at=timezone.now() - timedelta(hours=47))
    assert execute(req).status == Status.SUCCEEDED


def test_a_key_set_whose_base_url_is_no_longer_allowed_is_not_called(
    sandbox: Sandbox, main_key_set, execute, settings
):
    req = approved_request(key_set=main_key_set)
    settings.BINGX_SANDBOX_ALLOWED_HOSTS = ["localhost"]  # the sandbox listens on 127.0.0.1

    req = execute(req)
    assert_refused_and_nothing_sent(sandbox, req, reason="allowed sandbox host")
    assert sandbox.journal() == []


# --- the lists are open for one more check ------------------------------------------------------


def test_one_more_approval_check_is_a_function_appended_to_the_list(
    sandbox: Sandbox, main_key_set, execute, monkeypatch
):
    def never(*, req: TransferRequest, approval: Approval) -> str | None:
        return f"{approval.approver.username}'s approval carries no valid signature"

    monkeypatch.setattr(checks, "APPROVAL_CHECKS", [*checks.APPROVAL_CHECKS, never])
    req = execute(approved_request(key_set=main_key_set))
    assert_refused_and_nothing_sent(sandbox, req, reason="approval carries no valid signature")
