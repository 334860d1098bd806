"""Seal pending audit events and append a signed checkpoint of the chain's head to AUDIT_CHECKPOINT_FILE."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from accounts.audit_checkpoints import audit_checkpoint_write, checkpoint_path


class Command(BaseCommand):
    help = (
        "Append a signed checkpoint of the audit chain (outside the database; beat does this periodically)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        checkpoint = audit_checkpoint_write()
        if checkpoint is None:
            self.stdout.write("The audit chain is empty: no checkpoint written.")
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"Checkpoint: position {checkpoint.index}, seq={checkpoint.seq}, key {checkpoint.key_id}, "
                f"appended to {checkpoint_path()}."
            )
        )
