"""The theme a person picks on Preferences (light, dark, follow the device) colours every page:
base.html puts it on <html data-theme=...>; the stylesheet's dark variables follow it or, for "system",
the device's prefers-color-scheme. Saved per person, audited; an unknown value changes nothing."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from accounts.models import AuditEvent, PersonPreferences, User
from accounts.preferences import PreferencesRefused, preferences_update, theme_for
from tests.factories import UserFactory


@pytest.fixture
def dora(db: None) -> User:
    return UserFactory(username="dora")


def html_theme(content: bytes) -> str:
    found = re.search(rb'<html lang="en" data-theme="([a-z]*)">', content)
    assert found is not None
    return found.group(1).decode()


def test_the_default_follows_the_device(client: Client, dora: User) -> None:
    client.force_login(dora)
    assert theme_for(user=dora) == "system"
    page = client.get("/account/preferences/")
    assert html_theme(page.content) == "system"
    assert b'name="theme" value="system"' in page.content
    assert not PersonPreferences.objects.exists()  # reading never writes


def test_dark_chosen_on_the_page_colours_every_page_and_is_audited(client: Client, dora: User) -> None:
    client.force_login(dora)
    response = client.post("/account/preferences/", {"time_zone": "UTC", "theme": "dark"})
    assert response.status_code == 302
    assert PersonPreferences.objects.get(user=dora).theme == "dark"
    assert html_theme(client.get("/").content) == "dark"
    assert html_theme(client.get("/transfers/history/").content) == "dark"
    page = client.get("/account/preferences/").content.decode()
    assert re.search(r'name="theme" value="dark"[^>]*checked', page)
    event = AuditEvent.objects.get(verb="preferences.update")
    assert (event.before["theme"], event.after["theme"]) == ("system", "dark")
    # A save without the field (an older form) keeps the theme.
    client.post("/account/preferences/", {"time_zone": "UTC"})
    assert PersonPreferences.objects.get(user=dora).theme == "dark"


def test_an_unknown_theme_is_refused_and_nothing_changes(client: Client, dora: User) -> None:
    client.force_login(dora)
    response = client.post("/account/preferences/", {"time_zone": "UTC", "theme": "neon"})
    assert response.status_code == 400
    assert b"Select a valid choice" in response.content
    assert not PersonPreferences.objects.exists()
    with pytest.raises(PreferencesRefused, match="not a theme"):
        preferences_update(user=dora, time_zone="UTC", emails={}, theme="neon")
    assert not PersonPreferences.objects.exists()


def test_signed_out_pages_follow_the_device(client: Client, db: None) -> None:
    assert html_theme(client.get("/login/").content) == "system"
