"""`users_holding` (one query for every approver's grant, as execution re-checks them) answers what
`user_can` answers for each user: direct grants, grants through a group, deactivated people, grants on
another key set or for another capability."""

from __future__ import annotations

import pytest

from accounts.access import Capability, user_can, users_holding
from tests.factories import ApiKeySetFactory, GroupFactory, KeySetGrantFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_users_holding_matches_user_can_for_each_person() -> None:
    key_set, other_key_set = ApiKeySetFactory.create(), ApiKeySetFactory.create()
    direct, via_group, deactivated, elsewhere, viewer, nobody = (UserFactory.create() for _ in range(6))
    KeySetGrantFactory.create(key_set=key_set, user=direct, can_approve=True)
    approvers = GroupFactory.create(name="approvers")
    via_group.groups.add(approvers)
    KeySetGrantFactory.create(key_set=key_set, group=approvers, can_approve=True)
    KeySetGrantFactory.create(key_set=key_set, user=deactivated, can_approve=True)
    deactivated.is_active = False
    deactivated.save()
    KeySetGrantFactory.create(key_set=other_key_set, user=elsewhere, can_approve=True)
    KeySetGrantFactory.create(key_set=key_set, user=viewer, can_view=True, can_approve=False)
    people = [direct, via_group, deactivated, elsewhere, viewer, nobody]

    holders = users_holding(user_ids=[p.pk for p in people], key_set=key_set, capability=Capability.APPROVE)

    assert holders == {direct.pk, via_group.pk}
    assert holders == {
        p.pk for p in people if user_can(user=p, key_set=key_set, capability=Capability.APPROVE)
    }
    assert users_holding(user_ids=[], key_set=key_set, capability=Capability.APPROVE) == set()
    assert users_holding(user_ids=[viewer.pk], key_set=key_set, capability=Capability.VIEW) == {viewer.pk}
