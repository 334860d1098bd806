"""Secrets at rest: encrypted, bound to their row, fail closed, and rotatable."""

from __future__ import annotations

from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command
from django.db import connection

from accounts.crypto import PURPOSE_API_KEY, PURPOSE_SECRET, SecretUnavailable, secret_decrypt, secret_encrypt
from accounts.models import ApiKeySet, AuditEvent
from exchange.clients import client_for
from tests.factories import TEST_API_KEY, TEST_SECRET, ApiKeySetFactory

pytestmark = pytest.mark.django_db


def _raw_columns(pk: int) -> tuple[str, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT api_key_encrypted, secret_encrypted FROM accounts_apikeyset WHERE id = %s", [pk]
        )
        return cursor.fetchone()


def test_database_columns_never_hold_the_plaintext(key_set):
    api_key_raw, secret_raw = _raw_columns(key_set.pk)
    assert TEST_SECRET not in secret_raw
    assert TEST_SECRET not in api_key_raw
    assert TEST_API_KEY not in api_key_raw
    assert TEST_API_KEY not in secret_raw
    assert secret_raw.startswith("gAAAAA")  # a Fernet token
    assert secret_decrypt(token=secret_raw, key_set_uuid=key_set.uuid) == TEST_SECRET
    assert (
        secret_decrypt(token=api_key_raw, key_set_uuid=key_set.uuid, purpose=PURPOSE_API_KEY) == TEST_API_KEY
    )


def test_wrong_key_fails_closed(key_set, settings):
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(SecretUnavailable, match="cannot be decrypted"):
        secret_decrypt(token=key_set.secret_encrypted, key_set_uuid=key_set.uuid)
    with pytest.raises(SecretUnavailable):
        client_for(key_set=key_set)


def test_missing_key_fails_closed_with_a_clear_message(key_set, settings):
    settings.FIELD_ENCRYPTION_KEYS = []
    with pytest.raises(SecretUnavailable, match="FIELD_ENCRYPTION_KEYS"):
        secret_decrypt(token=key_set.secret_encrypted, key_set_uuid=key_set.uuid)


def test_malformed_key_is_named_by_position_not_echoed(key_set, settings):
    settings.FIELD_ENCRYPTION_KEYS = ["not-a-fernet-key-but-secret-looking"]
    with pytest.raises(SecretUnavailable, match="entry #1") as excinfo:
        secret_decrypt(token=key_set.secret_encrypted, key_set_uuid=key_set.uuid)
    assert "not-a-fernet-key" not in str(excinfo.value)


def test_ciphertext_swapped_between_rows_fails(admin1):
    first = ApiKeySetFactory(secret="first-secret-aaaaaaaa")
    second = ApiKeySetFactory(secret="second-secret-bbbbbbb")
    ApiKeySet.objects.filter(pk=second.pk).update(secret_encrypted=first.secret_encrypted)
    second.refresh_from_db()
    with pytest.raises(SecretUnavailable, match="does not belong"):
        secret_decrypt(token=second.secret_encrypted, key_set_uuid=second.uuid)


def test_api_key_ciphertext_cannot_stand_in_for_the_secret(key_set):
    with pytest.raises(SecretUnavailable):
        secret_decrypt(token=key_set.api_key_encrypted, key_set_uuid=key_set.uuid, purpose=PURPOSE_SECRET)


@pytest.mark.parametrize("token", ["", "garbage", "gAAAAABtampered"])
def test_tampered_or_empty_token_never_returns_anything(key_set, token):
    with pytest.raises(SecretUnavailable):
        secret_decrypt(token=token, key_set_uuid=key_set.uuid)


def test_flipped_byte_in_token_fails(key_set):
    token = key_set.secret_encrypted
    flipped = token[:-6] + ("A" if token[-6] != "A" else "B") + token[-5:]
    with pytest.raises(SecretUnavailable):
        secret_decrypt(token=flipped, key_set_uuid=key_set.uuid)


def test_empty_plaintext_is_refused(key_set):
    with pytest.raises(ValueError, match="empty"):
        secret_encrypt(plaintext="", key_set_uuid=key_set.uuid)


def test_rotation_keeps_every_secret_readable_and_the_old_key_can_go(settings):
    old_key = settings.FIELD_ENCRYPTION_KEYS[0]
    sets = [
        ApiKeySetFactory(secret=f"secret-number-{i:04d}", api_key=f"api-key-number-{i:04d}") for i in range(5)
    ]
    new_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new_key, old_key]
    out = StringIO()
    call_command("rotate_encryption_key", "--batch-size", "2", stdout=out)
    assert "5 key set(s) re-encrypted" in out.getvalue()
    settings.FIELD_ENCRYPTION_KEYS = [new_key]  # the old key is removed
    for i, ks in enumerate(sets):
        ks.refresh_from_db()
        assert secret_decrypt(token=ks.secret_encrypted, key_set_uuid=ks.uuid) == f"secret-number-{i:04d}"
        assert (
            secret_decrypt(token=ks.api_key_encrypted, key_set_uuid=ks.uuid, purpose=PURPOSE_API_KEY)
            == f"api-key-number-{i:04d}"
        )
    assert AuditEvent.objects.filter(verb="keyset.reencrypt").count() == 5
    assert not AuditEvent.objects.filter(after__icontains="secret-number").exists()


def test_rotation_without_the_old_key_changes_nothing(key_set, settings):
    before = _raw_columns(key_set.pk)
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(CommandError, match="Nothing was changed"):
        call_command("rotate_encryption_key", stdout=StringIO())
    assert _raw_columns(key_set.pk) == before


def test_rotation_with_a_tampered_row_changes_nothing(settings):
    good = ApiKeySetFactory()
    bad = ApiKeySetFactory()
    ApiKeySet.objects.filter(pk=bad.pk).update(secret_encrypted=good.secret_encrypted)
    before = _raw_columns(good.pk)
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), *settings.FIELD_ENCRYPTION_KEYS]
    with pytest.raises(CommandError, match=f"key set #{bad.pk}"):
        call_command("rotate_encryption_key", stdout=StringIO())
    assert _raw_columns(good.pk) == before


@pytest.mark.parametrize("size", ["0", "100000"])
def test_rotation_rejects_a_bad_batch_size(key_set, size):
    before = _raw_columns(key_set.pk)
    with pytest.raises(CommandError, match="batch-size"):
        call_command("rotate_encryption_key", "--batch-size", size, stdout=StringIO())
    assert _raw_columns(key_set.pk) == before


def test_rotation_dry_run_changes_nothing(key_set):
    before = _raw_columns(key_set.pk)
    out = StringIO()
    call_command("rotate_encryption_key", "--dry-run", stdout=out)
    assert "dry run" in out.getvalue()
    assert _raw_columns(key_set.pk) == before


def test_a_decrypted_secret_is_redacted_from_later_log_lines_of_the_process():
    import uuid as uuid_mod

    from accounts.crypto import secret_decrypt, secret_encrypt
    from bingxadmin.logging import redact

    row = uuid_mod.uuid4()
    plaintext = "Zq8-unusual-secret-" + row.hex[:12]
    token = secret_encrypt(plaintext=plaintext, key_set_uuid=row)
    assert plaintext in redact(f"oops {plaintext}")  # not yet known: only shapes are redacted
    assert secret_decrypt(token=token, key_set_uuid=row) == plaintext
    assert plaintext not in redact(f"upstream library said: bad key {plaintext}!")
