"""Signed webhooks: endpoints proposed by one administrator and approved by a second (accounts.four_eyes),
events recorded as deliveries inside the transaction of the change, each delivery attempted by a
Celery task with exponential back-off; an endpoint failing for WEBHOOK_PAUSE_AFTER_SECONDS is paused
and the administrators are emailed."""

from __future__ import annotations

import json
import logging
import secrets
import time
import uuid
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

import requests
from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from accounts.access import ADMIN_GROUP, ensure_admin
from accounts.audit import audit_record
from accounts.crypto import SecretUnavailable, secret_decrypt, secret_encrypt
from accounts.four_eyes import decision_stepup, proposal_decide, proposal_lock_pending, second_person_ensure
from accounts.models import User
from api import dispatch
from api.models import (
    DeliveryStatus,
    EndpointStatus,
    EventType,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from api.payloads import batch_counts, request_data
from api.signing import DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, signature_of
from transfers.events import CREATED, FINDING
from transfers.models import Status, TransferRequest

log = logging.getLogger(__name__)

SECRET_PREFIX = "whsec_"
WEBHOOK_SUBJECT = "webhook-endpoint"
WEBHOOK_PURPOSE = "webhook.{decision}"

# A request's event for each new status (SUBMITTING and an execution's release back to APPROVED are
# bookkeeping: no event).
STATUS_EVENTS = {
    Status.APPROVED: EventType.REQUEST_APPROVED,
    Status.REJECTED: EventType.REQUEST_REJECTED,
    Status.CANCELLED: EventType.REQUEST_CANCELLED,
    Status.SUCCEEDED: EventType.REQUEST_SUCCEEDED,
    Status.FAILED: EventType.REQUEST_FAILED,
    Status.UNKNOWN: EventType.REQUEST_UNKNOWN,
    Status.STALE: EventType.REQUEST_STALE,
    Status.EXPIRED: EventType.REQUEST_EXPIRED,
}


class WebhookRefused(Exception):
    """The message is safe to show."""


def _state(endpoint: WebhookEndpoint) -> dict[str, Any]:  # never the secret
    return {
        "url": endpoint.url,
        "description": endpoint.description,
        "event_types": endpoint.event_types,
        "status": endpoint.status,
    }


def _url_clean(url: str) -> str:
    url = (url or "").strip()
    if not url.startswith(("https://", "http://")) or len(url) > 500 or " " in url:
        raise WebhookRefused("Give the endpoint's full http(s) URL (at most 500 characters).")
    if url.startswith("http://") and not settings.WEBHOOK_ALLOW_HTTP:
        raise WebhookRefused("Webhook endpoints must use https.")
    return url


def _event_types_clean(event_types: Iterable[str]) -> list[str]:
    chosen = sorted(set(event_types))
    unknown = [e for e in chosen if e not in EventType.values]
    if unknown or not chosen:
        raise WebhookRefused("Choose at least one event type from the list.")
    return chosen


@transaction.atomic
def webhook_endpoint_request(
    *, actor: User, url: str, event_types: Iterable[str], description: str = "", ip: str | None = None
) -> tuple[WebhookEndpoint, str]:
    """An administrator proposes an endpoint; it receives nothing until a second one approves. Returns
    the endpoint and its signing secret, shown once to the proposer (stored encrypted)."""
    ensure_admin(user=actor)
    clean_url = _url_clean(url)
    types = _event_types_clean(event_types)
    description = (description or "").strip()[:200]
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    row_uuid = uuid.uuid4()
    endpoint = WebhookEndpoint.objects.create(
        uuid=row_uuid,
        url=clean_url,
        description=description,
        event_types=types,
        secret_encrypted=secret_encrypt(plaintext=secret, key_set_uuid=row_uuid),
        requested_by=actor,
    )
    audit_record(actor=actor, verb="webhook.request", obj=endpoint, after=_state(endpoint), ip=ip)
    return endpoint, secret


def _decide(
    *, actor: User, endpoint_id: int, decision: str, status: str, stepup: Mapping[str, str], ip: str | None
) -> WebhookEndpoint:
    ensure_admin(user=actor)
    decision_stepup(
        decider=actor,
        subject=WEBHOOK_SUBJECT,
        object_id=endpoint_id,
        decision=decision,
        purpose=WEBHOOK_PURPOSE.format(decision=decision),
        stepup=stepup,
        refuse=WebhookRefused,
        ip=ip,
    )
    with transaction.atomic():
        endpoint = proposal_lock_pending(
            queryset=WebhookEndpoint.objects.all(),
            pk=endpoint_id,
            decider=actor,
            pending=EndpointStatus.PENDING,
            what="webhook endpoint",
            refused=WebhookRefused,
        )
        second_person_ensure(
            decider=actor,
            makers=[endpoint.requested_by_id],
            refused=WebhookRefused,
            message="A second administrator must decide an endpoint you proposed yourself.",
        )
        return proposal_decide(
            proposal=endpoint, status=status, decider=actor, verb=f"webhook.{decision}", state=_state, ip=ip
        )


def webhook_endpoint_approve(
    *, actor: User, endpoint_id: int, stepup: Mapping[str, str], ip: str | None = None
) -> WebhookEndpoint:
    return _decide(
        actor=actor,
        endpoint_id=endpoint_id,
        decision="approve",
        status=EndpointStatus.ACTIVE,
        stepup=stepup,
        ip=ip,
    )


def webhook_endpoint_reject(
    *, actor: User, endpoint_id: int, stepup: Mapping[str, str], ip: str | None = None
) -> WebhookEndpoint:
    return _decide(
        actor=actor,
        endpoint_id=endpoint_id,
        decision="reject",
        status=EndpointStatus.REJECTED,
        stepup=stepup,
        ip=ip,
    )


def _lock(*, actor: User, endpoint_id: int) -> WebhookEndpoint:
    ensure_admin(user=actor)
    endpoint = WebhookEndpoint.objects.select_for_update().filter(pk=endpoint_id).first()
    if endpoint is None:
        raise WebhookRefused("No such webhook endpoint.")
    return endpoint


@transaction.atomic
def webhook_endpoint_remove(*, actor: User, endpoint_id: int, ip: str | None = None) -> WebhookEndpoint:
    """Stop sending to an endpoint at once (one administrator suffices: it only takes a channel away)."""
    endpoint = _lock(actor=actor, endpoint_id=endpoint_id)
    if endpoint.status not in (EndpointStatus.ACTIVE, EndpointStatus.PAUSED, EndpointStatus.PENDING):
        raise WebhookRefused(f"This endpoint is not in use ({endpoint.get_status_display()}).")
    return proposal_decide(
        proposal=endpoint,
        status=EndpointStatus.REMOVED,
        decider=actor,
        verb="webhook.remove",
        state=_state,
        ip=ip,
    )


@transaction.atomic
def webhook_endpoint_resume(*, actor: User, endpoint_id: int, ip: str | None = None) -> WebhookEndpoint:
    """Resume a paused endpoint (its URL was approved under four eyes); its unfinished deliveries go again."""
    endpoint = _lock(actor=actor, endpoint_id=endpoint_id)
    if endpoint.status != EndpointStatus.PAUSED:
        raise WebhookRefused("Only a paused endpoint can be resumed.")
    before = _state(endpoint)
    endpoint.status = EndpointStatus.ACTIVE
    endpoint.failing_since = None
    endpoint.paused_at = None
    endpoint.save(update_fields=["status", "failing_since", "paused_at"])
    audit_record(
        actor=actor, verb="webhook.resume", obj=endpoint, before=before, after=_state(endpoint), ip=ip
    )
    for pk in endpoint.deliveries.filter(status=DeliveryStatus.RETRYING).values_list("pk", flat=True):
        _enqueue_on_commit(delivery_id=pk)
    return endpoint


@transaction.atomic
def webhook_redeliver(*, actor: User, delivery_id: int, ip: str | None = None) -> WebhookDelivery:
    """An administrator sends a delivery again now (whatever its status), to an active endpoint."""
    ensure_admin(user=actor)
    delivery = (
        WebhookDelivery.objects.select_for_update().select_related("endpoint").filter(pk=delivery_id).first()
    )
    if delivery is None:
        raise WebhookRefused("No such delivery.")
    if delivery.endpoint.status != EndpointStatus.ACTIVE:
        raise WebhookRefused(
            f"The endpoint is not active ({delivery.endpoint.get_status_display()}): resume it first."
        )
    audit_record(
        actor=actor,
        verb="webhook.redeliver",
        obj=delivery.endpoint,
        after={
            "delivery": delivery.pk,
            "event_id": str(delivery.event_id),
            "event_type": delivery.event_type,
        },
        ip=ip,
    )
    _enqueue_on_commit(delivery_id=delivery.pk, manual=True)
    return delivery


# --- events --------------------------------------------------------------------------------------


def _enqueue_on_commit(*, delivery_id: int, countdown: float = 0, manual: bool = False) -> None:
    transaction.on_commit(
        lambda: dispatch.webhook_deliver_enqueue(delivery_id=delivery_id, countdown=countdown, manual=manual),
        robust=True,
    )


def _events_for(*, request: TransferRequest, event: str, detail: str) -> list[tuple[str, dict[str, Any]]]:
    events: list[tuple[str, dict[str, Any]]] = []
    if event == CREATED:
        events.append((EventType.REQUEST_CREATED, {"request": request_data(request)}))
    elif event == FINDING:
        events.append(
            (EventType.RECONCILIATION_FINDING, {"request": request_data(request), "finding": detail})
        )
    elif event in STATUS_EVENTS:
        events.append((STATUS_EVENTS[Status(event)], {"request": request_data(request)}))
    if request.batch_id is not None and event != Status.SUBMITTING and events:
        events.append(
            (
                EventType.BATCH_PROGRESS,
                {
                    "batch": {"id": request.batch_id, "progress": batch_counts(request.batch_id)},
                    "leg": request.pk,
                },
            )
        )
    return events


def webhook_events_record(
    *, request: TransferRequest, event: str, previous: str = "", detail: str = ""
) -> int:
    """Inside the change's transaction: one delivery per subscribed active endpoint and event (the table
    is the outbox), each enqueued on commit. Returns how many deliveries were recorded."""
    if event not in (CREATED, FINDING) and event not in STATUS_EVENTS:
        return 0  # the claim of an execution (SUBMITTING): bookkeeping, no event
    if event == Status.APPROVED and previous != Status.PENDING:
        return 0  # an execution released back to APPROVED (nothing was sent): not a new approval
    endpoints = list(WebhookEndpoint.objects.filter(status=EndpointStatus.ACTIVE))
    if not endpoints:
        return 0
    count = 0
    now = timezone.now()
    for event_type, data in _events_for(request=request, event=event, detail=detail):
        for endpoint in endpoints:
            if event_type not in endpoint.event_types:
                continue
            delivery = WebhookDelivery(endpoint=endpoint, event_type=event_type, payload={})
            delivery.payload = {
                "id": str(delivery.event_id),
                "type": event_type,
                "created_at": now.isoformat(),
                "data": data,
            }
            delivery.save()
            _enqueue_on_commit(delivery_id=delivery.pk)
            count += 1
    return count


# --- delivery ------------------------------------------------------------------------------------


def retry_delay(attempts: int) -> float:
    """Exponential back-off: base, 2 * base, 4 * base … capped."""
    base = float(settings.WEBHOOK_RETRY_BASE_SECONDS)
    return float(min(base * (2 ** max(0, attempts - 1)), settings.WEBHOOK_RETRY_MAX_SECONDS))


def _send(*, endpoint: WebhookEndpoint, delivery: WebhookDelivery) -> tuple[int | None, str]:
    try:
        secret = secret_decrypt(token=endpoint.secret_encrypted, key_set_uuid=endpoint.uuid)
    except SecretUnavailable:  # a wrong or missing FIELD_ENCRYPTION_KEYS: an attempt that sent nothing
        return None, "signing secret unavailable"
    body = json.dumps(delivery.payload, sort_keys=True, separators=(",", ":")).encode("utf-8")
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "bingxadmin-webhooks/1",
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature_of(secret=secret, timestamp=timestamp, body=body),
        EVENT_HEADER: delivery.event_type,
        DELIVERY_HEADER: str(delivery.event_id),
    }
    try:
        response = requests.post(
            endpoint.url,
            data=body,
            headers=headers,
            timeout=(settings.WEBHOOK_TIMEOUT_CONNECT, settings.WEBHOOK_TIMEOUT_READ),
            allow_redirects=False,
        )
    except requests.RequestException as exc:
        return None, type(exc).__name__
    if 200 <= response.status_code < 300:
        return response.status_code, ""
    return response.status_code, f"HTTP {response.status_code}"


def _admins_tell_paused(endpoint: WebhookEndpoint) -> None:
    admins = User.objects.filter(is_active=True, groups__name=ADMIN_GROUP).exclude(email="").distinct()
    body = (
        f"The webhook endpoint {endpoint.url} has failed every delivery since "
        f"{endpoint.failing_since:%Y-%m-%d %H:%M} UTC and is paused: nothing more is sent to it.\n\n"
        f"Fix the receiver, then resume it: {settings.SITE_URL.rstrip('/')}/webhooks/{endpoint.pk}/\n"
    )
    for admin in admins:
        try:
            send_mail(
                f"[bingxadmin] Webhook endpoint paused: {endpoint.url}",
                body,
                settings.DEFAULT_FROM_EMAIL,
                [admin.email],
            )
        except Exception:
            log.exception("could not tell %s that a webhook endpoint was paused", admin.pk)


def webhook_deliver(*, delivery_id: int, manual: bool = False) -> str:
    """One attempt of one delivery (the task's body). Returns the delivery's status afterwards."""
    delivery = WebhookDelivery.objects.select_related("endpoint").filter(pk=delivery_id).first()
    if delivery is None:
        return "missing"
    endpoint = delivery.endpoint
    if endpoint.status != EndpointStatus.ACTIVE:
        return delivery.status  # paused or removed: nothing is sent (resume re-enqueues the retrying ones)
    if delivery.status in (DeliveryStatus.DELIVERED, DeliveryStatus.GAVE_UP) and not manual:
        return delivery.status  # a duplicate message
    started = timezone.now()
    t0 = time.monotonic()
    http_status, error = _send(endpoint=endpoint, delivery=delivery)
    duration = int((time.monotonic() - t0) * 1000)
    ok = not error
    tell = False
    with transaction.atomic():
        WebhookAttempt.objects.create(
            delivery=delivery,
            at=started,
            http_status=http_status,
            error=error,
            duration_ms=duration,
            manual=manual,
        )
        delivery = WebhookDelivery.objects.select_for_update().get(pk=delivery.pk)
        endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        delivery.attempt_count += 1
        if ok:
            delivery.status = DeliveryStatus.DELIVERED
            delivery.delivered_at = timezone.now()
            delivery.next_attempt_at = None
            if endpoint.failing_since is not None:
                endpoint.failing_since = None
                endpoint.save(update_fields=["failing_since"])
        else:
            now = timezone.now()
            if endpoint.failing_since is None:
                endpoint.failing_since = started
                endpoint.save(update_fields=["failing_since"])
            pause_after = timedelta(seconds=settings.WEBHOOK_PAUSE_AFTER_SECONDS)
            if endpoint.status == EndpointStatus.ACTIVE and now - endpoint.failing_since >= pause_after:
                endpoint.status = EndpointStatus.PAUSED
                endpoint.paused_at = now
                endpoint.save(update_fields=["status", "paused_at"])
                audit_record(
                    actor=None,
                    verb="webhook.pause",
                    obj=endpoint,
                    after={**_state(endpoint), "failing_since": endpoint.failing_since.isoformat()},
                )
                tell = True
            if delivery.attempt_count >= settings.WEBHOOK_MAX_ATTEMPTS:
                delivery.status = DeliveryStatus.GAVE_UP
                delivery.next_attempt_at = None
            else:
                delivery.status = DeliveryStatus.RETRYING
                if endpoint.status == EndpointStatus.ACTIVE and not manual:
                    delay = retry_delay(delivery.attempt_count)
                    delivery.next_attempt_at = now + timedelta(seconds=delay)
                    _enqueue_on_commit(delivery_id=delivery.pk, countdown=delay)
        delivery.save(update_fields=["attempt_count", "status", "delivered_at", "next_attempt_at"])
    if tell:
        _admins_tell_paused(endpoint)
    return delivery.status


def endpoints_list(*, actor: User) -> list[WebhookEndpoint]:
    ensure_admin(user=actor)
    return list(WebhookEndpoint.objects.select_related("requested_by", "decided_by"))


def endpoint_get(*, actor: User, endpoint_id: int) -> WebhookEndpoint:
    ensure_admin(user=actor)
    return WebhookEndpoint.objects.select_related("requested_by", "decided_by").get(pk=endpoint_id)
