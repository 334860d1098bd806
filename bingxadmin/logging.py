"""Structured log output with secrets redacted before anything is written.

One configuration (`logging_config`) serves Django (settings.LOGGING), gunicorn (gunicorn.conf.py
`logconfig_dict`) and the Celery worker and beat (bingxadmin/celery.py hands Celery's logging over
to it), so every process writes the same format through the same redaction filter.

Redacted: `signature=<hex>` query strings, `secret=…`/`apiKey: …`/`password=…`-style pairs, Fernet
tokens (our encrypted secrets), anything that looks like a BingX API key or secret (64 mixed-case
alphanumerics), and every value registered with `exchange.redaction.secret_register` (exact match).

Only stderr is written to (one console handler); no log file is opened.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from typing import Any

from exchange.redaction import secrets_registered

__all__ = [
    "REDACTED",
    "JsonFormatter",
    "RedactSecretsFilter",
    "TextFormatter",
    "logging_config",
    "redact",
]

REDACTED = "[REDACTED]"

_PAIR_NAMES = (
    r"secret|secret_key|secretKey|api_secret|apiSecret|password|passwd|api_key|apiKey|"
    r"X-BX-APIKEY|FIELD_ENCRYPTION_KEYS|AUDIT_CHAIN_KEYS|DJANGO_SECRET_KEY|authorization|sessionid|csrftoken"
)
# Values that must never reach a log line: signatures, secrets, API keys, passwords, Fernet tokens.
_PATTERNS: list[tuple[re.Pattern[str], bool]] = [
    # (pattern, keep group 1) — group 1 is the part before the value (the name), kept for context.
    (re.compile(r"(signature=)[0-9a-fA-F]{16,}"), True),
    (re.compile(rf"((?:{_PAIR_NAMES})[\"']?\s*[:=]\s*[\"']?)[^\s\"'&,;}}\]]+", re.IGNORECASE), True),
    (re.compile(r"gAAAAA[0-9A-Za-z_\-=]{20,}"), False),  # Fernet ciphertext (a stored secret)
    # BingX API keys and secrets: long runs of mixed-case letters and digits. Lower-case hex (hashes,
    # payload digests) and UUIDs do not match, so they stay readable.
    (
        re.compile(
            r"(?<![0-9A-Za-z])(?=[0-9A-Za-z]*[a-z])(?=[0-9A-Za-z]*[A-Z])(?=[0-9A-Za-z]*[0-9])[0-9A-Za-z]{40,}"
        ),
        False,
    ),
]


def _keep_name(match: re.Match[str]) -> str:
    return match.group(1) + REDACTED


def redact(text: str) -> str:
    for value in secrets_registered():
        if value in text:
            text = text.replace(value, REDACTED)
    for pattern, keep in _PATTERNS:
        text = pattern.sub(_keep_name if keep else REDACTED, text)
    return text


class RedactSecretsFilter(logging.Filter):
    """Rewrites the record in place: message, traceback and stack text are redacted once, so every
    handler and formatter after it (text or JSON) only ever sees the cleaned text."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not kill the log line
            message = f"{record.msg!r} {record.args!r}"
        cleaned = redact(message)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: easy to ship to any log store."""

    EXTRA_KEYS = ("request_id", "transfer_request", "key_set", "event", "task_id", "task_name")

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "process": record.process,
            "message": redact(record.getMessage()),
        }
        for key in self.EXTRA_KEYS:
            if hasattr(record, key):
                payload[key] = getattr(record, key)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            payload["exc"] = redact(record.exc_text)
        if record.stack_info:
            payload["stack"] = redact(record.stack_info)
        return json.dumps(payload, default=str)


class TextFormatter(logging.Formatter):
    """Human-readable lines for local runs; redacts again in case a record skipped the filter."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(process)d] %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def logging_config(*, fmt: str = "json", level: str = "INFO") -> dict[str, Any]:
    """The dictConfig for every process: one console handler (stderr), redacting, JSON or text."""
    if fmt not in ("json", "text"):
        raise ValueError(f"DJANGO_LOG_FORMAT must be json or text, not {fmt!r}")

    def ours() -> dict[str, Any]:
        return {"handlers": ["console"], "level": level, "propagate": False}

    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"redact": {"()": "bingxadmin.logging.RedactSecretsFilter"}},
        "formatters": {
            "json": {"()": "bingxadmin.logging.JsonFormatter"},
            "text": {"()": "bingxadmin.logging.TextFormatter"},
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": fmt,
                "filters": ["redact"],
            },
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            # Their own handlers elsewhere would bypass the filter: route them through ours.
            "gunicorn.error": ours(),
            "gunicorn.access": ours(),
            "celery": ours(),
            "celery.task": ours(),
            "celery.redirected": ours(),
            "django.db.backends": {"level": "WARNING"},
            "django.security.DisallowedHost": {"level": "ERROR"},
            "urllib3": {"level": "WARNING"},
        },
    }
