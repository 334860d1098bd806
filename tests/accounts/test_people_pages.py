"""People pages, the read-only Django admin for people and groups, the break-glass superuser's audit
trail, the set-password link and manage.py admins_bootstrap."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from django.contrib.auth.models import Group
from django.core import mail
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from accounts.models import AuditEvent, PeopleChange, PeopleChangeStatus, User
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.stepup_support import stepup_data

pytestmark = pytest.mark.django_db


def _client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_people_pages_are_for_administrators(admin1, approver, viewer, granted):
    assert _client(admin1).get(reverse("people:list")).status_code == 200
    page = _client(admin1).get(reverse("people:detail", args=[viewer.pk])).content.decode()
    assert "Treasury main" in page  # the viewer's grant, and the key set to grant on
    assert 'value="grant_revoke"' in page
    assert _client(admin1).get(reverse("people:detail", args=[987654])).status_code == 404
    for url in (reverse("people:list"), reverse("people:new"), reverse("people:detail", args=[viewer.pk])):
        assert _client(approver).get(url).status_code == 403, url
    response = _client(approver).post(
        reverse("people:propose", args=[viewer.pk]), {"kind": "role_add", "role": "administrator"}
    )
    assert response.status_code == 403
    assert not PeopleChange.objects.exists()


def test_navigation_shows_people_to_administrators_only(admin1, approver):
    assert 'href="/people/"' in _client(admin1).get(reverse("transfers:dashboard")).content.decode()
    assert 'href="/people/"' not in _client(approver).get(reverse("transfers:dashboard")).content.decode()


def test_propose_and_approve_through_the_pages(admin1, admin2, viewer):
    response = _client(admin1).post(
        reverse("people:propose", args=[viewer.pk]), {"kind": "role_add", "role": "approver"}, follow=True
    )
    assert "a second administrator must approve it" in response.content.decode()
    change = PeopleChange.objects.get()
    page = _client(admin2).get(reverse("people:list")).content.decode()
    assert f'id="change-{change.pk}"' in page
    assert 'name="stepup_code"' in page
    # Without the second factor: refused, nothing changes.
    response = _client(admin2).post(reverse("people:change_approve", args=[change.pk]), follow=True)
    assert "second factor" in response.content.decode() or "authenticator" in response.content.decode()
    assert not viewer.groups.filter(name="approver").exists()
    _client(admin2).post(reverse("people:change_approve", args=[change.pk]), stepup_data(admin2))
    assert viewer.groups.filter(name="approver").exists()
    change.refresh_from_db()
    assert change.status == PeopleChangeStatus.APPLIED


def test_bad_input_on_the_pages_gives_a_message_and_changes_nothing(admin1, viewer):
    client = _client(admin1)
    response = client.post(
        reverse("people:propose", args=[viewer.pk]), {"kind": "role_add", "role": "god"}, follow=True
    )
    assert "Unknown role" in response.content.decode()
    response = client.post(reverse("people:new"), {"username": "", "email": "nope"})
    assert response.status_code == 400
    response = client.post(reverse("people:new"), {"username": "viewer", "email": "x@example.com"})
    assert response.status_code == 400
    assert "already exists" in response.content.decode()
    assert not PeopleChange.objects.exists()


def test_a_new_person_sets_their_own_password_through_the_emailed_link(
    admin1, admin2, django_capture_on_commit_callbacks
):
    _client(admin1).post(reverse("people:new"), {"username": "carol", "email": "carol@example.com"})
    change = PeopleChange.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        _client(admin2).post(reverse("people:change_approve", args=[change.pk]), stepup_data(admin2))
    carol = User.objects.get(username="carol")
    assert not carol.has_usable_password()
    link = re.search(r"https?://\S+/people/password/\S+", str(mail.outbox[-1].body))
    assert link is not None
    anonymous = Client()
    form = anonymous.get(urlsplit(link.group(0)).path, follow=True)
    assert form.status_code == 200
    new = "a-long-and-new-password-42"
    response = anonymous.post(form.redirect_chain[-1][0], {"new_password1": new, "new_password2": new})
    assert response.status_code == 302
    carol.refresh_from_db()
    assert carol.check_password(new)
    assert AuditEvent.objects.filter(verb="people.password_set", actor=carol).exists()
    # The link works once.
    again = anonymous.get(form.redirect_chain[-1][0])
    assert "does not work" in again.content.decode()


# --- the Django admin: read-only people and groups; the superuser is break-glass, audited -------------


def test_admin_is_read_only_for_people_and_groups_except_for_a_superuser(admin1, viewer, superuser):
    client = _client(admin1)
    assert client.get(reverse("admin:accounts_user_changelist")).status_code == 200
    assert client.get(reverse("admin:accounts_user_add")).status_code == 403
    response = client.post(
        reverse("admin:accounts_user_change", args=[viewer.pk]), {"username": "viewer", "is_active": ""}
    )
    assert response.status_code == 403
    assert client.post(reverse("admin:auth_user_password_change", args=[viewer.pk]), {}).status_code == 403
    assert client.get(reverse("admin:auth_group_add")).status_code == 403
    assert (
        client.post(reverse("admin:accounts_user_delete", args=[viewer.pk]), {"post": "yes"}).status_code
        == 403
    )
    viewer.refresh_from_db()
    assert viewer.is_active
    assert _client(superuser).get(reverse("admin:accounts_user_add")).status_code == 200


def test_administrators_no_longer_hold_user_or_grant_model_permissions():
    codes = set(Group.objects.get(name="administrator").permissions.values_list("codename", flat=True))
    assert not codes & {"add_user", "change_user", "delete_user", "add_keysetgrant", "change_keysetgrant"}


def test_a_superuser_login_is_an_audit_event(superuser):
    response = Client().post(reverse("login"), {"username": "root", "password": DEFAULT_PASSWORD})
    assert response.status_code == 302
    event = AuditEvent.objects.get(verb="auth.superuser_login")
    assert event.actor == superuser


def test_an_ordinary_login_is_not_a_break_glass_event(viewer):
    Client().post(reverse("login"), {"username": "viewer", "password": DEFAULT_PASSWORD})
    assert not AuditEvent.objects.filter(verb="auth.superuser_login").exists()


def test_every_admin_change_by_a_superuser_is_an_audit_event(superuser, viewer):
    client = _client(superuser)
    new = "break-glass-password-77"
    response = client.post(
        reverse("admin:auth_user_password_change", args=[viewer.pk]),
        {"password1": new, "password2": new, "usable_password": "true"},
    )
    assert response.status_code == 302
    viewer.refresh_from_db()
    assert viewer.check_password(new)
    event = AuditEvent.objects.get(verb="admin.change")
    assert event.actor == superuser
    assert event.after["superuser"] is True
    assert event.after["model"] == "accounts.user"
    assert event.after["object_id"] == str(viewer.pk)
    client.post(reverse("admin:auth_group_add"), {"name": "break-glass-group"})
    assert AuditEvent.objects.filter(verb="admin.add", after__object="break-glass-group").exists()


# --- manage.py admins_bootstrap ------------------------------------------------------------------------


def test_admins_bootstrap_creates_two_administrators_once(capsys):
    call_command("admins_bootstrap", "ada", "ada@example.com", "bea", "bea@example.com", "--print-links")
    out = capsys.readouterr().out
    for name in ("ada", "bea"):
        user = User.objects.get(username=name)
        assert user.groups.filter(name="administrator").exists()
        assert not user.has_usable_password()
    assert out.count("/people/password/") == 2
    assert {m.to[0] for m in mail.outbox} == {"ada@example.com", "bea@example.com"}
    assert AuditEvent.objects.filter(verb="people.bootstrap").count() == 2
    with pytest.raises(CommandError, match="Administrators exist already"):
        call_command("admins_bootstrap", "cid", "cid@example.com", "dot", "dot@example.com")
    assert not User.objects.filter(username__in=["cid", "dot"]).exists()


def test_admins_bootstrap_refuses_bad_input_and_creates_nobody():
    with pytest.raises(CommandError, match="different usernames"):
        call_command("admins_bootstrap", "ada", "ada@example.com", "ada", "b@example.com")
    with pytest.raises(CommandError, match="not an email address"):
        call_command("admins_bootstrap", "ada", "ada@example.com", "bea", "nope")
    UserFactory(username="bea")
    with pytest.raises(CommandError, match="already exists"):
        call_command("admins_bootstrap", "ada", "ada@example.com", "bea", "bea@example.com")
    assert not User.objects.filter(username="ada").exists()
