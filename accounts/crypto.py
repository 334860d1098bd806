"""Encryption at rest for API key sets: MultiFernet over FIELD_ENCRYPTION_KEYS, bound to the row.

Keys come from ``settings.FIELD_ENCRYPTION_KEYS`` (Fernet keys, newest first), never from SECRET_KEY.
Each token's plaintext starts with ``<key set uuid>:<purpose>:`` so a ciphertext copied onto another
row, or from the API-key column into the secret column, fails to decrypt. Every failure raises
`SecretUnavailable` (an `exchange.credentials.CredentialsUnavailable`, so the exchange layer can tell
it apart without importing accounts): a ciphertext or an empty string is never handed out as a secret.
Every decrypted value is registered with `exchange.redaction`, so no log line of this process shows it.
"""

from __future__ import annotations

import uuid

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

from exchange.credentials import CredentialsUnavailable
from exchange.redaction import secret_register

PURPOSE_SECRET = "secret"
PURPOSE_API_KEY = "api_key"
_PURPOSES = (PURPOSE_SECRET, PURPOSE_API_KEY)


class SecretUnavailable(CredentialsUnavailable):
    """The secret cannot be decrypted (missing or wrong key, tampered or misplaced token). Safe to show."""


def _fernet() -> MultiFernet:
    raw = getattr(settings, "FIELD_ENCRYPTION_KEYS", None) or []
    if isinstance(raw, str):
        raw = raw.split(",")
    keys = [k.strip() for k in raw if k and k.strip()]
    if not keys:
        raise SecretUnavailable(
            "No encryption key is configured: set FIELD_ENCRYPTION_KEYS (Fernet keys, newest first)."
        )
    fernets = []
    for position, key in enumerate(keys, start=1):
        try:
            fernets.append(Fernet(key.encode()))
        except (ValueError, TypeError):
            # Never echo the key itself: only say which one is malformed.
            raise SecretUnavailable(
                f"FIELD_ENCRYPTION_KEYS entry #{position} is not a valid Fernet key "
                "(32 url-safe base64-encoded bytes)."
            ) from None
    return MultiFernet(fernets)


def _prefix(*, key_set_uuid: uuid.UUID | str, purpose: str) -> str:
    if purpose not in _PURPOSES:
        raise ValueError(f"unknown purpose {purpose!r}")
    return f"{uuid.UUID(str(key_set_uuid))}:{purpose}:"


def secret_encrypt(*, plaintext: str, key_set_uuid: uuid.UUID | str, purpose: str = PURPOSE_SECRET) -> str:
    """Encrypt under the newest key; the token only decrypts for this key set and purpose."""
    if not plaintext:
        raise ValueError("refusing to encrypt an empty secret")
    token = _fernet().encrypt((_prefix(key_set_uuid=key_set_uuid, purpose=purpose) + plaintext).encode())
    return token.decode("ascii")


def secret_decrypt(*, token: str, key_set_uuid: uuid.UUID | str, purpose: str = PURPOSE_SECRET) -> str:
    """Decrypt or raise `SecretUnavailable`; never returns the token or an empty string."""
    what = "API key" if purpose == PURPOSE_API_KEY else "API secret"
    if not token:
        raise SecretUnavailable(f"No {what} is stored for this key set.")
    try:
        data = _fernet().decrypt(token.encode("ascii")).decode("utf-8")
    except (InvalidToken, UnicodeError, ValueError):
        raise SecretUnavailable(
            f"The stored {what} cannot be decrypted: the encryption key is wrong or missing, "
            "or the stored value was altered. Nothing was sent to BingX."
        ) from None
    prefix = _prefix(key_set_uuid=key_set_uuid, purpose=purpose)
    if not data.startswith(prefix) or len(data) == len(prefix):
        raise SecretUnavailable(
            f"The stored {what} does not belong to this key set (the value was moved between rows). "
            "Nothing was sent to BingX."
        )
    plaintext = data[len(prefix) :]
    # From now on this exact value is redacted from every log line this process writes.
    secret_register(plaintext)
    return plaintext


def secret_rotate(*, token: str, key_set_uuid: uuid.UUID | str, purpose: str = PURPOSE_SECRET) -> str:
    """Re-encrypt a token under the newest key, after checking it decrypts for this row."""
    secret_decrypt(token=token, key_set_uuid=key_set_uuid, purpose=purpose)
    try:
        return _fernet().rotate(token.encode("ascii")).decode("ascii")
    except InvalidToken:  # pragma: no cover - decrypt above already proved the token valid
        raise SecretUnavailable("The stored value cannot be re-encrypted.") from None
