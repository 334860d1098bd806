"""The sweeper: lost messages are re-enqueued, stuck submissions reconciled, and overlapping sweeps
never do anything twice."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from accounts.models import AuditEvent
from tests.transfers.execution_support import (
    approved_request,
)
from transfers.execution.sweep import transfers_sweep
from transfers.models import AttemptKind, AttemptOutcome, ExecutionAttempt, Status, TransferRequest

pytestmark = pytest.mark.usefixtures("limiter_dir")


@pytest.fixture
def thresholds(settings: Any) -> None:
    settings.TRANSFER_SWEEP_AFTER_SECONDS = 30
    settings.TRANSFER_STUCK_AFTER_SECONDS = 90
    settings.TRANSFER_UNSENT_CLAIM_SECONDS = 20


def backdate(req: TransferRequest, seconds: float, *, submitted: bool = False, sent: bool = True) -> None:
    """`submitted`: claimed `seconds` ago; `sent`: its call got the sending mark then too."""
    then = timezone.now() - timedelta(seconds=seconds)
    changes: dict[str, Any] = {"updated_at": then}
    if submitted:
        changes["submitted_at"] = then
        changes["sending_at"] = then if sent else None
    TransferRequest.objects.filter(pk=req.pk).update(**changes)


@pytest.mark.django_db
def test_approved_request_whose_message_was_lost_is_enqueued_once(main_key_set, enqueued, thresholds):
    lost = approved_request(key_set=main_key_set)
    fresh = approved_request(key_set=main_key_set)
    backdate(lost, 31)
    report = transfers_sweep()
    assert report.executions == 1
    assert enqueued == [("execute", lost.pk, 0)]
    # The next sweep (e.g. 15 s later) does not pile up another message for the same request.
    transfers_sweep()
    assert enqueued == [("execute", lost.pk, 0)]
    assert fresh.pk not in [pk for _, pk, _ in enqueued]


@pytest.mark.django_db
def test_stuck_submission_goes_unknown_and_reconciles(
    main_key_set, enqueued, thresholds, django_capture_on_commit_callbacks
):
    stuck = approved_request(key_set=main_key_set, status=Status.SUBMITTING)
    running = approved_request(key_set=main_key_set, status=Status.SUBMITTING)
    backdate(stuck, 91, submitted=True)
    backdate(running, 30, submitted=True)
    with django_capture_on_commit_callbacks(execute=True):
        report = transfers_sweep()
    assert report.stuck == 1
    stuck.refresh_from_db()
    running.refresh_from_db()
    assert stuck.status == Status.UNKNOWN
    assert running.status == Status.SUBMITTING
    assert enqueued == [("reconcile", stuck.pk, 0)]
    assert AuditEvent.objects.filter(verb="transfer.sweep.stuck", object_id=str(stuck.pk)).count() == 1


@pytest.mark.django_db
def test_a_claim_that_never_sent_goes_back_to_approved_and_executes_again(
    main_key_set, enqueued, thresholds, django_capture_on_commit_callbacks
):
    """Its worker died (or lost the database) before the sending mark: provably nothing was sent."""
    dead = approved_request(key_set=main_key_set, status=Status.SUBMITTING)
    waiting = approved_request(key_set=main_key_set, status=Status.SUBMITTING)  # in its token wait
    backdate(dead, 21, submitted=True, sent=False)
    backdate(waiting, 5, submitted=True, sent=False)
    with django_capture_on_commit_callbacks(execute=True):
        report = transfers_sweep()
    assert (report.released, report.stuck) == (1, 0)
    dead.refresh_from_db()
    waiting.refresh_from_db()
    assert (dead.status, dead.submitted_at) == (Status.APPROVED, None)
    assert waiting.status == Status.SUBMITTING
    assert enqueued == [("execute", dead.pk, 0)]
    event = AuditEvent.objects.get(verb="transfer.execute.unsent_released", object_id=str(dead.pk))
    assert event.after["status"] == Status.APPROVED


@pytest.mark.django_db
def test_quiet_unknown_request_is_reconciled(main_key_set, enqueued, thresholds):
    quiet = approved_request(key_set=main_key_set, status=Status.UNKNOWN)
    busy = approved_request(key_set=main_key_set, status=Status.UNKNOWN)
    backdate(quiet, 31, submitted=True)
    backdate(busy, 31, submitted=True)
    now = timezone.now()
    ExecutionAttempt.objects.create(
        request=busy,
        kind=AttemptKind.RECONCILE,
        endpoint="x",
        outcome=AttemptOutcome.ABSENT,
        started_at=now,
        finished_at=now,
    )
    transfers_sweep()
    assert enqueued == [("reconcile", quiet.pk, 0)]


@pytest.mark.django_db
def test_final_requests_are_left_alone(main_key_set, enqueued, thresholds):
    for status in (Status.SUCCEEDED, Status.FAILED, Status.PENDING, Status.REJECTED):
        backdate(approved_request(key_set=main_key_set, status=status), 3600, submitted=True)
    assert str(transfers_sweep()) == (
        "re-enqueued 0, unsent claims released 0, stuck→unknown 0, reconciles 0"
    )
    assert enqueued == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_overlapping_sweeps_never_double(require_postgres, main_key_set, enqueued, thresholds):
    lost = [approved_request(key_set=main_key_set) for _ in range(6)]
    stuck = [approved_request(key_set=main_key_set, status=Status.SUBMITTING) for _ in range(6)]
    for req in lost:
        backdate(req, 31)
    for req in stuck:
        backdate(req, 91, submitted=True)
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def sweep() -> None:
        try:
            barrier.wait()
            transfers_sweep()
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    executes = sorted(pk for what, pk, _ in enqueued if what == "execute")
    reconciles = sorted(pk for what, pk, _ in enqueued if what == "reconcile")
    assert executes == sorted(r.pk for r in lost)
    assert reconciles == sorted(r.pk for r in stuck)
    assert AuditEvent.objects.filter(verb="transfer.sweep.stuck").count() == len(stuck)


@pytest.mark.django_db
def test_beat_schedules_exist_for_registered_tasks():
    """The data migration's schedules (re-applied here: transactional tests may have flushed them)."""
    import importlib

    from django.apps import apps
    from django_celery_beat.models import PeriodicTask

    from bingxadmin.celery import app

    migration = importlib.import_module("transfers.migrations.0002_periodic_tasks")
    migration.create(apps, None)
    migration.create(apps, None)  # idempotent: admin edits survive re-runs
    importlib.import_module("transfers.migrations.0005_task_names").forward(apps, None)
    importlib.import_module("transfers.migrations.0008_sweep_every_5s").every(15, 5)(apps, None)
    importlib.import_module("transfers.migrations.0013_reminders_schedule").create(apps, None)
    app.loader.import_default_modules()
    every = {t.task: t.interval.every for t in PeriodicTask.objects.select_related("interval")}
    every = {task: s for task, s in every.items() if not task.startswith("accounts.tasks.audit_")}  # own test
    assert every == {
        "transfers.tasks.transfers_sweep_task": 5,
        "transfers.tasks.transfer_requests_expire_task": 60,
        "accounts.tasks.balances_sync_all_task": 600,
        "transfers.tasks.records_sync_all_task": 300,
        "transfers.tasks.transfer_reminders_task": 300,
    }
    assert set(every) <= set(app.tasks)


@pytest.mark.django_db
def test_request_waiting_for_a_distant_rate_limit_slot_is_not_taken_for_lost(
    main_key_set, thresholds, monkeypatch
):
    """A long batch on one UID books slots minutes ahead: a leg whose message is scheduled for a slot
    is left alone by the sweeper until a sweep period past that slot (a second enqueue would book a
    second slot, held for nothing, and run the leg out of turn)."""
    from transfers import dispatch

    sent: list[tuple[Any, dict[str, Any]]] = []

    class Task:
        def apply_async(self, args: Any, **kwargs: Any) -> None:
            sent.append((args, kwargs))

    monkeypatch.setattr(dispatch, "_task", lambda name: Task())
    waiting = approved_request(key_set=main_key_set)
    dispatch.transfer_execute_enqueue(request_id=waiting.pk, countdown=120, reservation="booked")
    assert sent == [((waiting.pk, "booked"), {"countdown": 120})]
    waiting.refresh_from_db()
    assert waiting.execute_at is not None
    assert 115 < (waiting.execute_at - timezone.now()).total_seconds() <= 120

    backdate(waiting, 31)  # approved (and enqueued) longer ago than a sweep period
    assert transfers_sweep().executions == 0
    assert len(sent) == 1

    # The slot passed a sweep period ago and the request is still APPROVED: its message was lost.
    TransferRequest.objects.filter(pk=waiting.pk).update(execute_at=timezone.now() - timedelta(seconds=31))
    monkeypatch.setattr(dispatch, "_book_slot", lambda request_id: (0.0, None))
    assert transfers_sweep().executions == 1
    assert sent[-1] == ((waiting.pk,), {})
