"""People changes under four eyes (accounts.services.people): each kind is applied only when a different
administrator approves with a second factor; removals apply at once; bad input changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.core import mail
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.access import AccessDenied
from accounts.models import AuditEvent, KeySetGrant, PeopleChange, PeopleChangeKind, PeopleChangeStatus, User
from accounts.services.people import (
    PeopleChangeRefused,
    people_change_approve,
    people_change_cancel,
    people_change_propose,
    people_change_reject,
)
from tests.factories import KeySetGrantFactory, UserFactory
from tests.stepup_support import mfa_enrol_totp_for_tests, stepup_data

pytestmark = pytest.mark.django_db
Kind = PeopleChangeKind


@pytest.fixture
def admin3(db: None) -> User:
    user = UserFactory(username="admin3")
    user.groups.add(Group.objects.get(name="administrator"))
    return user


def _approve(change: PeopleChange, by: User) -> PeopleChange:
    return people_change_approve(actor=by, change_id=change.pk, stepup=stepup_data(by))


# Each four-eyes kind: (kind, values for the proposal, "is it applied?") — built from the fixtures.
def _four_eyes_cases(viewer: User, key_set: Any) -> dict[str, tuple[str, dict[str, Any], Callable[[], bool]]]:
    def reload() -> User:
        return User.objects.get(pk=viewer.pk)

    return {
        "create a user": (
            Kind.USER_CREATE,
            {"username": "carol", "email": "carol@example.com"},
            lambda: User.objects.filter(username="carol").exists(),
        ),
        "add a role": (
            Kind.ROLE_ADD,
            {"user_id": viewer.pk, "role": "approver"},
            lambda: reload().groups.filter(name="approver").exists(),
        ),
        "grant approve": (
            Kind.GRANT_SET,
            {"user_id": viewer.pk, "key_set_id": key_set.pk, "view": True, "approve": True},
            lambda: KeySetGrant.objects.filter(key_set=key_set, user=viewer, can_approve=True).exists(),
        ),
        "reactivate": (Kind.USER_REACTIVATE, {"user_id": viewer.pk}, lambda: reload().is_active),
        "reset a password": (
            Kind.PASSWORD_RESET,
            {"user_id": viewer.pk},
            lambda: not reload().has_usable_password(),
        ),
        "reset a second factor": (
            Kind.SECOND_FACTOR_RESET,
            {"user_id": viewer.pk},
            lambda: not TOTPDevice.objects.filter(user=viewer).exists(),
        ),
    }


FOUR_EYES = [
    "create a user",
    "add a role",
    "grant approve",
    "reactivate",
    "reset a password",
    "reset a second factor",
]


@pytest.mark.parametrize("case", FOUR_EYES)
def test_each_change_applies_only_when_a_different_administrator_approves(
    case, admin1, admin2, viewer, key_set
):
    kind, values, applied = _four_eyes_cases(viewer, key_set)[case]
    if kind == Kind.USER_REACTIVATE:
        User.objects.filter(pk=viewer.pk).update(is_active=False)
    if kind == Kind.SECOND_FACTOR_RESET:
        mfa_enrol_totp_for_tests(viewer)
    change = people_change_propose(actor=admin1, kind=kind, values=values)
    assert change.status == PeopleChangeStatus.PENDING
    assert not applied()
    with pytest.raises(PeopleChangeRefused, match="second administrator"):
        _approve(change, admin1)
    assert not applied()
    _approve(change, admin2)
    change.refresh_from_db()
    assert change.status == PeopleChangeStatus.APPLIED
    assert change.decided_by == admin2
    assert applied()
    verbs = list(AuditEvent.objects.filter(object_id=str(change.pk)).values_list("verb", flat=True))
    assert "people.propose" in verbs
    assert "people.approve" in verbs


@pytest.mark.parametrize("case", ["add a role", "grant approve", "reset a password"])
def test_nobody_decides_a_change_to_themselves(case, admin1, admin2, admin3, key_set):
    kind, values, applied = _four_eyes_cases(admin2, key_set)[case]
    change = people_change_propose(actor=admin1, kind=kind, values=values)
    with pytest.raises(PeopleChangeRefused, match="own account"):
        _approve(change, admin2)
    with pytest.raises(PeopleChangeRefused, match="own account"):
        people_change_reject(actor=admin2, change_id=change.pk, stepup=stepup_data(admin2))
    assert not applied()
    _approve(change, admin3)
    assert applied()


def test_a_change_to_a_group_is_not_decided_by_its_members(admin1, admin2, key_set):
    group = Group.objects.get(name="administrator")
    change = people_change_propose(
        actor=admin1,
        kind=Kind.GRANT_SET,
        values={"group": group.name, "key_set_id": key_set.pk, "view": True, "approve": True},
    )
    with pytest.raises(PeopleChangeRefused, match="group administrator"):
        _approve(change, admin2)
    assert not KeySetGrant.objects.filter(group=group).exists()


def test_a_non_administrator_cannot_propose_or_decide(admin1, approver, viewer):
    with pytest.raises(AccessDenied):
        people_change_propose(
            actor=approver, kind=Kind.ROLE_ADD, values={"user_id": viewer.pk, "role": "approver"}
        )
    change = people_change_propose(
        actor=admin1, kind=Kind.ROLE_ADD, values={"user_id": viewer.pk, "role": "approver"}
    )
    with pytest.raises(AccessDenied):
        _approve(change, approver)
    assert not viewer.groups.filter(name="approver").exists()


def test_the_decision_needs_the_second_factor(admin1, admin2, viewer):
    change = people_change_propose(
        actor=admin1, kind=Kind.ROLE_ADD, values={"user_id": viewer.pk, "role": "approver"}
    )
    mfa_enrol_totp_for_tests(admin2)
    for data in ({}, {"stepup_code": "000000"}):
        with pytest.raises(PeopleChangeRefused) as refused:
            people_change_approve(actor=admin2, change_id=change.pk, stepup=data)
        assert refused.value.code == "stepup"
    change.refresh_from_db()
    assert change.status == PeopleChangeStatus.PENDING
    assert not viewer.groups.filter(name="approver").exists()
    assert AuditEvent.objects.filter(verb="auth.step_up_failed", actor=admin2).exists()


def test_a_refused_decision_spends_no_second_factor(admin1, viewer):
    change = people_change_propose(
        actor=admin1, kind=Kind.ROLE_ADD, values={"user_id": viewer.pk, "role": "approver"}
    )
    with pytest.raises(PeopleChangeRefused, match="second administrator"):
        people_change_approve(actor=admin1, change_id=change.pk, stepup={"stepup_code": "000000"})
    assert not AuditEvent.objects.filter(verb="auth.step_up_failed").exists()


def test_reject_and_cancel(admin1, admin2, viewer):
    values = {"user_id": viewer.pk, "role": "approver"}
    first = people_change_propose(actor=admin1, kind=Kind.ROLE_ADD, values=values)
    with pytest.raises(PeopleChangeRefused, match="cancel it instead"):
        people_change_reject(actor=admin1, change_id=first.pk, stepup=stepup_data(admin1))
    people_change_reject(actor=admin2, change_id=first.pk, stepup=stepup_data(admin2))
    first.refresh_from_db()
    assert first.status == PeopleChangeStatus.REJECTED
    second = people_change_propose(actor=admin1, kind=Kind.ROLE_ADD, values=values)
    with pytest.raises(PeopleChangeRefused, match="Only the administrator who proposed"):
        people_change_cancel(actor=admin2, change_id=second.pk)
    people_change_cancel(actor=admin1, change_id=second.pk)
    second.refresh_from_db()
    assert second.status == PeopleChangeStatus.CANCELLED
    with pytest.raises(PeopleChangeRefused, match="not waiting for a decision"):
        _approve(second, admin2)
    assert not viewer.groups.filter(name="approver").exists()


def test_the_same_change_cannot_wait_twice(admin1, viewer):
    values = {"user_id": viewer.pk, "role": "approver"}
    people_change_propose(actor=admin1, kind=Kind.ROLE_ADD, values=values)
    with pytest.raises(PeopleChangeRefused, match="already waiting"):
        people_change_propose(actor=admin1, kind=Kind.ROLE_ADD, values=values)


# --- removals take effect at once ------------------------------------------------------------------


def test_revoking_a_grant_applies_at_once_and_is_recorded_as_applied(admin1, viewer, key_set):
    grant = KeySetGrantFactory(key_set=key_set, user=viewer, can_view=True, can_approve=True)
    change = people_change_propose(actor=admin1, kind=Kind.GRANT_REVOKE, values={"grant_id": grant.pk})
    assert change.status == PeopleChangeStatus.APPLIED
    assert change.decided_by == admin1
    assert not KeySetGrant.objects.filter(pk=grant.pk).exists()
    verbs = set(AuditEvent.objects.values_list("verb", flat=True))
    assert {"people.remove", "grant.revoke"} <= verbs


def test_narrowing_a_grant_applies_at_once_widening_waits(admin1, viewer, key_set):
    grant = KeySetGrantFactory(key_set=key_set, user=viewer, can_view=True, can_request=True)
    narrowed = people_change_propose(
        actor=admin1,
        kind=Kind.GRANT_SET,
        values={"user_id": viewer.pk, "key_set_id": key_set.pk, "view": True},
    )
    assert narrowed.status == PeopleChangeStatus.APPLIED
    grant.refresh_from_db()
    assert (grant.can_view, grant.can_request) == (True, False)
    widened = people_change_propose(
        actor=admin1,
        kind=Kind.GRANT_SET,
        values={"user_id": viewer.pk, "key_set_id": key_set.pk, "view": True, "approve": True},
    )
    assert widened.status == PeopleChangeStatus.PENDING
    grant.refresh_from_db()
    assert not grant.can_approve


def test_removing_a_role_applies_at_once(admin1, approver):
    change = people_change_propose(
        actor=admin1, kind=Kind.ROLE_REMOVE, values={"user_id": approver.pk, "role": "approver"}
    )
    assert change.status == PeopleChangeStatus.APPLIED
    assert not approver.groups.filter(name="approver").exists()
    assert AuditEvent.objects.filter(verb="people.remove", object_id=str(change.pk)).exists()


def test_deactivating_applies_at_once_and_cancels_their_proposals(admin1, admin2, admin3, viewer):
    theirs = people_change_propose(
        actor=admin3, kind=Kind.ROLE_ADD, values={"user_id": viewer.pk, "role": "approver"}
    )
    change = people_change_propose(actor=admin1, kind=Kind.USER_DEACTIVATE, values={"user_id": admin3.pk})
    assert change.status == PeopleChangeStatus.APPLIED
    admin3.refresh_from_db()
    assert not admin3.is_active
    theirs.refresh_from_db()
    assert theirs.status == PeopleChangeStatus.CANCELLED
    with pytest.raises(PeopleChangeRefused, match="not waiting"):
        _approve(theirs, admin2)


def test_the_last_two_administrators_are_kept(admin1, admin2):
    with pytest.raises(PeopleChangeRefused, match="fewer than 2"):
        people_change_propose(actor=admin1, kind=Kind.USER_DEACTIVATE, values={"user_id": admin2.pk})
    with pytest.raises(PeopleChangeRefused, match="fewer than 2"):
        people_change_propose(
            actor=admin1, kind=Kind.ROLE_REMOVE, values={"user_id": admin2.pk, "role": "administrator"}
        )
    admin2.refresh_from_db()
    assert admin2.is_active
    assert admin2.groups.filter(name="administrator").exists()


# --- chains: a person created on someone's proposal -----------------------------------------------


def test_a_new_person_gets_no_password_from_anyone_and_cannot_decide_for_their_sponsor(
    admin1, admin2, key_set, django_capture_on_commit_callbacks
):
    create = people_change_propose(
        actor=admin1, kind=Kind.USER_CREATE, values={"username": "carol", "email": "carol@example.com"}
    )
    with pytest.raises(PeopleChangeRefused, match="No such user"):  # nothing to grant before it exists
        people_change_propose(
            actor=admin1, kind=Kind.ROLE_ADD, values={"user_id": 987654, "role": "administrator"}
        )
    mail.outbox.clear()
    with pytest.raises(PeopleChangeRefused, match="second administrator"):
        _approve(create, admin1)
    with django_capture_on_commit_callbacks(execute=True):
        _approve(create, admin2)
    carol = User.objects.get(username="carol")
    assert not carol.has_usable_password()
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["carol@example.com"]
    assert "/people/password/" in mail.outbox[0].body
    make_admin = people_change_propose(
        actor=admin1, kind=Kind.ROLE_ADD, values={"user_id": carol.pk, "role": "administrator"}
    )
    with pytest.raises(AccessDenied):  # not an administrator (yet): cannot decide anything
        _approve(make_admin, carol)
    _approve(make_admin, admin2)
    add_approver = people_change_propose(
        actor=admin1, kind=Kind.ROLE_ADD, values={"user_id": carol.pk, "role": "approver"}
    )
    with pytest.raises(PeopleChangeRefused, match="own account"):
        _approve(add_approver, carol)
    own_grant = people_change_propose(
        actor=admin1,
        kind=Kind.GRANT_SET,
        values={"user_id": admin1.pk, "key_set_id": key_set.pk, "view": True, "request": True},
    )
    with pytest.raises(PeopleChangeRefused, match="created on this administrator's proposal"):
        _approve(own_grant, carol)
    assert not KeySetGrant.objects.filter(user=admin1).exists()
    _approve(own_grant, admin2)
    assert KeySetGrant.objects.filter(user=admin1, can_request=True).exists()


def test_a_change_that_no_longer_applies_is_marked_rejected(admin1, admin2):
    change = people_change_propose(
        actor=admin1, kind=Kind.USER_CREATE, values={"username": "dave", "email": "dave@example.com"}
    )
    UserFactory(username="dave")
    with pytest.raises(PeopleChangeRefused, match=r"already exists.*marked rejected"):
        _approve(change, admin2)
    change.refresh_from_db()
    assert change.status == PeopleChangeStatus.REJECTED
    assert "already exists" in change.note
    assert AuditEvent.objects.filter(verb="people.fail", object_id=str(change.pk)).exists()


# --- bad input: a clear message, nothing changed ----------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "values", "message"),
    [
        (Kind.ROLE_ADD, {"user_id": 987654, "role": "approver"}, "No such user"),
        (Kind.ROLE_ADD, {"user_id": "", "role": "approver"}, "No such user"),
        (Kind.ROLE_ADD, {"user_id": "abc", "role": "approver"}, "No such user"),
        (Kind.ROLE_ADD, {"user_id": "VIEWER", "role": "root"}, "Unknown role"),
        (Kind.ROLE_ADD, {"user_id": "VIEWER", "role": ""}, "Unknown role"),
        (Kind.GRANT_SET, {"user_id": "VIEWER", "key_set_id": 987654, "view": True}, "No such key set"),
        (Kind.GRANT_SET, {"user_id": "VIEWER", "key_set_id": "KEYSET"}, "at least one capability"),
        (Kind.GRANT_SET, {"user_id": "VIEWER", "key_set_id": "KEYSET", "approve": True}, "view capability"),
        (Kind.GRANT_SET, {"key_set_id": "KEYSET", "view": True}, "either a user or a group"),
        (Kind.GRANT_SET, {"group": "nobody", "key_set_id": "KEYSET", "view": True}, "No such group"),
        (Kind.GRANT_REVOKE, {"grant_id": 987654}, "grant does not exist"),
        (Kind.USER_CREATE, {}, "username"),
        (Kind.USER_CREATE, {"username": "new one", "email": "x@example.com"}, "letters, digits"),
        (Kind.USER_CREATE, {"username": "newone"}, "email address"),
        (Kind.USER_CREATE, {"username": "newone", "email": "not-an-address"}, "not an email address"),
        (Kind.USER_CREATE, {"username": "VIEWER_NAME", "email": "x@example.com"}, "already exists"),
        (Kind.USER_DEACTIVATE, {"user_id": "SELF"}, "another person"),
        (Kind.PASSWORD_RESET, {"user_id": "SELF"}, "another person"),
        (Kind.PASSWORD_RESET, {"user_id": "ROOT"}, "Superusers"),
        ("make_god", {"user_id": "VIEWER"}, "Unknown kind"),
    ],
)
def test_bad_input_is_refused_clearly_and_changes_nothing(
    kind, values, message, admin1, viewer, superuser, key_set
):
    swap = {"VIEWER": viewer.pk, "KEYSET": key_set.pk, "SELF": admin1.pk, "ROOT": superuser.pk}
    values = {k: swap.get(v, v) if isinstance(v, str) else v for k, v in values.items()}
    if values.get("username") == "VIEWER_NAME":
        values["username"] = viewer.username.upper()
    events = AuditEvent.objects.count()
    with pytest.raises(PeopleChangeRefused, match=message):
        people_change_propose(actor=admin1, kind=kind, values=values)
    assert PeopleChange.objects.count() == 0
    assert AuditEvent.objects.count() == events
    assert not viewer.groups.exists() or list(viewer.groups.values_list("name", flat=True)) == ["viewer"]
    assert not KeySetGrant.objects.filter(user=viewer).exists()


def test_approving_an_unknown_change_is_refused(admin2):
    with pytest.raises(PeopleChangeRefused, match="No such people change"):
        _approve(PeopleChange(pk=987654), admin2)
