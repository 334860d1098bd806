"""Exact values that must never reach a log line (decrypted API keys and secrets), per process.

Whoever decrypts a secret registers it here (accounts.crypto does); the log filter in
bingxadmin.logging replaces every registered value before a line is written. Pure Python with no
imports from the rest of the desk, so any layer may register and gunicorn's config may read it.
"""

from __future__ import annotations

import threading

MIN_LENGTH = 8  # shorter values would redact ordinary words

_known: set[str] = set()
_longest_first: tuple[str, ...] = ()
_lock = threading.Lock()


def secret_register(value: str) -> None:
    """Redact this exact value from every later log line of this process (e.g. a decrypted secret)."""
    global _longest_first
    if value and len(value) >= MIN_LENGTH:
        with _lock:
            if value not in _known:
                _known.add(value)
                _longest_first = tuple(sorted(_known, key=len, reverse=True))


def secrets_registered() -> tuple[str, ...]:
    """Every registered value, longest first (a value containing another one is replaced whole)."""
    return _longest_first
