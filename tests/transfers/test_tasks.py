"""Task names: what beat schedules and what messages already queued by the previous release carry."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from bingxadmin.celery import app
from tests.transfers.workflow_support import new_request
from transfers import dispatch
from transfers.models import Status, TransferRequest


def test_dispatch_names_tasks_that_exist() -> None:
    """dispatch finds tasks by name; a typo there would only show up as a lost message."""
    app.loader.import_default_modules()
    for name in (dispatch.EXECUTE, dispatch.RECONCILE, dispatch.RECORDS_SYNC, dispatch.BALANCES_SYNC):
        assert name in app.tasks


@pytest.mark.django_db
def test_a_message_queued_under_the_old_expiry_task_name_still_expires_requests(alice, key_set) -> None:
    """Before `transfers.tasks_workflow` was merged into `transfers.tasks`, beat queued this name."""
    req = new_request(requester=alice, key_set=key_set)
    TransferRequest.objects.filter(pk=req.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    app.loader.import_default_modules()

    assert app.tasks["transfers.tasks_workflow.transfer_requests_expire_task"].run() == 1
    assert TransferRequest.objects.get(pk=req.pk).status == Status.EXPIRED


def test_the_old_records_sync_names_are_still_served() -> None:
    app.loader.import_default_modules()
    assert "transfers.tasks_sync.records_sync_task" in app.tasks
    assert "transfers.tasks_sync.records_sync_all_task" in app.tasks
