"""A reconciliation finding (the records sync flags a settled request with no exchange record) becomes a
`reconciliation.finding` webhook event carrying the finding's words."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from accounts.models import ApiKeySet, User
from api.models import WebhookDelivery
from api.services.webhooks import webhook_endpoint_approve, webhook_endpoint_request
from tests.stepup_support import stepup_data
from tests.transfers.records import conftest as records
from tests.transfers.records.records_support import make_request
from tests.transfers.workflow_support import member
from transfers.models import TransferKind
from transfers.records.sync import records_sync

pytestmark = pytest.mark.django_db

# The records tests' sandbox (a private rate limiter) and key set.
fast_limiter, sandbox, main_ks, requester = (
    records.fast_limiter,
    records.sandbox,
    records.main_ks,
    records.requester,
)


def test_finding_is_sent(main_ks: ApiKeySet, requester: User, settings: Any) -> None:
    settings.TRANSFER_SETTLE_WINDOW_SECONDS = 60
    settings.WEBHOOK_ALLOW_HTTP = True
    admin1 = member("admin1", "administrator", is_staff=True)
    admin2 = member("admin2", "administrator", is_staff=True)
    endpoint, _ = webhook_endpoint_request(
        actor=admin1, url="http://127.0.0.1:9/", event_types=["reconciliation.finding"]
    )
    webhook_endpoint_approve(actor=admin2, endpoint_id=endpoint.pk, stepup=stepup_data(admin2))
    lost = make_request(
        key_set=main_ks,
        user=requester,
        kind=TransferKind.WALLET,
        amount="999",
        from_wallet="fund",
        to_wallet="spot",
        submitted_ago=timedelta(minutes=5),
    )
    assert records_sync(key_set_id=main_ks.pk, sources=["asset"]).flagged == 1
    (delivery,) = WebhookDelivery.objects.all()
    assert delivery.event_type == "reconciliation.finding"
    data = delivery.payload["data"]
    assert data["request"]["id"] == lost.pk
    assert data["request"]["needs_attention"] is False or data["request"]["needs_attention"] is True
    assert "No exchange record" in data["finding"]
    records_sync(key_set_id=main_ks.pk, sources=["asset"])  # flagged once: no second event
    assert WebhookDelivery.objects.count() == 1
