"""The execution tests' shared fixture: run `transfer_execute` as a worker would, on-commit
follow-ups included (recorded by `enqueued` where a test asks for it)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from transfers.execution.execute import transfer_execute
from transfers.models import TransferRequest


@pytest.fixture
def execute(django_capture_on_commit_callbacks: Any) -> Callable[[TransferRequest], TransferRequest]:
    def run(req: TransferRequest) -> TransferRequest:
        with django_capture_on_commit_callbacks(execute=True):
            transfer_execute(request_id=req.pk)
        req.refresh_from_db()
        return req

    return run


@pytest.fixture
def tokens_waited_for(monkeypatch: pytest.MonkeyPatch) -> None:
    """Executions take their rate-limit token inside the task (the pacer waits, as before issue 12)
    instead of booking a slot and being scheduled for it: for tests that run the task again at once
    to look at its outcomes (the fallback path when the limiter store cannot book a slot)."""
    from transfers.execution import execute as execute_module

    monkeypatch.setattr(execute_module, "_book_slot", lambda **_: None)
