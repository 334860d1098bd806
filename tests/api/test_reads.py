"""Every read operation by every role: what a person may see in the browser is what their token sees."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import ApiKeySet, BalanceSnapshot, User
from tests.api.conftest import ApiClient, token_for
from tests.transfers.workflow_support import new_request
from transfers.models import DailyLimit, PolicyRule, RecordSource, TransferRecord

pytestmark = pytest.mark.django_db


@pytest.fixture
def desk(alice: User, key_set: ApiKeySet) -> dict[str, Any]:
    now = timezone.now()
    ApiKeySet.objects.filter(pk=key_set.pk).update(balances_synced_at=now)
    BalanceSnapshot.objects.create(
        key_set=key_set, wallet="spot", asset="USDT", free=Decimal("1000.5"), taken_at=now
    )
    record = TransferRecord.objects.create(
        key_set=key_set,
        source=RecordSource.INNER,
        exchange_id="x-1",
        asset="USDT",
        amount=Decimal("7"),
        occurred_at=now,
    )
    DailyLimit.objects.create(key_set=key_set, asset="USDT", limit=Decimal("5000"))
    PolicyRule.objects.create(name="big ones", key_set=key_set, asset="USDT", required_approvals=2)
    req = new_request(requester=alice, key_set=key_set)
    return {"key_set": key_set.pk, "request": req.pk, "record": record.pk}


READS = [
    ("/key-sets", lambda d: d["key_set"] in [r["id"] for r in d["json"]["results"]]),
    ("/key-sets/{key_set}", lambda d: d["json"]["id"] == d["key_set"]),
    ("/key-sets/{key_set}/balances", lambda d: d["json"]["wallets"][1]["assets"][0]["free"] == "1000.5"),
    ("/key-sets/{key_set}/balances/history", lambda d: d["json"]["results"][0]["asset"] == "USDT"),
    ("/records", lambda d: [r["id"] for r in d["json"]["results"]] == [d["record"]]),
    ("/requests", lambda d: [r["id"] for r in d["json"]["results"]] == [d["request"]]),
    ("/requests/{request}", lambda d: d["json"]["status"] == "pending"),
    ("/batches", lambda d: d["json"]["results"] == []),
    (
        "/policy",
        lambda d: (
            d["json"]["daily_limits"] == [{"key_set_id": d["key_set"], "asset": "USDT", "limit": "5000"}]
        ),
    ),
]
ROLES = ["alice", "bob", "victor", "admin1", "stranger"]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("path", "sees"), READS, ids=[r[0] for r in READS])
def test_read_by_role(
    role: str, path: str, sees: Any, desk: dict[str, Any], request: pytest.FixtureRequest
) -> None:
    user: User = request.getfixturevalue(role)
    response = ApiClient(token_for(user, scope="read")[1]).get(path.format(**desk))
    if role == "stranger":  # no grant on the key set: it does not exist for them
        if "{" in path:
            assert response.status_code == 404
            assert response["Content-Type"] == "application/problem+json"
        else:
            assert response.status_code == 200
            body = response.json()
            assert body.get("results", []) == [] or path == "/policy"
            if path == "/policy":
                assert body["daily_limits"] == []
                assert body["rules"] == []
        return
    assert response.status_code == 200, response.content
    assert sees({**desk, "json": response.json()})


def test_policy_shows_rules_for_every_key_set_and_the_key_sets_own(alice: User, desk: dict[str, Any]) -> None:
    PolicyRule.objects.create(name="everyone", required_approvals=1)
    rules = ApiClient(token_for(alice)[1]).get("/policy").json()["rules"]
    assert {r["name"] for r in rules} == {"everyone", "big ones"}
