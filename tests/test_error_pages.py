"""Error pages (issue 14, part 5), as served with DEBUG=False: the site's layout with the menu for a
signed-in person, what happened and what to do next, and nothing of the error's details."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.template import loader
from django.test import Client, RequestFactory
from django.urls import reverse

from accounts.access import AccessDenied, ensure_admin
from accounts.models import User
from accounts.preferences_models import PersonPreferences
from accounts.roles import roles_ensure
from bingxadmin import errors
from tests.factories import UserFactory
from transfers import selectors

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _production_errors(settings: Any) -> None:
    settings.DEBUG = False  # the pages people see in production, never Django's technical pages


def member(username: str, role: str) -> User:
    user = UserFactory(username=username)
    roles_ensure()
    user.groups.add(Group.objects.get(name=role))
    return user


def signed_in(user: User, **kwargs: Any) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client


def assert_site_layout(html: str, username: str) -> None:
    assert '<header class="topbar">' in html
    assert f'<span class="who">{username}</span>' in html  # signed in: the menu and the account links
    assert ">History</a>" in html
    assert ">Balances</a>" in html
    assert 'href="/">Go to the dashboard</a>' in html


def test_404_is_the_site_page_and_does_not_echo_the_address():
    client = signed_in(member("vic", "viewer"))
    response = client.get("/no-such-page-d41d8cd9/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "Page not found" in html
    assert "What you can do" in html
    assert_site_layout(html, "vic")
    assert "d41d8cd9" not in html


def test_404_of_a_guessed_transfer_id_says_nothing_of_what_exists():
    client = signed_in(member("vic", "viewer"))
    response = client.get(reverse("transfers:request_detail", args=[987654]))
    assert response.status_code == 404
    html = response.content.decode()
    assert "Page not found" in html
    assert "key set you may not see" in html
    assert "987654" not in html
    assert "No such" not in html


def test_403_is_the_site_page_without_the_exception_text():
    viewer = member("vic", "viewer")
    with pytest.raises(AccessDenied) as denied:
        ensure_admin(user=viewer)
    response = signed_in(viewer).get(reverse("accounts:keyset_add"))
    assert response.status_code == 403
    html = response.content.decode()
    assert "This page is not open to you" in html
    assert "ask an administrator" in html
    assert_site_layout(html, "vic")
    assert str(denied.value) not in html


def test_500_says_what_to_do_and_shows_nothing_of_the_error(monkeypatch: pytest.MonkeyPatch):
    def crash(**_: Any) -> None:
        raise RuntimeError("boom at /srv/app/secret_module.py password=hunter2")

    monkeypatch.setattr(selectors, "dashboard_for", crash)
    client = signed_in(member("vic", "viewer"), raise_request_exception=False)
    response = client.get(reverse("transfers:dashboard"))
    assert response.status_code == 500
    html = response.content.decode()
    assert "Something went wrong on our side" in html
    assert "look it up in" in html
    assert 'href="/transfers/history/"' in html
    assert '<header class="topbar">' in html
    for leak in ("boom", "secret_module", "hunter2", "RuntimeError", "Traceback", "/srv/"):
        assert leak not in html


def test_500_page_makes_no_query_and_survives_a_broken_template(
    django_assert_num_queries: Any, monkeypatch: pytest.MonkeyPatch
):
    request = RequestFactory().get("/")
    with django_assert_num_queries(0):  # the database may be what failed
        response = errors.server_error(request)
    assert response.status_code == 500
    assert b"Something went wrong on our side" in response.content

    def broken(name: str) -> Any:
        raise OSError("templates unreadable")

    monkeypatch.setattr(loader, "get_template", broken)
    response = errors.server_error(request)
    assert response.status_code == 500
    assert response.content.decode() == errors.BARE_500


def test_a_post_without_csrf_token_gets_the_form_expired_page_and_changes_nothing():
    viewer = member("vic", "viewer")
    client = signed_in(viewer, enforce_csrf_checks=True)
    response = client.post(reverse("preferences:edit"), {"time_zone": "Europe/Berlin"})
    assert response.status_code == 403
    html = response.content.decode()
    assert "This form has expired" in html
    assert "reload the page" in html
    assert_site_layout(html, "vic")
    assert "CSRF token" not in html
    assert "Referer" not in html
    assert not PersonPreferences.objects.filter(user=viewer, time_zone="Europe/Berlin").exists()


def test_a_login_post_without_csrf_cookie_gets_the_page_without_a_menu():
    response = Client(enforce_csrf_checks=True).post(reverse("login"), {"username": "x", "password": "y"})
    assert response.status_code == 403
    html = response.content.decode()
    assert "This form has expired" in html
    assert '<span class="who">' not in html
