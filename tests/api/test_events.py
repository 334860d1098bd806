"""Which status changes become webhook events: recorded in the change's own transaction (the outbox)."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.models import ApiKeySet, User
from api.models import EventType, WebhookDelivery
from api.services.webhooks import webhook_endpoint_approve, webhook_endpoint_request
from tests.stepup_support import stepup_data
from tests.transfers.workflow_support import new_request
from transfers.lifecycle import transition
from transfers.models import Status

pytestmark = pytest.mark.django_db


@pytest.fixture
def endpoint(admin1: User, admin2: User, settings: Any) -> int:
    settings.WEBHOOK_ALLOW_HTTP = True
    created, _ = webhook_endpoint_request(
        actor=admin1, url="http://127.0.0.1:9/", event_types=EventType.values
    )
    webhook_endpoint_approve(actor=admin2, endpoint_id=created.pk, stepup=stepup_data(admin2))
    return created.pk


def types() -> list[str]:
    return list(WebhookDelivery.objects.order_by("pk").values_list("event_type", flat=True))


def test_the_life_of_a_request_as_events(endpoint: int, alice: User, key_set: ApiKeySet) -> None:
    req = new_request(requester=alice, key_set=key_set)
    steps = [
        (Status.PENDING, Status.APPROVED, "transfer.approve"),
        (Status.APPROVED, Status.SUBMITTING, None),  # the claim: bookkeeping
        (Status.SUBMITTING, Status.APPROVED, None),  # released, nothing sent: not a second approval
        (Status.APPROVED, Status.SUBMITTING, None),
        (Status.SUBMITTING, Status.UNKNOWN, "transfer.unknown"),
        (Status.UNKNOWN, Status.SUCCEEDED, "transfer.reconcile"),
    ]
    for source, target, verb in steps:
        assert transition(request=req, from_statuses=(source,), to_status=target, verb=verb)
    assert types() == ["request.created", "request.approved", "request.unknown", "request.succeeded"]


def test_a_change_that_rolls_back_leaves_no_event(endpoint: int, alice: User, key_set: ApiKeySet) -> None:
    from django.db import transaction

    req = new_request(requester=alice, key_set=key_set)

    def expire_then_fail() -> None:
        with transaction.atomic():
            transition(
                request=req, from_statuses=(Status.PENDING,), to_status=Status.EXPIRED, verb="transfer.expire"
            )
            raise RuntimeError("the caller's transaction fails")

    with pytest.raises(RuntimeError):
        expire_then_fail()
    assert types() == ["request.created"]


def test_no_endpoint_no_delivery(alice: User, key_set: ApiKeySet) -> None:
    new_request(requester=alice, key_set=key_set)
    assert types() == []
