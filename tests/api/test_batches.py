"""Batches through the API: submitted and cancelled with the batch services, refusals per leg, and the
batch.progress webhook event."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.models import ApiKeySet, User
from api.models import WebhookDelivery
from api.services.webhooks import webhook_endpoint_approve, webhook_endpoint_request
from tests.api.conftest import ApiClient, token_for
from tests.stepup_support import stepup_data
from transfers.models import BatchStatus, Status, TransferBatch, TransferRequest

pytestmark = pytest.mark.django_db


def leg(key_set: ApiKeySet, amount: str = "5", account: str = "10000002") -> dict[str, Any]:
    return {
        "key_set_id": key_set.pk,
        "kind": "inner",
        "asset": "USDT",
        "amount": amount,
        "fields": {"recipient_type": 1, "recipient_account": account, "wallet_type": 1},
    }


def test_batch_submitted_read_and_cancelled(alice: User, key_set: ApiKeySet) -> None:
    api = ApiClient(token_for(alice)[1])
    created = api.post("/batches", {"legs": [leg(key_set), leg(key_set, "7")], "note": "nightly"}, key="b1")
    assert created.status_code == 201, created.content
    batch = created.json()
    assert batch["status"] == "pending"
    assert batch["progress"]["waiting"] == 2
    assert len(batch["legs"]) == 2
    assert (
        api.post("/batches", {"legs": [leg(key_set), leg(key_set, "7")], "note": "nightly"}, key="b1").json()
        == batch
    )
    assert TransferBatch.objects.count() == 1
    assert api.get(f"/batches/{batch['id']}").json()["id"] == batch["id"]
    cancelled = api.post(f"/batches/{batch['id']}/cancel", key="b1-cancel")
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == BatchStatus.CANCELLED
    assert set(TransferRequest.objects.values_list("status", flat=True)) == {Status.CANCELLED}


def test_batch_refusal_names_the_leg(alice: User, key_set: ApiKeySet) -> None:
    response = ApiClient(token_for(alice)[1]).post(
        "/batches", {"legs": [leg(key_set), leg(key_set, account="99999999")]}
    )
    assert response.status_code == 422
    problem = response.json()
    assert problem["type"].endswith("/request-refused")
    assert [e["pointer"] for e in problem["errors"]] == ["/legs/1"]
    assert not TransferBatch.objects.exists()


def test_someone_elses_batch_cannot_be_cancelled(alice: User, carol: User, key_set: ApiKeySet) -> None:
    batch = ApiClient(token_for(alice)[1]).post("/batches", {"legs": [leg(key_set)]}).json()
    response = ApiClient(token_for(carol)[1]).post(f"/batches/{batch['id']}/cancel")
    assert response.status_code == 403
    assert TransferBatch.objects.get().status == BatchStatus.PENDING


@pytest.mark.django_db(transaction=True)
def test_a_leg_changing_sends_batch_progress(
    alice: User,
    admin1: User,
    admin2: User,
    key_set: ApiKeySet,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from api import dispatch

    monkeypatch.setattr(dispatch, "webhook_deliver_enqueue", lambda **kwargs: None)
    settings.WEBHOOK_ALLOW_HTTP = True
    endpoint, _ = webhook_endpoint_request(
        actor=admin1, url="http://127.0.0.1:9/", event_types=["batch.progress"]
    )
    webhook_endpoint_approve(actor=admin2, endpoint_id=endpoint.pk, stepup=stepup_data(admin2))
    api = ApiClient(token_for(alice)[1])
    batch = api.post("/batches", {"legs": [leg(key_set), leg(key_set, "7")]}).json()
    api.post(f"/batches/{batch['id']}/cancel", key="cancel")
    progress = [d.payload["data"] for d in WebhookDelivery.objects.order_by("pk")]
    assert [p["batch"]["progress"]["failed"] for p in progress] == [1, 2]  # cancelled legs count as failed
    assert {p["leg"] for p in progress} == set(batch["legs"])
