"""The state of a person's background balance refresh, one row per key set (accounts/balance_refresh.py).

A row, not a cache entry: the worker that reads BingX and the web process that shows the progress
are different processes, and the embedded default has no shared cache.
"""

from __future__ import annotations

from django.db import models


class BalanceRefresh(models.Model):
    key_set = models.OneToOneField(
        "accounts.ApiKeySet", on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    state = models.CharField(max_length=16)  # queued, running, done, failed
    requested_at = models.DateTimeField()
    requested_by = models.CharField(max_length=150, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    message = models.CharField(max_length=500, blank=True)

    def __str__(self) -> str:
        return f"balance refresh of {self.key_set_id}: {self.state}"
