"""Per-person preferences: which emails a person wants, the time zone pages show times in, and the theme.

Imported by accounts.models (so Django registers it there). A person without a row has the defaults
(`preferences_for` in accounts/preferences.py returns an unsaved row).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Theme(models.TextChoices):
    SYSTEM = "system", "Follow my device (light or dark)"
    LIGHT = "light", "Light"
    DARK = "dark", "Dark"


class PersonPreferences(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="preferences"
    )
    # IANA zone name (e.g. "Europe/Berlin"); pages and emails show times in it.
    time_zone = models.CharField(max_length=64, default=settings.TIME_ZONE)
    # As requester: decisions (approved/rejected) and outcomes (succeeded/failed/unknown/stale/expired).
    email_my_requests = models.BooleanField(
        "Email me when my requests are decided or end (approved, rejected, succeeded, failed, unknown, "
        "stale, expired)",
        default=True,
    )
    # As approver: a request waits for my decision.
    email_waiting = models.BooleanField("Email me when a request waits for my approval", default=True)
    email_reminders = models.BooleanField(
        "Remind me before a request waiting for my approval expires", default=True
    )
    # As administrator: proposals waiting for a second administrator; requests needing attention.
    email_second_admin = models.BooleanField(
        "Email me (administrators) when a change waits for a second administrator", default=True
    )
    email_attention = models.BooleanField(
        "Email me (administrators) when a transfer needs attention (failed or outcome unknown)", default=True
    )
    # Pages' colours: base.html sets <html data-theme=...>; "system" follows prefers-color-scheme.
    theme = models.CharField(max_length=8, choices=Theme.choices, default=Theme.SYSTEM)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "person's preferences"
        verbose_name_plural = "people's preferences"

    def __str__(self) -> str:
        return f"preferences of {self.user_id}"
