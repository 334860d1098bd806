"""schemathesis against the served OpenAPI schema: every operation called with generated input through
the real app (WSGI, in this process): no 5xx, and every status, content type and body is the schema's."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import Client
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.result import Ok

from accounts.models import ApiKeySet, User
from tests.api.conftest import token_for
from tests.stepup_support import login_verified
from tests.transfers.workflow_support import new_request

pytestmark = pytest.mark.django_db

MAX_EXAMPLES = 12  # per operation: the whole run stays well under two minutes
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def test_every_operation_answers_as_its_schema_says(
    alice: User, key_set: ApiKeySet, admin1: User, settings: Any
) -> None:
    settings.API_RATE_LIMIT_PER_MINUTE = 1_000_000
    new_request(requester=alice, key_set=key_set)
    browser = Client()
    login_verified(browser, alice)
    served = browser.get("/api/v1/openapi.json")
    assert served.status_code == 200
    schema = schemathesis.openapi.from_dict(json.loads(served.content))
    schema.app = WSGIHandler()
    headers = {"Authorization": f"Bearer {token_for(alice)[1]}"}
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result  # the served schema is valid
        operations.append(result.ok())
    assert len(operations) >= 14
    # As Django's test client does: the test's database transaction outlives each request.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    seen: Counter[int] = Counter()
    try:
        _fuzz(operations, headers, seen)
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    # The run reached the operations' bodies (answers), not only the input checks (refusals).
    print(f"schemathesis: {len(operations)} operations, {sum(seen.values())} calls, statuses {dict(seen)}")
    assert seen[200] > 0, seen
    assert seen[400] + seen[422] > 0, seen


def _fuzz(operations: list[Any], headers: dict[str, str], seen: Counter[int]) -> None:
    for operation in operations:

        @given(case=operation.as_strategy())
        @hsettings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: Any) -> None:
            response = case.call_and_validate(base_url="http://localhost", headers=headers, checks=CHECKS)
            seen[response.status_code] += 1

        check()
