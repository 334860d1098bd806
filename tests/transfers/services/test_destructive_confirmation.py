"""Every destructive action is confirmed with the administrator's second factor; without it nothing
changes (issue 13, part 4). A key set whose verification failed cannot be activated."""

from __future__ import annotations

import pytest

from accounts.models import ApiKeySet, AuditEvent, KeySetGrant, KeySetStatus
from accounts.services.key_sets import KeySetRefused, key_set_activate, key_set_deactivate
from accounts.services.people import PeopleChangeRefused, people_grant_revoke
from tests.factories import ApiKeySetFactory, KeySetGrantFactory
from tests.stepup_support import stepup_data
from tests.transfers.workflow_support import EXTERNAL_UID, member
from transfers.models import RecipientStatus
from transfers.recipients import RecipientRefused
from transfers.services.address_book import recipient_approve, recipient_remove, recipient_request

pytestmark = pytest.mark.django_db

NO_CODE: list[dict[str, str]] = [{}, {"stepup_code": ""}, {"stepup_code": "000000"}]


@pytest.mark.parametrize("stepup", NO_CODE)
def test_deactivating_a_key_set_needs_the_step_up(admin1, key_set, stepup):
    stepup_data(admin1)  # enrolled: the refusal is about the code
    with pytest.raises(KeySetRefused, match="Nothing was changed"):
        key_set_deactivate(actor=admin1, key_set_id=key_set.pk, stepup=stepup)
    key_set.refresh_from_db()
    assert key_set.status == KeySetStatus.ACTIVE
    assert not AuditEvent.objects.filter(verb="keyset.deactivate").exists()
    key_set_deactivate(actor=admin1, key_set_id=key_set.pk, stepup=stepup_data(admin1))
    key_set.refresh_from_db()
    assert key_set.status == KeySetStatus.INACTIVE


@pytest.mark.parametrize("stepup", NO_CODE)
def test_revoking_a_grant_needs_the_step_up(admin1, key_set, stepup):
    viewer = member("vera", "viewer")
    grant = KeySetGrantFactory(key_set=key_set, user=viewer, can_view=True)
    stepup_data(admin1)
    with pytest.raises(PeopleChangeRefused, match="Nothing was changed"):
        people_grant_revoke(actor=admin1, key_set_id=key_set.pk, grant_id=grant.pk, stepup=stepup)
    assert KeySetGrant.objects.filter(pk=grant.pk).exists()
    people_grant_revoke(actor=admin1, key_set_id=key_set.pk, grant_id=grant.pk, stepup=stepup_data(admin1))
    assert not KeySetGrant.objects.filter(pk=grant.pk).exists()


@pytest.mark.parametrize("stepup", NO_CODE)
def test_removing_an_address_book_entry_needs_the_step_up(admin1, admin2, stepup):
    entry = recipient_request(actor=admin1, label="Partner", recipient_type=1, account=str(EXTERNAL_UID))
    entry = recipient_approve(actor=admin2, stepup=stepup_data(admin2), recipient_id=entry.pk)
    with pytest.raises(RecipientRefused, match="Nothing was changed"):
        recipient_remove(actor=admin2, recipient_id=entry.pk, stepup=stepup)
    entry.refresh_from_db()
    assert entry.status == RecipientStatus.ACTIVE
    recipient_remove(actor=admin1, recipient_id=entry.pk, stepup=stepup_data(admin1))
    entry.refresh_from_db()
    assert entry.status == RecipientStatus.REMOVED


def test_a_key_set_whose_verification_failed_cannot_be_activated(admin1, admin2):
    ks: ApiKeySet = ApiKeySetFactory(
        label="Bad key",
        status=KeySetStatus.PENDING_ACTIVATION,
        created_by=admin1,
        secret_changed_by=admin1,
        verification={"ok": False, "error": "wrong key or secret", "error_kind": "auth"},
    )
    code = stepup_data(admin2)
    with pytest.raises(
        KeySetRefused, match=r"verification failed \(wrong key or secret\); it cannot be activated"
    ):
        key_set_activate(actor=admin2, key_set_id=ks.pk, stepup=code)
    ks.refresh_from_db()
    assert ks.status == KeySetStatus.PENDING_ACTIVATION
    # the refusal came before the code: it still works once the key verifies
    ApiKeySet.objects.filter(pk=ks.pk).update(verification={"ok": True, "uid": 1})
    key_set_activate(actor=admin2, key_set_id=ks.pk, stepup=code)
    ks.refresh_from_db()
    assert ks.status == KeySetStatus.ACTIVE
