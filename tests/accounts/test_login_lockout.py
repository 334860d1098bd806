"""The login form locks a username+address pair after repeated wrong passwords (django-axes)."""

import pytest
from django.test import Client

from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def _login(client: Client, username: str, password: str):
    return client.post("/login/", {"username": username, "password": password})


def test_a_correct_password_logs_in():
    UserFactory(username="alice")
    client = Client()
    response = _login(client, "alice", DEFAULT_PASSWORD)
    assert response.status_code == 302
    assert client.get("/").status_code == 200


def test_five_wrong_passwords_lock_the_account_even_for_the_right_password(settings):
    UserFactory(username="alice")
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = _login(client, "alice", "wrong password")
        assert response.status_code == 200
        assert "didn't match" in response.content.decode()
    locked = _login(client, "alice", "wrong password")
    assert locked.status_code == 429
    assert "Too many failed logins" in locked.content.decode()
    still_locked = _login(client, "alice", DEFAULT_PASSWORD)
    assert still_locked.status_code == 429
    assert "_auth_user_id" not in client.session


def test_a_lockout_of_one_user_does_not_lock_another():
    UserFactory(username="alice")
    UserFactory(username="bob")
    client = Client()
    for _ in range(6):
        _login(client, "alice", "wrong password")
    assert _login(client, "bob", DEFAULT_PASSWORD).status_code == 302
