"""Mark pending transfer requests past their expiry as expired (the beat task does this periodically)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from transfers.services.requests import transfer_requests_expire


class Command(BaseCommand):
    help = "Expire pending transfer requests whose time to live has passed."

    def handle(self, *args: Any, **options: Any) -> None:
        count = transfer_requests_expire()
        self.stdout.write(f"{count} request(s) expired.")
