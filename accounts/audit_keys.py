"""The audit chain's HMAC keys: AUDIT_CHAIN_KEYS from the environment, never from the database.

Each entry is ``<key id>:<base64 key>``, newest first. The newest key seals new events and signs new
checkpoints; older ones only verify what they sealed, so a key rotates by putting a new entry first
(docs/security.md#audit-chain). Someone who can write the database but not read this setting cannot
recompute a link.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

_KEY_ID = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")
MIN_KEY_BYTES = 32


def audit_keys() -> dict[str, bytes]:
    """Key id → key, newest first (dicts keep order). Raises ImproperlyConfigured on a malformed entry."""
    keys: dict[str, bytes] = {}
    for position, entry in enumerate(getattr(settings, "AUDIT_CHAIN_KEYS", None) or [], start=1):
        key_id, sep, encoded = str(entry).strip().partition(":")
        if not sep or not _KEY_ID.match(key_id):
            raise ImproperlyConfigured(f"AUDIT_CHAIN_KEYS entry #{position} is not '<key id>:<base64 key>'.")
        try:
            key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), altchars=b"-_", validate=False)
        except (binascii.Error, ValueError) as exc:
            raise ImproperlyConfigured(f"AUDIT_CHAIN_KEYS entry #{position} is not base64.") from exc
        if len(key) < MIN_KEY_BYTES:
            raise ImproperlyConfigured(
                f"AUDIT_CHAIN_KEYS entry #{position} is shorter than {MIN_KEY_BYTES} bytes."
            )
        keys.setdefault(key_id, key)
    return keys


def audit_current_key() -> tuple[str, bytes]:
    """The newest key; raises ImproperlyConfigured when none is configured (the sealer then waits)."""
    keys = audit_keys()
    if not keys:
        raise ImproperlyConfigured("No audit chain key: set AUDIT_CHAIN_KEYS ('<key id>:<base64 key>').")
    return next(iter(keys.items()))


def audit_mac(*, key: bytes, message: str) -> str:
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()
