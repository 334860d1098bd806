"""Webhooks delivered to a real HTTP receiver: four eyes on endpoints, signatures, retries with back-off,
re-delivery, pausing after a day of failures (and the administrators told)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from accounts.models import ApiKeySet, AuditEvent, User
from api import dispatch
from api.models import DeliveryStatus, EndpointStatus, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from api.services.webhooks import (
    WebhookRefused,
    retry_delay,
    webhook_deliver,
    webhook_endpoint_approve,
    webhook_endpoint_request,
    webhook_endpoint_resume,
    webhook_redeliver,
)
from api.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, signature_verify
from tests.api.receiver_support import Receiver, webhook_receiver
from tests.stepup_support import login_verified, stepup_data
from tests.transfers.workflow_support import new_request
from transfers.services.requests import transfer_request_cancel

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, float, bool]]:
    """Deliveries handed to Celery: (delivery id, countdown, manual); the tests run them."""
    calls: list[tuple[int, float, bool]] = []

    def enqueue(*, delivery_id: int, countdown: float = 0, manual: bool = False) -> None:
        calls.append((delivery_id, countdown, manual))

    monkeypatch.setattr(dispatch, "webhook_deliver_enqueue", enqueue)
    return calls


@pytest.fixture
def receiver(settings: Any) -> Iterator[Receiver]:
    settings.WEBHOOK_ALLOW_HTTP = True
    with webhook_receiver() as r:
        yield r


def active_endpoint(admin1: User, admin2: User, url: str, events: list[str] | None = None) -> tuple[int, str]:
    endpoint, secret = webhook_endpoint_request(
        actor=admin1, url=url, event_types=events or ["request.created", "request.cancelled"]
    )
    webhook_endpoint_approve(actor=admin2, endpoint_id=endpoint.pk, stepup=stepup_data(admin2))
    return endpoint.pk, secret


def run(queued: list[tuple[int, float, bool]]) -> list[str]:
    """Run what was queued (as the worker would), in order; returns the statuses."""
    done = []
    while queued:
        delivery_id, _countdown, manual = queued.pop(0)
        done.append(webhook_deliver(delivery_id=delivery_id, manual=manual))
    return done


def test_an_endpoint_needs_a_second_administrator(admin1: User, admin2: User, receiver: Receiver) -> None:
    endpoint, secret = webhook_endpoint_request(
        actor=admin1, url=receiver.url, event_types=["request.created"]
    )
    with pytest.raises(WebhookRefused, match="second administrator"):
        webhook_endpoint_approve(actor=admin1, endpoint_id=endpoint.pk, stepup=stepup_data(admin1))
    with pytest.raises(WebhookRefused, match="Nothing was changed"):
        webhook_endpoint_approve(actor=admin2, endpoint_id=endpoint.pk, stepup={"stepup_code": "000000"})
    endpoint.refresh_from_db()
    assert endpoint.status == EndpointStatus.PENDING
    webhook_endpoint_approve(actor=admin2, endpoint_id=endpoint.pk, stepup=stepup_data(admin2))
    endpoint.refresh_from_db()
    assert endpoint.status == EndpointStatus.ACTIVE
    assert endpoint.decided_by == admin2
    # The secret is encrypted at rest and appears in no audit event.
    assert secret not in endpoint.secret_encrypted
    assert secret not in json.dumps(list(AuditEvent.objects.values("before", "after")))


def test_pending_endpoint_receives_nothing(
    admin1: User, alice: User, key_set: ApiKeySet, receiver: Receiver, queued: list[Any]
) -> None:
    webhook_endpoint_request(actor=admin1, url=receiver.url, event_types=["request.created"])
    new_request(requester=alice, key_set=key_set)
    assert queued == []
    assert WebhookDelivery.objects.count() == 0


def test_signed_delivery_verifies_and_names_the_event(
    admin1: User, admin2: User, alice: User, key_set: ApiKeySet, receiver: Receiver, queued: list[Any]
) -> None:
    _, secret = active_endpoint(admin1, admin2, receiver.url)
    req = new_request(requester=alice, key_set=key_set)
    assert run(queued) == [DeliveryStatus.DELIVERED]
    (got,) = receiver.received
    assert signature_verify(
        secret=secret,
        timestamp=got.headers[TIMESTAMP_HEADER],
        signature=got.headers[SIGNATURE_HEADER],
        body=got.body,
    )
    assert not signature_verify(
        secret=secret,
        timestamp=got.headers[TIMESTAMP_HEADER],
        signature=got.headers[SIGNATURE_HEADER],
        body=got.body.replace(b"25", b"26"),
    )
    assert not signature_verify(  # replayed after the window
        secret=secret,
        timestamp=got.headers[TIMESTAMP_HEADER],
        signature=got.headers[SIGNATURE_HEADER],
        body=got.body,
        now=int(got.headers[TIMESTAMP_HEADER]) + 301,
    )
    event = json.loads(got.body)
    assert event["type"] == "request.created"
    assert event["data"]["request"]["id"] == req.pk
    assert event["data"]["request"]["status"] == "pending"
    transfer_request_cancel(request_id=req.pk, actor=alice)
    run(queued)
    assert json.loads(receiver.received[1].body)["type"] == "request.cancelled"


def test_a_500_is_retried_with_back_off_then_delivered(
    admin1: User, admin2: User, alice: User, key_set: ApiKeySet, receiver: Receiver, queued: list[Any]
) -> None:
    active_endpoint(admin1, admin2, receiver.url)
    receiver.statuses = [500, 503]
    new_request(requester=alice, key_set=key_set)
    delivery_id = queued[0][0]
    assert webhook_deliver(delivery_id=queued.pop(0)[0]) == DeliveryStatus.RETRYING
    assert queued[-1][1] == retry_delay(1)
    assert webhook_deliver(delivery_id=queued.pop(0)[0]) == DeliveryStatus.RETRYING
    assert queued[-1][1] == retry_delay(2) == 2 * retry_delay(1)
    assert webhook_deliver(delivery_id=queued.pop(0)[0]) == DeliveryStatus.DELIVERED
    assert len(receiver.received) == 3
    statuses = list(
        WebhookAttempt.objects.filter(delivery_id=delivery_id)
        .order_by("at")
        .values_list("http_status", flat=True)
    )
    assert statuses == [500, 503, 200]
    # Each attempt is signed afresh, and every one carries the same event id.
    assert len({r.headers["X-Bingxadmin-Delivery"] for r in receiver.received}) == 1


def test_manual_redelivery_from_the_page(
    admin1: User, admin2: User, alice: User, key_set: ApiKeySet, receiver: Receiver, queued: list[Any]
) -> None:
    endpoint_id, _ = active_endpoint(admin1, admin2, receiver.url)
    new_request(requester=alice, key_set=key_set)
    run(queued)
    delivery = WebhookDelivery.objects.get()
    client = Client()
    login_verified(client, admin1)
    page = client.get(f"/webhooks/{endpoint_id}/")
    assert page.status_code == 200
    assert b"Deliver again" in page.content
    response = client.post(f"/webhooks/deliveries/{delivery.pk}/redeliver/")
    assert response.status_code == 302
    assert run(queued) == [DeliveryStatus.DELIVERED]
    assert len(receiver.received) == 2
    assert receiver.received[0].body == receiver.received[1].body
    assert WebhookAttempt.objects.filter(delivery=delivery, manual=True).count() == 1
    page = client.get(f"/webhooks/{endpoint_id}/")
    assert page.content.count(b"HTTP 200") == 2
    assert b"manual" in page.content
    # Not for people who are not administrators.
    other = Client()
    login_verified(other, alice)
    assert other.post(f"/webhooks/deliveries/{delivery.pk}/redeliver/").status_code == 403


def test_failing_for_a_day_pauses_the_endpoint_and_tells_the_administrators(
    admin1: User, admin2: User, alice: User, key_set: ApiKeySet, receiver: Receiver, queued: list[Any]
) -> None:
    endpoint_id, _ = active_endpoint(admin1, admin2, receiver.url)
    User.objects.filter(pk__in=[admin1.pk, admin2.pk]).update(email="admins@example.test")
    receiver.statuses = [500] * 10
    new_request(requester=alice, key_set=key_set)
    assert run(queued[:1]) == [DeliveryStatus.RETRYING]
    queued.clear()
    WebhookEndpoint.objects.filter(pk=endpoint_id).update(failing_since=timezone.now() - dt.timedelta(days=1))
    delivery = WebhookDelivery.objects.get()
    assert webhook_deliver(delivery_id=delivery.pk) == DeliveryStatus.RETRYING
    assert WebhookEndpoint.objects.get(pk=endpoint_id).status == EndpointStatus.PAUSED
    assert queued == []  # no more retries while paused
    told = [m for m in mail.outbox if "Webhook endpoint paused" in m.subject]
    assert len(told) == 2
    assert receiver.url in told[0].subject
    assert "resume" in told[0].body
    assert AuditEvent.objects.filter(verb="webhook.pause").count() == 1
    # A paused endpoint receives nothing: neither new events nor the retries of old ones.
    before = len(receiver.received)
    new_request(requester=alice, key_set=key_set)
    run(queued)
    assert webhook_deliver(delivery_id=delivery.pk) == DeliveryStatus.RETRYING
    with pytest.raises(WebhookRefused, match="resume it first"):
        webhook_redeliver(actor=admin1, delivery_id=delivery.pk)
    assert len(receiver.received) == before
    # Resumed, its unfinished delivery goes again.
    receiver.statuses = []
    webhook_endpoint_resume(actor=admin1, endpoint_id=endpoint_id)
    assert run(queued) == [DeliveryStatus.DELIVERED]
    assert len(receiver.received) == before + 1


def test_an_undecryptable_secret_sends_nothing_and_is_recorded(
    admin1: User, admin2: User, alice: User, key_set: ApiKeySet, receiver: Receiver, queued: list[Any]
) -> None:
    endpoint_id, _ = active_endpoint(admin1, admin2, receiver.url)
    other = WebhookEndpoint.objects.get(pk=endpoint_id)
    WebhookEndpoint.objects.filter(pk=endpoint_id).update(
        secret_encrypted=other.secret_encrypted[:-8] + "AAAAAAAA"
    )
    new_request(requester=alice, key_set=key_set)
    assert run(queued[:1]) == [DeliveryStatus.RETRYING]
    assert receiver.received == []
    assert WebhookAttempt.objects.get().error == "signing secret unavailable"
