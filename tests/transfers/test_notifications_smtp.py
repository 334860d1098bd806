"""Notifications over a real SMTP server (aiosmtpd, started per test): who gets which email on each
state change, per-person switches turning them off, reminders before expiry, items waiting for a
second administrator, the menu's Approvals counter and the dashboard's blocks."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import PersonPreferences, User
from tests.stepup_support import stepup_data
from tests.transfers.workflow_support import grant, member, new_request
from transfers import notifications
from transfers.lifecycle import transition
from transfers.models import Status, TransferRequest
from transfers.services.address_book import recipient_request
from transfers.services.decisions import transfer_request_approve, transfer_request_reject
from transfers.services.requests import transfer_requests_expire


def _switch_off(user: User, field: str) -> None:
    PersonPreferences.objects.update_or_create(user=user, defaults={field: False})


def _move(req: TransferRequest, *to: str, capture) -> None:
    """Walk the request through `to` with the one transition the services use, committing each."""
    for status in to:
        with capture(execute=True):
            assert transition(
                request=req,
                from_statuses=(req.status,),
                to_status=status,
                verb=None if status == Status.SUBMITTING else f"transfer.test.{status}",
                changes={"failure_message": "BingX refused: insufficient balance"}
                if status == Status.FAILED
                else {},
            )


@pytest.fixture
def admins(db: None) -> tuple[User, User]:
    return member("admin1", "administrator"), member("admin2", "administrator")


def test_approvers_get_waiting_over_smtp_and_a_switched_off_approver_does_not(
    smtp_inbox, alice, bob, carol, key_set, django_capture_on_commit_callbacks
):
    _switch_off(carol, "email_waiting")
    with django_capture_on_commit_callbacks(execute=True):
        req = new_request(requester=alice, key_set=key_set)
    msg = smtp_inbox.wait_for("bob@example.com", f"Transfer #{req.pk} waits for your approval")
    assert f"/transfers/{req.pk}/" in msg.body
    assert req.payload_sha256 in msg.body
    assert smtp_inbox.to("carol@example.com") == []
    assert smtp_inbox.to("alice@example.com") == []  # never the requester


def test_requester_hears_approved_then_succeeded(
    smtp_inbox, pending, bob, executed, django_capture_on_commit_callbacks
):
    smtp_inbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        transfer_request_approve(request_id=pending.pk, approver=bob, stepup=stepup_data(bob), comment="go")
    smtp_inbox.wait_for("alice@example.com", f"Transfer #{pending.pk} approved")
    pending.refresh_from_db()
    _move(pending, Status.SUBMITTING, Status.SUCCEEDED, capture=django_capture_on_commit_callbacks)
    msg = smtp_inbox.wait_for("alice@example.com", f"Transfer #{pending.pk} succeeded")
    assert "25 USDT" in msg.subject
    assert smtp_inbox.to("bob@example.com") == []  # a success is the requester's news
    assert smtp_inbox.to("admin1@example.com") == []


def test_requester_hears_rejected_with_the_reason(
    smtp_inbox, pending, bob, django_capture_on_commit_callbacks
):
    smtp_inbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        transfer_request_reject(
            request_id=pending.pk, approver=bob, stepup=stepup_data(bob), comment="too big"
        )
    msg = smtp_inbox.wait_for("alice@example.com", f"Transfer #{pending.pk} rejected")
    assert "too big" in msg.body


def test_unknown_tells_the_requester_and_the_administrators_failed_tells_approvers_too(
    smtp_inbox, admins, pending, bob, executed, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        transfer_request_approve(request_id=pending.pk, approver=bob, stepup=stepup_data(bob))
    pending.refresh_from_db()
    smtp_inbox.clear()
    _move(pending, Status.SUBMITTING, Status.UNKNOWN, capture=django_capture_on_commit_callbacks)
    smtp_inbox.wait_for("alice@example.com", f"Transfer #{pending.pk} outcome unknown")
    for admin in ("admin1@example.com", "admin2@example.com"):
        smtp_inbox.wait_for(admin, f"Needs attention: transfer #{pending.pk} outcome unknown")
    _move(pending, Status.FAILED, capture=django_capture_on_commit_callbacks)
    failed = smtp_inbox.wait_for("alice@example.com", f"Transfer #{pending.pk} failed")
    assert "insufficient balance" in failed.body
    smtp_inbox.wait_for("bob@example.com", f"Transfer #{pending.pk} failed")  # the approver
    smtp_inbox.wait_for("admin2@example.com", f"Needs attention: transfer #{pending.pk} failed")
    # A second report of the same failure (reconcile and the transition both) sends nothing more.
    notifications.notify_request_status(request_id=pending.pk, status=Status.FAILED)
    assert len([s for s in smtp_inbox.subjects("alice@example.com") if "failed" in s]) == 1


def test_an_administrator_who_switched_attention_off_gets_none(
    smtp_inbox, admins, pending, bob, executed, django_capture_on_commit_callbacks
):
    _switch_off(admins[0], "email_attention")
    _switch_off(pending.requested_by, "email_my_requests")
    with django_capture_on_commit_callbacks(execute=True):
        transfer_request_approve(request_id=pending.pk, approver=bob, stepup=stepup_data(bob))
    pending.refresh_from_db()
    _move(pending, Status.SUBMITTING, Status.UNKNOWN, capture=django_capture_on_commit_callbacks)
    smtp_inbox.wait_for("admin2@example.com", "Needs attention")
    assert smtp_inbox.to("admin1@example.com") == []
    assert smtp_inbox.to("alice@example.com") == []  # approved and unknown: both switched off


def test_requester_hears_when_a_request_expires(
    smtp_inbox, alice, key_set, django_capture_on_commit_callbacks
):
    req = new_request(requester=alice, key_set=key_set)
    TransferRequest.objects.filter(pk=req.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert transfer_requests_expire() == 1
    msg = smtp_inbox.wait_for("alice@example.com", f"Transfer #{req.pk} expired")
    assert "nothing moved" in msg.body


def test_reminders_go_once_to_undecided_approvers_who_want_them(
    smtp_inbox, alice, bob, carol, key_set, settings, django_capture_on_commit_callbacks
):
    settings.TRANSFER_REMINDER_BEFORE_SECONDS = 3600
    dave = member("dave", "approver")
    grant(key_set, dave, approve=True)
    _switch_off(dave, "email_reminders")
    soon = new_request(requester=alice, key_set=key_set)
    later = new_request(requester=alice, key_set=key_set, amount="26")
    TransferRequest.objects.filter(pk=soon.pk).update(expires_at=timezone.now() + timedelta(minutes=30))
    TransferRequest.objects.filter(pk=later.pk).update(expires_at=timezone.now() + timedelta(hours=5))
    smtp_inbox.clear()
    assert notifications.reminders_send() == 1
    for who in ("bob@example.com", "carol@example.com"):
        msg = smtp_inbox.wait_for(who, f"Reminder: transfer #{soon.pk} expires soon")
        assert f"/transfers/{soon.pk}/" in msg.body
    assert smtp_inbox.to("dave@example.com") == []
    assert smtp_inbox.to("alice@example.com") == []
    assert not any(f"#{later.pk}" in m.subject for m in smtp_inbox.messages)
    assert notifications.reminders_send() == 0  # once per request
    assert len(smtp_inbox.to("bob@example.com")) == 1


def test_a_proposal_waits_for_a_second_administrator_emailed_and_listed(
    smtp_inbox, admins, bob, django_capture_on_commit_callbacks
):
    admin1, admin2 = admins
    with django_capture_on_commit_callbacks(execute=True):
        entry = recipient_request(actor=admin1, label="Partner desk", recipient_type=1, account="10000009")
    msg = smtp_inbox.wait_for("admin2@example.com", "An address-book entry awaits a second administrator")
    assert "Partner desk" in msg.body
    assert "admin1" in msg.body
    assert smtp_inbox.to("admin1@example.com") == []  # not the proposer
    assert smtp_inbox.to("bob@example.com") == []  # not a non-administrator
    client = Client()
    client.force_login(admin2)
    page = client.get("/").content.decode()
    assert 'id="second-admin-waiting"' in page
    assert "Waiting for a second administrator (1)" in page
    assert "Partner desk" in page
    client.force_login(admin1)  # the proposer cannot decide it: not listed for them
    assert "Waiting for a second administrator (0)" in client.get("/").content.decode()
    assert entry.status == "pending"


def test_approvals_counter_in_the_menu_and_failed_unknown_need_attention(
    alice, bob, carol, key_set, executed, django_capture_on_commit_callbacks, django_assert_max_num_queries
):
    first = new_request(requester=alice, key_set=key_set)
    new_request(requester=alice, key_set=key_set, amount="26")
    client = Client()
    client.force_login(bob)
    assert "Approvals (2)</a>" in client.get("/transfers/queue/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        transfer_request_approve(request_id=first.pk, approver=bob, stepup=stepup_data(bob))
    first.refresh_from_db()
    assert "Approvals (1)</a>" in client.get("/account/preferences/").content.decode()
    _move(first, Status.SUBMITTING, Status.UNKNOWN, capture=django_capture_on_commit_callbacks)
    client.force_login(alice)
    page = client.get("/").content.decode()
    attention = page.split('id="attention"')[1].split("</section>")[0]
    assert f"#{first.pk}</a>" in attention
    assert "Approvals</a>" in page  # alice may decide nothing of her own: no counter


def test_stale_is_emailed_once_whichever_path_reports_it(
    smtp_inbox, alice, bob, key_set, django_capture_on_commit_callbacks
):
    from transfers.services.requests import requests_mark_stale

    req = new_request(requester=alice, key_set=key_set)
    with django_capture_on_commit_callbacks(execute=True):
        assert (
            requests_mark_stale(
                requests=TransferRequest.objects.filter(pk=req.pk),
                actor=None,
                reason="The key set's secret was replaced.",
            )
            == 1
        )
    msg = smtp_inbox.wait_for("alice@example.com", f"Transfer #{req.pk} went stale")
    assert "secret was replaced" in msg.body
    time.sleep(0.3)  # both paths have run: still one message
    assert len([s for s in smtp_inbox.subjects("alice@example.com") if "stale" in s]) == 1


def test_a_request_found_expired_when_someone_decides_is_emailed_as_expired(
    smtp_inbox, alice, bob, key_set, django_capture_on_commit_callbacks
):
    from transfers.refusals import DecisionRefused

    req = new_request(requester=alice, key_set=key_set)
    TransferRequest.objects.filter(pk=req.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(DecisionRefused):
        transfer_request_approve(request_id=req.pk, approver=bob, stepup=stepup_data(bob))
    smtp_inbox.wait_for("alice@example.com", f"Transfer #{req.pk} expired")


def test_a_batch_is_one_email_per_step_never_one_per_leg(
    smtp_inbox, admins, alice, bob, key_set, executed, django_capture_on_commit_callbacks
):
    """A 4-leg batch: the requester hears "approved" once, then one summary when the last leg has
    ended (with the approver, since a leg failed); administrators one "needs attention" for the
    batch, whatever the number of failed legs."""
    from transfers.batch_csv import legs_from_csv
    from transfers.services.batch_decisions import transfer_batch_approve
    from transfers.services.batches import transfer_batch_create

    legs, errors = legs_from_csv(
        "kind,key_set,asset,amount,from_wallet,to_wallet\n"
        + "".join(f"wallet,{key_set.label},USDT,{n + 1},fund,spot\n" for n in range(4))
    )
    assert errors == []
    with django_capture_on_commit_callbacks(execute=True):
        batch = transfer_batch_create(requester=alice, legs=legs)
    with django_capture_on_commit_callbacks(execute=True):
        transfer_batch_approve(batch_id=batch.pk, approver=bob, stepup=stepup_data(bob))
    smtp_inbox.wait_for("alice@example.com", f"Batch #{batch.pk} approved")
    smtp_inbox.clear()
    outcomes = [Status.SUCCEEDED, Status.FAILED, Status.FAILED, Status.SUCCEEDED]
    for leg, outcome in zip(batch.legs.order_by("leg_index"), outcomes, strict=True):
        _move(leg, Status.SUBMITTING, outcome, capture=django_capture_on_commit_callbacks)
    summary = smtp_inbox.wait_for(
        "alice@example.com", f"Batch #{batch.pk} finished: 2 of 4 legs moved, 2 failed"
    )
    assert "new batch from the failed legs" in summary.body
    smtp_inbox.wait_for("bob@example.com", f"Batch #{batch.pk} finished")  # a leg failed: the approver too
    smtp_inbox.wait_for("admin1@example.com", f"Needs attention: batch #{batch.pk} has failed legs")
    time.sleep(0.3)  # anything else would have arrived by now
    assert len(smtp_inbox.to("alice@example.com")) == 1  # not one per leg
    assert len(smtp_inbox.to("admin1@example.com")) == 1


def test_a_rejected_batch_is_one_email_to_its_requester(
    smtp_inbox, alice, bob, key_set, django_capture_on_commit_callbacks
):
    from transfers.batch_csv import legs_from_csv
    from transfers.services.batch_decisions import transfer_batch_reject
    from transfers.services.batches import transfer_batch_create

    legs, _ = legs_from_csv(
        "kind,key_set,asset,amount,from_wallet,to_wallet\n"
        + "".join(f"wallet,{key_set.label},USDT,{n + 1},fund,spot\n" for n in range(3))
    )
    with django_capture_on_commit_callbacks(execute=True):
        batch = transfer_batch_create(requester=alice, legs=legs)
    with django_capture_on_commit_callbacks(execute=True):
        transfer_batch_reject(
            batch_id=batch.pk, approver=bob, stepup=stepup_data(bob), comment="not this week"
        )
    msg = smtp_inbox.wait_for("alice@example.com", f"Batch #{batch.pk} rejected")
    assert "Nothing moved" in msg.body
    time.sleep(0.3)
    assert len(smtp_inbox.to("alice@example.com")) == 1  # not one per leg


def test_times_in_an_email_are_in_each_recipients_own_zone(
    smtp_inbox, alice, bob, carol, key_set, django_capture_on_commit_callbacks
):
    from accounts.formatting import when_text
    from accounts.time_zone import zone_named

    PersonPreferences.objects.update_or_create(user=bob, defaults={"time_zone": "Asia/Tokyo"})
    with django_capture_on_commit_callbacks(execute=True):
        req = new_request(requester=alice, key_set=key_set)
    with timezone.override(zone_named("Asia/Tokyo")):
        in_tokyo = when_text(req.expires_at, seconds=False)
    with timezone.override(zone_named("UTC")):
        in_utc = when_text(req.expires_at, seconds=False)
    assert in_tokyo != in_utc
    assert in_tokyo in smtp_inbox.wait_for("bob@example.com", f"Transfer #{req.pk} waits").body
    assert in_utc in smtp_inbox.wait_for("carol@example.com", f"Transfer #{req.pk} waits").body
