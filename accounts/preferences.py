"""Read and change a person's preferences (notifications, time zone, theme).

`preferences_for` never writes: a person without a row gets the defaults. `preferences_update` is the
one write, audited. `time_zone_choices` lists the IANA zones a person may pick.
"""

from __future__ import annotations

import zoneinfo
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.db import transaction

from accounts.audit import audit_record
from accounts.models import PersonPreferences, User
from accounts.preferences_models import Theme

# The notification switches, in the order the page shows them.
EMAIL_FIELDS = (
    "email_my_requests",
    "email_waiting",
    "email_reminders",
    "email_second_admin",
    "email_attention",
)


class PreferencesRefused(ValueError):
    """Input a person may not save; the message is safe to show."""


@lru_cache(maxsize=1)
def time_zone_choices() -> tuple[str, ...]:
    zones = {z for z in zoneinfo.available_timezones() if "/" in z or z == "UTC"}
    zones.discard("Factory")
    return tuple(sorted(zones))


def preferences_for(*, user: User) -> PersonPreferences:
    """The person's preferences; defaults (unsaved) when they never saved any."""
    found = PersonPreferences.objects.filter(user_id=user.pk).first()
    return found if found is not None else PersonPreferences(user_id=user.pk, time_zone=settings.TIME_ZONE)


def preferences_wanting(*, users: list[User], field: str) -> list[User]:
    """The people among `users` whose switch `field` is on (the default when they saved nothing)."""
    if field not in EMAIL_FIELDS:
        raise ValueError(f"unknown preference {field!r}")
    off = set(
        PersonPreferences.objects.filter(user_id__in=[u.pk for u in users], **{field: False}).values_list(
            "user_id", flat=True
        )
    )
    return [u for u in users if u.pk not in off]


def theme_for(*, user: Any) -> str:
    """The theme a person chose ("system", "light" or "dark"); "system" for no choice or no person."""
    if user is None or not getattr(user, "is_authenticated", False):
        return Theme.SYSTEM
    found = PersonPreferences.objects.filter(user_id=user.pk).values_list("theme", flat=True).first()
    return found or Theme.SYSTEM


def _state(prefs: PersonPreferences) -> dict[str, Any]:
    emails = {f: getattr(prefs, f) for f in EMAIL_FIELDS}
    return {"time_zone": prefs.time_zone, "theme": prefs.theme, **emails}


@transaction.atomic
def preferences_update(
    *,
    user: User,
    time_zone: str,
    emails: dict[str, bool],
    theme: str | None = None,
    ip: str | None = None,
) -> PersonPreferences:
    """Save the person's own preferences: one row, one audit event. `theme` None keeps the saved one."""
    if time_zone not in time_zone_choices():
        raise PreferencesRefused(f"“{time_zone}” is not a time zone this desk knows; pick one from the list.")
    if theme is not None and theme not in Theme.values:
        raise PreferencesRefused(f"“{theme}” is not a theme; pick light, dark or follow your device.")
    unknown = set(emails) - set(EMAIL_FIELDS)
    if unknown:
        raise PreferencesRefused(f"Unknown preference(s): {', '.join(sorted(unknown))}.")
    prefs, _ = PersonPreferences.objects.select_for_update().get_or_create(
        user_id=user.pk, defaults={"time_zone": settings.TIME_ZONE}
    )
    before = _state(prefs)
    prefs.time_zone = time_zone
    if theme is not None:
        prefs.theme = theme
    for field in EMAIL_FIELDS:
        setattr(prefs, field, bool(emails.get(field, False)))
    prefs.save()
    audit_record(actor=user, verb="preferences.update", obj=prefs, before=before, after=_state(prefs), ip=ip)
    return prefs


__all__ = [
    "EMAIL_FIELDS",
    "PreferencesRefused",
    "preferences_for",
    "preferences_update",
    "preferences_wanting",
    "theme_for",
    "time_zone_choices",
]
