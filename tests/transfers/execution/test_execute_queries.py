"""Queries per execution (issue 12 part 4): counted with CaptureQueriesContext around one successful
inner transfer, the follow-ups run on commit (balance refresh enqueue included)."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.transfers.execution_support import Sandbox, approved_request
from transfers.execution.execute import transfer_execute
from transfers.models import Status

pytestmark = pytest.mark.django_db

# Measured on SQLite and PostgreSQL; the figures are in docs/execution.md (Benchmarks).
MAX_QUERIES = 40


def test_queries_per_successful_execution(
    sandbox: Sandbox, main_key_set: Any, enqueued: Any, django_capture_on_commit_callbacks: Any
) -> None:
    warm = approved_request(key_set=main_key_set, amount="1")
    with django_capture_on_commit_callbacks(execute=True):
        transfer_execute(request_id=warm.pk)  # caches (policy, grants) as a running worker has them
    req = approved_request(key_set=main_key_set, amount="2")
    import time

    time.sleep(1.2)  # a free rate-limit slot: the run executes instead of scheduling itself
    with CaptureQueriesContext(connection) as queries, django_capture_on_commit_callbacks(execute=True):
        transfer_execute(request_id=req.pk)
    req.refresh_from_db()
    assert req.status == Status.SUCCEEDED
    print(f"\nqueries per execution: {len(queries)}")
    for q in queries.captured_queries:
        print("  ", q["sql"][:160])
    assert len(queries) <= MAX_QUERIES
