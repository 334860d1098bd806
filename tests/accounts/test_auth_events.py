"""Everything a person does to get in, get out or change how they sign in is an audit event (issue 11)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pyotp
import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from accounts import passkeys
from accounts.models import AuditEvent, User
from accounts.second_factor import (
    passkey_remove,
    recovery_codes_generate,
    totp_enrol_confirm,
    totp_enrol_start,
    totp_secret_base32,
)
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

PROXY: dict[str, Any] = {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "198.51.100.9, 203.0.113.7"}


def _login(client: Client, username: str, password: str, **extra: Any) -> Any:
    return client.post(reverse("login"), {"username": username, "password": password}, **extra)


def test_a_login_is_an_event_with_the_address_our_proxy_saw(settings):
    settings.BEHIND_PROXY = True
    alice = UserFactory(username="alice")
    assert _login(Client(), "alice", DEFAULT_PASSWORD, **PROXY).status_code == 302
    event = AuditEvent.objects.get(verb="auth.login")
    assert (event.actor, event.subject, event.ip) == (alice, alice, "203.0.113.7")


def test_a_failed_login_names_the_account_but_no_actor_and_never_the_password():
    alice = UserFactory(username="alice")
    _login(Client(), "alice", "wrong password 1", REMOTE_ADDR="192.0.2.5")
    event = AuditEvent.objects.get(verb="auth.login_failed")
    assert event.actor is None
    assert event.actor_label == "system"
    assert event.subject == alice
    assert event.after == {"username": "alice", "known_user": True}
    assert event.ip == "192.0.2.5"
    assert "wrong password 1" not in str(AuditEvent.objects.values())


def test_a_failed_login_for_an_unknown_username_records_the_attempted_name():
    _login(Client(), "mallory", "guess-123")
    event = AuditEvent.objects.get(verb="auth.login_failed")
    assert event.actor is None
    assert event.subject is None
    assert event.after == {"username": "mallory", "known_user": False}
    assert event.object_repr == "mallory"
    assert "guess-123" not in str(AuditEvent.objects.values())


def test_a_lockout_is_an_event(settings):
    alice = UserFactory(username="alice")
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _login(client, "alice", "wrong password")
    lockout = AuditEvent.objects.get(verb="auth.lockout")
    assert lockout.subject == alice
    assert lockout.actor is None
    assert lockout.after["username"] == "alice"
    assert AuditEvent.objects.filter(verb="auth.login_failed").count() == settings.AXES_FAILURE_LIMIT


def test_a_logout_is_an_event():
    alice = UserFactory(username="alice")
    client = Client()
    client.force_login(alice)
    client.post(reverse("logout"))
    assert AuditEvent.objects.filter(verb="auth.logout", actor=alice, subject=alice).exists()


def test_a_password_change_in_the_admin_is_an_event_with_the_admins_address(settings):
    settings.BEHIND_PROXY = True
    root = UserFactory(username="root", is_superuser=True, is_staff=True)
    bob = UserFactory(username="bob")
    client = Client()
    client.force_login(root)
    new = "another-long-password-42"
    response = client.post(
        reverse("admin:auth_user_password_change", args=[bob.pk]),
        {"password1": new, "password2": new, "usable_password": "true"},
        **PROXY,
    )
    assert response.status_code == 302
    changed = AuditEvent.objects.get(verb="auth.password_changed")
    assert (changed.actor, changed.subject, changed.ip) == (root, bob, "203.0.113.7")
    assert changed.after == {"password": "(changed)", "by_self": False}
    admin_change = AuditEvent.objects.get(verb="admin.change")
    assert admin_change.ip == "203.0.113.7"
    assert new not in str(AuditEvent.objects.values())


def test_a_password_changed_by_a_command_has_no_actor(monkeypatch):
    bob = UserFactory(username="bob")
    bob.set_password("from-a-command-123")
    bob.save()
    event = AuditEvent.objects.get(verb="auth.password_changed")
    assert event.actor is None
    assert event.subject == bob
    assert event.ip is None


def test_a_hash_upgrade_at_login_is_not_a_password_change():
    UserFactory(username="alice")
    _login(Client(), "alice", DEFAULT_PASSWORD)
    assert not AuditEvent.objects.filter(verb="auth.password_changed").exists()


def test_second_factor_changes_are_events():
    alice = UserFactory(username="alice")
    device = totp_enrol_start(user=alice)
    code = pyotp.TOTP(totp_secret_base32(device=device)).now()
    totp_enrol_confirm(user=alice, code=code, ip="192.0.2.1")
    recovery_codes_generate(user=alice, ip="192.0.2.1")
    verbs = list(AuditEvent.objects.filter(subject=alice).order_by("seq").values_list("verb", "ip"))
    assert verbs == [("auth.totp_enrolled", "192.0.2.1"), ("auth.recovery_codes_generated", "192.0.2.1")]


def test_adding_and_removing_a_passkey_are_events(monkeypatch):
    alice = UserFactory(username="alice")
    verified = SimpleNamespace(credential_id=b"cred-1", credential_public_key=b"cose", sign_count=0)
    monkeypatch.setattr(passkeys, "verify_registration_response", lambda **kwargs: verified)
    monkeypatch.setattr(passkeys, "_expected_origin", lambda data: "http://localhost:8000")
    response = '{"response": {"clientDataJSON": "x", "transports": ["usb"]}}'
    credential = passkeys.passkey_register(
        user=alice, name="laptop", response_json=response, challenge=b"c", ip="192.0.2.3"
    )
    added = AuditEvent.objects.get(verb="auth.passkey_added")
    assert (added.actor, added.subject, added.ip, added.after) == (
        alice,
        alice,
        "192.0.2.3",
        {"name": "laptop"},
    )
    passkey_remove(user=alice, credential_id=credential.pk, ip="192.0.2.3")
    assert AuditEvent.objects.filter(verb="auth.passkey_removed", subject=alice).exists()


def test_changes_to_people_and_grants_are_events_about_that_person_and_key_set(admin1, approver, key_set):
    from accounts.services.grants import grant_revoke, grant_set

    grant = grant_set(actor=admin1, key_set_id=key_set.pk, user=approver, can_view=True, can_approve=True)
    grant_revoke(actor=admin1, grant_id=grant.pk, key_set_id=key_set.pk)
    events = AuditEvent.objects.filter(verb__startswith="grant.")
    assert [e.key_set_id for e in events] == [key_set.pk, key_set.pk]


def test_the_auditor_role_exists_and_reads_only():
    from django.contrib.auth.models import Group

    codes = set(Group.objects.get(name="auditor").permissions.values_list("codename", flat=True))
    assert codes == {"view_auditevent"}


def test_a_user_created_by_a_command_is_not_a_password_change():
    call_command("createsuperuser", "--noinput", "--username", "ops", "--email", "ops@example.com")
    assert User.objects.filter(username="ops").exists()
    assert not AuditEvent.objects.filter(verb="auth.password_changed").exists()
