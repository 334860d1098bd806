"""Which notification was sent already: one row per (request, event), so two paths reporting the same
outcome, or two worker processes running the reminders, send one email (transfers/notifications.py).
A row, not a cache entry: the embedded default has no cache shared between processes."""

from __future__ import annotations

from django.db import models


class NotificationSent(models.Model):
    key = models.CharField(max_length=200, unique=True)  # "<client id>:<event>"
    sent_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.key
