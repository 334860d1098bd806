"""A person's preferences page: notification switches and time zone, saved per person, audited."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import AuditEvent, PersonPreferences, User
from accounts.preferences import PreferencesRefused, preferences_for, preferences_update
from tests.factories import UserFactory


@pytest.fixture
def dora(db: None) -> User:
    return UserFactory(username="dora")


def test_a_person_without_saved_preferences_gets_every_email_and_the_desk_zone(dora, settings):
    prefs = preferences_for(user=dora)
    assert prefs.time_zone == settings.TIME_ZONE
    assert prefs.email_my_requests
    assert prefs.email_waiting
    assert prefs.email_reminders
    assert not PersonPreferences.objects.exists()  # reading never writes


def test_the_page_saves_switches_and_zone_and_the_menu_links_it(client: Client, dora):
    client.force_login(dora)
    page = client.get("/account/preferences/")
    assert page.status_code == 200
    assert b'id="nav-preferences"' in page.content
    assert b"Europe/Berlin" in page.content
    response = client.post(
        "/account/preferences/",
        {"time_zone": "Europe/Berlin", "email_my_requests": "on", "email_waiting": ""},
    )
    assert response.status_code == 302
    prefs = PersonPreferences.objects.get(user=dora)
    assert prefs.time_zone == "Europe/Berlin"
    assert prefs.email_my_requests is True
    assert prefs.email_waiting is False
    assert prefs.email_reminders is False
    event = AuditEvent.objects.get(verb="preferences.update")
    assert event.after["time_zone"] == "Europe/Berlin"
    assert 'value="Europe/Berlin" selected' in client.get("/account/preferences/").content.decode()


def test_an_unknown_zone_is_refused_and_nothing_is_saved(client: Client, dora):
    client.force_login(dora)
    response = client.post("/account/preferences/", {"time_zone": "Mars/Olympus"})
    assert response.status_code == 400
    assert b"Select a valid choice" in response.content
    assert not PersonPreferences.objects.exists()
    with pytest.raises(PreferencesRefused, match="not a time zone"):
        preferences_update(user=dora, time_zone="Mars/Olympus", emails={})
    assert not PersonPreferences.objects.exists()
