"""Emails: approvers hear when a request waits for them, the requester when it is decided; each links."""

from django.core import mail

from tests.stepup_support import stepup_data
from tests.transfers.workflow_support import grant, member, new_request
from transfers.models import PolicyRule
from transfers.services.decisions import transfer_request_approve, transfer_request_reject


def test_approvers_are_emailed_when_a_request_waits(
    alice, bob, carol, key_set, settings, django_capture_on_commit_callbacks
):
    settings.SITE_URL = "https://desk.example.com"
    grant(key_set, member("nomail", "approver", email=""), approve=True)
    with django_capture_on_commit_callbacks(execute=True):
        req = new_request(requester=alice, key_set=key_set)
    recipients = sorted(m.to[0] for m in mail.outbox)
    assert recipients == ["bob@example.com", "carol@example.com"]  # never the requester; one message each
    msg = mail.outbox[0]
    assert f"Transfer #{req.pk} waits for your approval" in msg.subject
    assert f"https://desk.example.com/transfers/{req.pk}/" in msg.body
    assert req.payload_sha256 in msg.body


def test_nothing_is_sent_when_submission_is_refused(alice, key_set, django_capture_on_commit_callbacks):
    import pytest

    from transfers.refusals import RequestRefused

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RequestRefused):
        new_request(requester=alice, key_set=key_set, amount="-1")
    assert mail.outbox == []


def test_requester_is_emailed_when_approved(pending, bob, executed, django_capture_on_commit_callbacks):
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        transfer_request_approve(request_id=pending.pk, approver=bob, stepup=stepup_data(bob), comment="go")
    assert [m.to for m in mail.outbox] == [["alice@example.com"]]
    assert "approved" in mail.outbox[0].subject.lower()
    assert "bob: Approve" in mail.outbox[0].body
    assert f"/transfers/{pending.pk}/" in mail.outbox[0].body


def test_requester_is_emailed_when_rejected(pending, bob, django_capture_on_commit_callbacks):
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        transfer_request_reject(request_id=pending.pk, approver=bob, stepup=stepup_data(bob), comment="no")
    assert len(mail.outbox) == 1
    assert "rejected" in mail.outbox[0].subject.lower()


def test_partial_approval_sends_nothing_to_the_requester(
    alice, bob, key_set, django_capture_on_commit_callbacks
):
    PolicyRule.objects.create(position=1, name="two", required_approvals=2)
    req = new_request(requester=alice, key_set=key_set)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        transfer_request_approve(request_id=req.pk, approver=bob, stepup=stepup_data(bob))
    assert mail.outbox == []
