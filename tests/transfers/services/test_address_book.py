"""The address book: one administrator requests an entry, a second approves; removal stales its requests."""

import pytest

from accounts.access import AccessDenied
from accounts.models import AuditEvent
from tests.stepup_support import stepup_data
from tests.transfers.workflow_support import EXTERNAL_UID, inner_fields, member, new_request
from transfers.models import RecipientStatus, Status
from transfers.recipients import RecipientRefused
from transfers.services.address_book import (
    recipient_approve,
    recipient_reject,
    recipient_remove,
    recipient_request,
)


def test_request_then_second_admin_approves(admin1, admin2):
    entry = recipient_request(actor=admin1, label="Partner", recipient_type=1, account=f" {EXTERNAL_UID} ")
    assert (entry.status, entry.account) == (RecipientStatus.PENDING, str(EXTERNAL_UID))
    with pytest.raises(RecipientRefused, match="second administrator"):
        recipient_approve(actor=admin1, stepup=stepup_data(admin1), recipient_id=entry.pk)
    entry = recipient_approve(actor=admin2, stepup=stepup_data(admin2), recipient_id=entry.pk)
    assert entry.status == RecipientStatus.ACTIVE
    assert entry.decided_by == admin2
    assert list(
        AuditEvent.objects.filter(object_type="transfers.allowedrecipient")
        .values_list("verb", flat=True)
        .order_by("seq")
    ) == [
        "recipient.request",
        "recipient.approve",
    ]


def test_only_administrators_manage_the_address_book(alice, admin1):
    with pytest.raises(AccessDenied):
        recipient_request(actor=alice, label="x", recipient_type=1, account="1")
    entry = recipient_request(actor=admin1, label="x", recipient_type=1, account="1")
    with pytest.raises(AccessDenied):
        recipient_approve(actor=alice, stepup=stepup_data(alice), recipient_id=entry.pk)


@pytest.mark.parametrize(
    ("rtype", "account", "calling", "match"),
    [
        (1, "12a", "", "digits only"),
        (3, "nope", "", "valid email"),
        (2, "5550100001", "", "calling code"),
        (2, "12", "1", "digits only"),
        (9, "1", "", "UID, a phone"),
        (1, "", "", "Enter the recipient"),
    ],
)
def test_bad_formats_are_refused(admin1, rtype, account, calling, match):
    with pytest.raises(RecipientRefused, match=match):
        recipient_request(
            actor=admin1, label="x", recipient_type=rtype, account=account, calling_code=calling
        )


def test_duplicates_are_refused_and_rejected_entries_can_be_requested_again(admin1, admin2):
    entry = recipient_request(actor=admin1, label="a", recipient_type=3, account="X@Example.com")
    with pytest.raises(RecipientRefused, match="already"):
        recipient_request(actor=admin2, label="b", recipient_type=3, account="x@example.com")
    recipient_reject(actor=admin2, stepup=stepup_data(admin2), recipient_id=entry.pk)
    again = recipient_request(actor=admin2, label="b", recipient_type=3, account="x@example.com")
    assert again.pk == entry.pk
    assert again.status == RecipientStatus.PENDING
    assert again.requested_by == admin2


def test_decided_entries_cannot_be_decided_again(admin1, admin2):
    entry = recipient_request(actor=admin1, label="a", recipient_type=1, account="5")
    recipient_approve(actor=admin2, stepup=stepup_data(admin2), recipient_id=entry.pk)
    with pytest.raises(RecipientRefused, match="not waiting"):
        recipient_reject(actor=admin2, stepup=stepup_data(admin2), recipient_id=entry.pk)


def test_removal_stales_pending_requests_to_that_recipient(admin1, admin2, alice, key_set):
    entry = recipient_request(actor=admin1, label="Partner", recipient_type=1, account=str(EXTERNAL_UID))
    recipient_approve(actor=admin2, stepup=stepup_data(admin2), recipient_id=entry.pk)
    req = new_request(requester=alice, key_set=key_set, fields=inner_fields(EXTERNAL_UID))
    assert req.recipient == entry
    recipient_remove(actor=admin1, recipient_id=entry.pk, stepup=stepup_data(admin1))
    req.refresh_from_db()
    assert req.status == Status.STALE
    from transfers.refusals import RequestRefused

    with pytest.raises(RequestRefused, match="address book"):
        new_request(requester=alice, key_set=key_set, fields=inner_fields(EXTERNAL_UID))


def test_superuser_counts_as_administrator_but_still_needs_a_second(admin1):
    root = member("root", is_superuser=True)
    entry = recipient_request(actor=root, label="r", recipient_type=1, account="77")
    with pytest.raises(RecipientRefused):
        recipient_approve(actor=root, stepup=stepup_data(root), recipient_id=entry.pk)
    assert (
        recipient_approve(actor=admin1, stepup=stepup_data(admin1), recipient_id=entry.pk).status
        == RecipientStatus.ACTIVE
    )
