"""Optional delivery of each audit checkpoint to a second place outside the database: by email
(AUDIT_CHECKPOINT_EMAIL, a list of addresses) and/or by webhook (AUDIT_CHECKPOINT_WEBHOOK_URL,
signed with AUDIT_CHECKPOINT_WEBHOOK_SECRET).

The file checkpoint is written first and stays the record (accounts.audit_checkpoints); delivery is a
Celery task per channel, enqueued after the file write, retried with back-off, and never able to stop
or slow the writer: a broker that cannot take the message, a mail server or a webhook that fails, is
logged — without the webhook's secret, path or query (only its host) — and the next checkpoint is
delivered as usual. The receiver gets the checkpoint exactly as the file line holds it, so it can
compare the two or check the checkpoint's own signature with the chain key.

Webhook: POST of the JSON checkpoint (keys sorted, compact), `Content-Type: application/json`, and
`X-Bingxadmin-Signature: sha256=<hex HMAC-SHA256 of the body with the webhook secret>`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from typing import Any
from urllib.parse import urlsplit

import requests
from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Bingxadmin-Signature"
WEBHOOK_TIMEOUT_S = 10
MAX_RETRIES = 8  # back-off 2, 4, … capped at 10 min: about half an hour of trying


class DeliveryFailed(Exception):
    """A delivery that may succeed later; its message never carries a secret or a full URL."""


def checkpoint_body(checkpoint: dict[str, Any]) -> bytes:
    return json.dumps(checkpoint, sort_keys=True, separators=(",", ":")).encode()


def webhook_signature(*, secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _host(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or "?"
    return f"{host}:{parts.port}" if parts.port else host


def audit_checkpoint_deliver_email(*, checkpoint: dict[str, Any]) -> int:
    """Send the checkpoint to every AUDIT_CHECKPOINT_EMAIL address; returns how many were sent."""
    addresses = list(settings.AUDIT_CHECKPOINT_EMAIL)
    if not addresses:
        return 0
    subject = f"[bingxadmin] Audit checkpoint: position {checkpoint['index']}, seq {checkpoint['seq']}"
    body = (
        "A signed checkpoint of the audit chain's head. Keep this message: `manage.py audit_verify_chain`\n"
        "compares the chain with every checkpoint, and this line is the same as the one appended to the\n"
        "checkpoint file.\n\n" + checkpoint_body(checkpoint).decode() + "\n"
    )
    try:
        return send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, addresses)
    except OSError as exc:  # smtplib's errors are OSErrors too
        raise DeliveryFailed(f"email: {type(exc).__name__}") from None


def audit_checkpoint_deliver_webhook(*, checkpoint: dict[str, Any]) -> int:
    """POST the checkpoint to AUDIT_CHECKPOINT_WEBHOOK_URL; returns the HTTP status."""
    url = settings.AUDIT_CHECKPOINT_WEBHOOK_URL
    if not url:
        return 0
    body = checkpoint_body(checkpoint)
    headers = {"Content-Type": "application/json"}
    secret = settings.AUDIT_CHECKPOINT_WEBHOOK_SECRET
    if secret:
        headers[SIGNATURE_HEADER] = webhook_signature(secret=secret, body=body)
    try:
        response = requests.post(url, data=body, headers=headers, timeout=WEBHOOK_TIMEOUT_S)
    except requests.RequestException as exc:  # its text names the whole URL: not logged
        raise DeliveryFailed(f"webhook {_host(url)}: {type(exc).__name__}") from None
    if not 200 <= response.status_code < 300:
        raise DeliveryFailed(f"webhook {_host(url)}: HTTP {response.status_code}")
    return response.status_code


def _deliver(task: Any, channel: str, checkpoint: dict[str, Any]) -> int:
    deliver = audit_checkpoint_deliver_email if channel == "email" else audit_checkpoint_deliver_webhook
    try:
        return deliver(checkpoint=checkpoint)
    except DeliveryFailed as exc:
        if task.request.retries >= MAX_RETRIES:
            logger.error(
                "audit checkpoint %s not delivered (%s), giving up after %s tries: %s",
                checkpoint.get("index"),
                channel,
                task.request.retries + 1,
                exc,
            )
            return 0
        logger.warning(
            "audit checkpoint %s not delivered (%s), will retry: %s", checkpoint.get("index"), channel, exc
        )
        countdown = min(600, 2 ** (task.request.retries + 1))
        raise task.retry(exc=exc, countdown=countdown, max_retries=MAX_RETRIES) from None


@shared_task(
    bind=True, acks_late=True, max_retries=MAX_RETRIES, soft_time_limit=50, time_limit=60, ignore_result=True
)
def audit_checkpoint_email_task(self: Any, checkpoint: dict[str, Any]) -> int:
    return _deliver(self, "email", checkpoint)


@shared_task(
    bind=True, acks_late=True, max_retries=MAX_RETRIES, soft_time_limit=50, time_limit=60, ignore_result=True
)
def audit_checkpoint_webhook_task(self: Any, checkpoint: dict[str, Any]) -> int:
    return _deliver(self, "webhook", checkpoint)


def audit_checkpoint_delivery_enqueue(*, checkpoint: dict[str, Any]) -> list[str]:
    """Hand the checkpoint to each configured channel's task; the channels enqueued. Never raises."""
    channels: list[tuple[str, Any]] = []
    if settings.AUDIT_CHECKPOINT_EMAIL:
        channels.append(("email", audit_checkpoint_email_task))
    if settings.AUDIT_CHECKPOINT_WEBHOOK_URL:
        channels.append(("webhook", audit_checkpoint_webhook_task))
    enqueued = []
    for channel, task in channels:
        try:
            task.delay(checkpoint)
        except Exception as exc:  # a broker outage must not undo or delay the file checkpoint
            logger.warning(
                "audit checkpoint %s: %s delivery not enqueued: %s",
                checkpoint.get("index"),
                channel,
                type(exc).__name__,
            )
            continue
        enqueued.append(channel)
    return enqueued
