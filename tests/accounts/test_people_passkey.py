"""A passkey decision on a people change signs that change and that decision: its challenge is
derived from the change's id and the decision, so it cannot be replayed on another change or turned
into the opposite decision."""

from __future__ import annotations

import pytest

from accounts.models import PeopleChangeKind, PeopleChangeStatus, User
from accounts.services.people import (
    PURPOSE_APPROVE,
    PeopleChangeRefused,
    people_change_approve,
    people_change_propose,
    people_change_reject,
)
from accounts.stepup import ASSERTION_FIELD, stepup_binding, stepup_challenge_bytes
from tests.factories import UserFactory
from tests.passkey_support import SoftPasskey

pytestmark = pytest.mark.django_db


def test_a_passkey_approves_only_the_change_it_signed(admin1: User, admin2: User) -> None:
    carol, dave = UserFactory(username="carol"), UserFactory(username="dave")
    first = people_change_propose(
        actor=admin1, kind=PeopleChangeKind.ROLE_ADD, values={"user_id": carol.pk, "role": "viewer"}
    )
    second = people_change_propose(
        actor=admin1, kind=PeopleChangeKind.ROLE_ADD, values={"user_id": dave.pk, "role": "viewer"}
    )
    passkey = SoftPasskey(user=admin2)
    challenge = stepup_challenge_bytes(
        user=admin2,
        purpose=PURPOSE_APPROVE,
        binding=stepup_binding(subject="people-change", object_id=first.pk, decision="approve"),
    )
    signed_first = {ASSERTION_FIELD: passkey.assertion_json(challenge=challenge)}

    with pytest.raises(PeopleChangeRefused, match="signed a different decision"):
        people_change_approve(actor=admin2, change_id=second.pk, stepup=signed_first)
    with pytest.raises(PeopleChangeRefused, match="signed a different decision"):
        people_change_reject(actor=admin2, change_id=first.pk, stepup=signed_first)
    second.refresh_from_db()
    assert second.status == PeopleChangeStatus.PENDING
    assert not dave.groups.exists()

    people_change_approve(actor=admin2, change_id=first.pk, stepup=signed_first)
    first.refresh_from_db()
    assert first.status == PeopleChangeStatus.APPLIED
    assert list(carol.groups.values_list("name", flat=True)) == ["viewer"]
