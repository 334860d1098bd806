"""Structured log output with secrets redacted before anything is written."""

import json
import logging
import re
from datetime import UTC, datetime

# Values that must never reach a log line: signatures, secrets, API keys, passwords, Fernet tokens.
_PATTERNS = [
    re.compile(r"(signature=)[0-9a-fA-F]{16,}"),
    re.compile(r"((?:secret|secret_key|secretKey|password|api_key|apiKey|X-BX-APIKEY)[\"']?\s*[:=]\s*[\"']?)[^\s\"'&,}]+"),
    re.compile(r"gAAAAA[0-9A-Za-z_\-=]{20,}"),  # Fernet ciphertext
]


def redact(text: str) -> str:
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + "[REDACTED]", text)
    return text


class RedactSecretsFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: easy to ship to any log store."""

    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("request_id", "transfer_request", "key_set", "event"):
            if hasattr(record, key):
                payload[key] = getattr(record, key)
        if record.exc_info:
            payload["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(payload, default=str)
