"""Fixtures of the API tests: the workflow people and key sets (tests/transfers/conftest.py), tokens."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from accounts.models import ApiKeySet, User
from api.models import ApiToken
from api.services.tokens import api_token_create
from tests.transfers import conftest as workflow
from tests.transfers.workflow_support import member

# The workflow tests' people and key set (tests/transfers/conftest.py), shared here.
admin1, admin2, alice, bob, carol, key_set, stranger = (
    workflow.admin1,
    workflow.admin2,
    workflow.alice,
    workflow.bob,
    workflow.carol,
    workflow.key_set,
    workflow.stranger,
)


@pytest.fixture
def victor(db: None, key_set: ApiKeySet) -> User:
    """A viewer with the view grant on the key set."""
    from tests.transfers.workflow_support import grant

    user = member("victor", "viewer")
    grant(key_set, user)
    return user


def token_for(user: User, *, scope: str = "request", days: int = 30, **extra: Any) -> tuple[ApiToken, str]:
    return api_token_create(user=user, name=f"{user.username} script", days=days, scope=scope, **extra)


class ApiClient:
    """The Django test client speaking to /api/v1/ with a bearer token."""

    def __init__(self, raw: str | None, *, remote_addr: str = "127.0.0.1") -> None:
        self.client = Client(REMOTE_ADDR=remote_addr)
        self.headers: dict[str, str] = {"Authorization": f"Bearer {raw}"} if raw else {}

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get("/api/v1" + path, params, headers=self.headers)

    def post(self, path: str, body: Any = None, *, key: str | None = "k-1", raw: str | None = None) -> Any:
        headers = dict(self.headers)
        if key is not None:
            headers["Idempotency-Key"] = key
        import json

        data = raw if raw is not None else json.dumps(body if body is not None else {})
        return self.client.post("/api/v1" + path, data, content_type="application/json", headers=headers)


@pytest.fixture
def alice_api(alice: User, key_set: ApiKeySet) -> ApiClient:
    return ApiClient(token_for(alice)[1])


def inner_body(key_set: ApiKeySet, amount: str = "25") -> dict[str, Any]:
    return {
        "key_set_id": key_set.pk,
        "kind": "inner",
        "asset": "USDT",
        "amount": amount,
        "fields": {"recipient_type": 1, "recipient_account": "10000002", "wallet_type": 1},
    }
