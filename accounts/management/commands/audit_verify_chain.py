"""Verify the audit log's hash chain; exit non-zero and name the first broken event when it is broken."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from accounts.audit import audit_verify_chain


class Command(BaseCommand):
    help = "Verify the append-only audit log's hash chain and report the first broken link."

    def handle(self, *args: Any, **options: Any) -> None:
        report = audit_verify_chain()
        if report.ok:
            self.stdout.write(self.style.SUCCESS(f"Audit chain intact: {report.checked} event(s) verified."))
            return
        raise CommandError(
            f"Audit chain broken at event seq={report.first_broken_seq}: {report.reason} "
            f"({report.checked} event(s) before it verified).",
            returncode=2,
        )
