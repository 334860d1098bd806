"""Re-encrypt every stored API key and secret under the newest FIELD_ENCRYPTION_KEYS entry.

Procedure: put the new key first in FIELD_ENCRYPTION_KEYS, deploy, run this command, then remove
the old key and deploy again. Every token is checked before anything is written: if any row cannot
be decrypted with the configured keys, nothing is changed.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from accounts.audit import audit_record
from accounts.crypto import PURPOSE_API_KEY, PURPOSE_SECRET, SecretUnavailable, secret_decrypt, secret_rotate
from accounts.models import ApiKeySet


class Command(BaseCommand):
    help = "Re-encrypt every key set's API key and secret under the newest encryption key."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=200, help="Rows per transaction (1-10000).")
        parser.add_argument("--dry-run", action="store_true", help="Only check that every row decrypts.")

    def handle(self, *args: Any, batch_size: int = 200, dry_run: bool = False, **options: Any) -> None:
        if not 1 <= batch_size <= 10000:
            raise CommandError("--batch-size must be between 1 and 10000.")
        ids = list(ApiKeySet.objects.order_by("pk").values_list("pk", flat=True))
        # Check first: one unreadable row means a key is missing, and then nothing is touched.
        broken = []
        for ks in ApiKeySet.objects.order_by("pk").only(
            "pk", "uuid", "label", "api_key_encrypted", "secret_encrypted"
        ):
            try:
                secret_decrypt(token=ks.api_key_encrypted, key_set_uuid=ks.uuid, purpose=PURPOSE_API_KEY)
                secret_decrypt(token=ks.secret_encrypted, key_set_uuid=ks.uuid, purpose=PURPOSE_SECRET)
            except SecretUnavailable as exc:
                broken.append(f"key set #{ks.pk} “{ks.label}”: {exc}")
        if broken:
            raise CommandError(
                "Nothing was changed: these key sets cannot be decrypted with FIELD_ENCRYPTION_KEYS "
                "(keep the old key in the list until rotation has run):\n  " + "\n  ".join(broken)
            )
        if dry_run:
            self.stdout.write(
                f"{len(ids)} key set(s) decrypt with the configured keys; nothing changed (dry run)."
            )
            return
        done = 0
        for start in range(0, len(ids), batch_size):
            batch = ids[start : start + batch_size]
            try:
                with transaction.atomic():
                    for ks in ApiKeySet.objects.select_for_update().filter(pk__in=batch).order_by("pk"):
                        ks.api_key_encrypted = secret_rotate(
                            token=ks.api_key_encrypted, key_set_uuid=ks.uuid, purpose=PURPOSE_API_KEY
                        )
                        ks.secret_encrypted = secret_rotate(
                            token=ks.secret_encrypted, key_set_uuid=ks.uuid, purpose=PURPOSE_SECRET
                        )
                        ks.save(update_fields=["api_key_encrypted", "secret_encrypted"])
                        audit_record(actor=None, verb="keyset.reencrypt", obj=ks, after={"key": "newest"})
                        done += 1
            except SecretUnavailable as exc:
                raise CommandError(
                    f"Stopped after {done} key set(s); the failing batch was rolled back: {exc}"
                ) from None
            self.stdout.write(f"re-encrypted {done}/{len(ids)} key set(s)")
        self.stdout.write(self.style.SUCCESS(f"Done: {done} key set(s) re-encrypted under the newest key."))
