"""Verify the audit chain (HMAC links and every checkpoint); exit 2 naming the first bad event."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.audit_verify import audit_verify_run


class Command(BaseCommand):
    help = (
        "Verify the audit chain's HMAC links and every checkpoint, report the first bad sequence number "
        "and store the result for the audit page."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--incremental",
            action="store_true",
            help="Start from the last good checkpoint instead of genesis.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        result = audit_verify_run(full=not options["incremental"])
        pending = f"; {result.unsealed} event(s) not sealed yet" if result.unsealed else ""
        if result.ok:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Audit chain intact: {result.checked} event(s) verified, "
                    f"{result.checkpoints} checkpoint(s) checked{pending}."
                )
            )
            return
        where = (
            f"event seq={result.first_broken_seq}" if result.first_broken_seq is not None else "checkpoints"
        )
        raise CommandError(
            f"Audit chain broken at {where}: {result.reason} ({result.checked} event(s) before it verified).",
            returncode=2,
        )
