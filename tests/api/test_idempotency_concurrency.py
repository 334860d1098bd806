"""Two calls with one Idempotency-Key at the same moment (PostgreSQL: real concurrency): one request is
created; the other call is told the key is in progress (409) and, retried, gets the same answer."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection

from accounts.models import ApiKeySet, User
from api.v1 import routes
from tests.api.conftest import ApiClient, inner_body, token_for
from transfers.models import TransferRequest

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_same_key_at_the_same_time_creates_one_request(
    require_postgres: None, alice: User, key_set: ApiKeySet, monkeypatch: pytest.MonkeyPatch
) -> None:
    inside, release = threading.Event(), threading.Event()
    real = routes.transfer_request_create

    def slow_create(**kwargs: Any) -> Any:
        inside.set()
        assert release.wait(30)
        return real(**kwargs)

    monkeypatch.setattr(routes, "transfer_request_create", slow_create)
    raw = token_for(alice)[1]
    answers: dict[str, Any] = {}

    def first() -> None:
        try:
            answers["first"] = ApiClient(raw).post("/requests", inner_body(key_set), key="once")
        finally:
            connection.close()  # this thread's own connection

    thread = threading.Thread(target=first)
    thread.start()
    assert inside.wait(30)
    during = ApiClient(raw).post("/requests", inner_body(key_set), key="once")
    release.set()
    thread.join(60)
    after = ApiClient(raw).post("/requests", inner_body(key_set), key="once")
    assert during.status_code == 409
    assert during.json()["type"].endswith("/idempotency-key-in-progress")
    assert answers["first"].status_code == 201
    assert after.status_code == 201
    assert after.json() == answers["first"].json()
    assert TransferRequest.objects.count() == 1
