"""An own account means own: the UIDs of ACTIVE key sets on the same exchange as the paying key set
and the sub-accounts discovered from the paying master. A UID that a pending key set (or its server)
claims is never a recipient without an address-book entry."""

from __future__ import annotations

import pytest
from django.test import Client as WebClient
from django.urls import reverse

from accounts.models import AccountKind, ApiKeySet, Environment, KeySetStatus, SubAccount, User
from accounts.services.key_sets import key_set_activate, key_set_create
from accounts.services.verification import key_set_verify
from tests.factories import ApiKeySetFactory, KeySetGrantFactory
from tests.stepup_support import stepup_data
from tests.transfers.execution_support import Sandbox, demo_key
from tests.transfers.workflow_support import (
    EXTERNAL_UID,
    SUB1_UID,
    SUB2_UID,
    inner_fields,
    member,
    new_request,
)
from transfers.models import Status, TransferRequest
from transfers.recipients import own_uid_known, own_uid_label, own_uids
from transfers.refusals import RequestRefused

pytestmark = pytest.mark.django_db

NOT_OWN = "not one of the team's own accounts"


def request_to(*, alice: User, key_set: ApiKeySet, uid: int) -> TransferRequest:
    return new_request(requester=alice, key_set=key_set, fields=inner_fields(uid))


def test_a_verified_but_pending_key_sets_uid_is_not_a_recipient(
    alice: User, key_set: ApiKeySet, sandbox: Sandbox, limiter_dir: object
):
    admin1 = member("admin1", "administrator")
    admin2 = member("admin2", "administrator")
    api_key, secret = demo_key(EXTERNAL_UID)
    claimed = key_set_create(
        actor=admin1,
        label="Claims to be ours",
        api_key=api_key,
        secret=secret,
        environment=Environment.SANDBOX,
        base_url=sandbox.base_url,
    )
    report = key_set_verify(key_set_id=claimed.pk, actor=admin1)  # over HTTP: the key's UID is read
    assert report["uid"] == EXTERNAL_UID
    claimed.refresh_from_db()
    assert claimed.status == KeySetStatus.PENDING_ACTIVATION

    with pytest.raises(RequestRefused, match=NOT_OWN):
        request_to(alice=alice, key_set=key_set, uid=EXTERNAL_UID)
    assert EXTERNAL_UID not in own_uids(key_set=key_set)
    # ... nor offered as a suggestion on the request page, even to someone who may see that key set.
    KeySetGrantFactory(key_set=claimed, user=alice, can_view=True)
    web = WebClient()
    web.force_login(alice)
    page = web.get(reverse("transfers:request_new") + "?kind=inner").content.decode()
    assert str(SUB1_UID) in page  # the family is offered
    assert str(EXTERNAL_UID) not in page

    # The second administrator vouches for it: from now on its UID is ours.
    key_set_activate(actor=admin2, stepup=stepup_data(admin2), key_set_id=claimed.pk)
    assert request_to(alice=alice, key_set=key_set, uid=EXTERNAL_UID).status == Status.PENDING


def test_an_active_key_set_on_the_other_exchange_is_not_a_recipient(alice: User, key_set: ApiKeySet):
    ApiKeySetFactory(
        label="Real BingX account",
        environment=Environment.BINGX,
        base_url="https://open-api.bingx.com",
        uid=EXTERNAL_UID,
    )
    with pytest.raises(RequestRefused, match=NOT_OWN):
        request_to(alice=alice, key_set=key_set, uid=EXTERNAL_UID)


def test_an_active_key_set_on_the_same_exchange_is_a_recipient(alice: User, key_set: ApiKeySet):
    ApiKeySetFactory(label="Other sandbox main", uid=EXTERNAL_UID)
    assert request_to(alice=alice, key_set=key_set, uid=EXTERNAL_UID).status == Status.PENDING


def test_an_inactive_key_set_is_not_a_recipient(alice: User, key_set: ApiKeySet):
    ApiKeySetFactory(label="Retired main", uid=EXTERNAL_UID, status=KeySetStatus.INACTIVE)
    with pytest.raises(RequestRefused, match=NOT_OWN):
        request_to(alice=alice, key_set=key_set, uid=EXTERNAL_UID)


def test_sub_accounts_discovered_from_the_paying_master_are_recipients(alice: User, key_set: ApiKeySet):
    assert request_to(alice=alice, key_set=key_set, uid=SUB2_UID).status == Status.PENDING


def test_sub_accounts_discovered_from_another_master_are_not(alice: User, key_set: ApiKeySet):
    other = ApiKeySetFactory(label="Other main", uid=10000020)
    SubAccount.objects.create(main_key_set=other, sub_uid=10000021, name="theirs")
    with pytest.raises(RequestRefused, match=NOT_OWN):
        request_to(alice=alice, key_set=key_set, uid=10000021)


def test_a_pending_master_vouches_for_nothing_for_its_sub_key_set(
    alice: User, key_set: ApiKeySet, sub_key_set: ApiKeySet
):
    assert sub_key_set.account_kind == AccountKind.SUB
    assert SUB2_UID in own_uids(key_set=sub_key_set)
    ApiKeySet.objects.filter(pk=key_set.pk).update(status=KeySetStatus.PENDING_ACTIVATION)
    sub_key_set.refresh_from_db()
    assert SUB2_UID not in own_uids(key_set=sub_key_set)
    assert int(key_set.uid or 0) not in own_uids(key_set=sub_key_set)


def test_one_uid_lookup_agrees_with_the_whole_list(alice: User, key_set: ApiKeySet, sub_key_set: ApiKeySet):
    """Execution re-checks one recipient with `own_uid_known` (and pages label it with `own_uid_label`)
    instead of building every own UID; for every UID of every kind both answer what the whole list says."""
    ApiKeySetFactory(label="Other sandbox main", uid=EXTERNAL_UID)
    other = ApiKeySetFactory(label="Other main", uid=10000020)
    SubAccount.objects.create(main_key_set=other, sub_uid=10000021, name="theirs")
    ApiKeySetFactory(label="Retired main", uid=10000030, status=KeySetStatus.INACTIVE)
    ApiKeySetFactory(
        label="Real BingX account",
        environment=Environment.BINGX,
        base_url="https://open-api.bingx.com",
        uid=10000040,
    )
    uids = {int(key_set.uid or 0), int(sub_key_set.uid or 0), SUB1_UID, SUB2_UID, EXTERNAL_UID}
    uids |= {10000020, 10000021, 10000030, 10000040, 99999999}
    for paying in (key_set, sub_key_set, other):
        paying.refresh_from_db()
        whole = own_uids(key_set=paying)
        for uid in sorted(uids):
            assert own_uid_label(key_set=paying, uid=uid) == whole.get(uid), (paying.label, uid)
            assert own_uid_known(key_set=paying, uid=uid) == (uid in whole), (paying.label, uid)
    assert own_uid_label(key_set=key_set, uid=10000021) is None  # another master's sub-account
    assert own_uid_label(key_set=key_set, uid=10000040) is None  # the other exchange
