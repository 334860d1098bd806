"""Webhook signatures: HMAC-SHA256 over "<timestamp>.<body>" with the endpoint's secret (docs/api.md).

Pure functions, shared by the sender and by tests; a receiver needs nothing but the standard library
(the recipe in docs/api.md and docs/examples/request_and_wait.py repeat these few lines).
"""

from __future__ import annotations

import hashlib
import hmac
import time

TIMESTAMP_HEADER = "X-Bingxadmin-Timestamp"
SIGNATURE_HEADER = "X-Bingxadmin-Signature"
EVENT_HEADER = "X-Bingxadmin-Event"
DELIVERY_HEADER = "X-Bingxadmin-Delivery"
REPLAY_WINDOW_SECONDS = 300


def signature_of(*, secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def signature_verify(
    *,
    secret: str,
    timestamp: str,
    signature: str,
    body: bytes,
    now: float | None = None,
    window: int = REPLAY_WINDOW_SECONDS,
) -> bool:
    """True when `signature` is ours for this body and timestamp, and the timestamp is within `window`."""
    try:
        ts = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs((now if now is not None else time.time()) - ts) > window:
        return False
    return hmac.compare_digest(signature_of(secret=secret, timestamp=ts, body=body), signature)
