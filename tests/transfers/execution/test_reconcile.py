"""Reconciling UNKNOWN requests from the sandbox's records over HTTP: found, absent, lookup failures."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import AuditEvent
from tests.transfers.execution_support import (
    FAMILY_TRANSFER,
    INNER_APPLY,
    SUB_INNER_APPLY,
    WALLET_TRANSFER,
    Sandbox,
    approved_request,
)
from transfers.execution.execute import transfer_execute
from transfers.execution.reconcile import transfer_reconcile
from transfers.models import (
    AttemptKind,
    AttemptOutcome,
    ExecutionAttempt,
    Status,
    TransferKind,
    TransferRequest,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("limiter_dir")]


@pytest.fixture
def run(django_capture_on_commit_callbacks: Any) -> Any:
    def go(service: Any, req: TransferRequest) -> str:
        with django_capture_on_commit_callbacks(execute=True):
            result = service(request_id=req.pk)
        req.refresh_from_db()
        return str(result)

    return go


def ambiguous(run: Any, sandbox: Sandbox, req: TransferRequest, path: str, mode: str) -> TransferRequest:
    """Execute with a fault armed so the outcome is unknown."""
    sandbox.fault(path, mode)
    run(transfer_execute, req)
    assert req.status == Status.UNKNOWN
    return req


def age(req: TransferRequest, seconds: float) -> None:
    """Pretend the request was submitted `seconds` ago (and no lookup ran since)."""
    then = timezone.now() - timedelta(seconds=seconds)
    TransferRequest.objects.filter(pk=req.pk).update(submitted_at=then, updated_at=then)
    ExecutionAttempt.objects.filter(request=req).update(started_at=then, finished_at=then)
    req.refresh_from_db()


@pytest.mark.parametrize(
    ("kind", "path", "fixture"),
    [
        (TransferKind.INNER, INNER_APPLY, "main_key_set"),
        (TransferKind.WALLET, WALLET_TRANSFER, "main_key_set"),
        (TransferKind.SUB_INNER, SUB_INNER_APPLY, "sub1_key_set"),
        (TransferKind.FAMILY, FAMILY_TRANSFER, "main_key_set"),
    ],
)
def test_applied_transfer_is_found_in_the_records(
    sandbox: Sandbox, run, enqueued, request, kind, path, fixture
):
    key_set = request.getfixturevalue(fixture)
    req = ambiguous(
        run, sandbox, approved_request(key_set=key_set, kind=kind, amount="4.5"), path, "http_504_after_apply"
    )
    assert run(transfer_reconcile, req) == Status.SUCCEEDED
    (applied,) = sandbox.applied(path)
    assert req.exchange_id == str(applied["transfer_id"])
    assert len(sandbox.calls(path)) == 1  # found by looking, never by re-sending
    attempt = req.attempts.get(kind=AttemptKind.RECONCILE)
    assert attempt.outcome == AttemptOutcome.FOUND
    assert attempt.exchange_id == req.exchange_id
    assert attempt.method == "GET"
    assert attempt.http_status == 200
    assert AuditEvent.objects.filter(verb="transfer.reconcile.found", object_id=str(req.pk)).count() == 1


def test_inner_transfer_is_found_by_client_id(sandbox: Sandbox, main_key_set, run, enqueued):
    req = ambiguous(
        run, sandbox, approved_request(key_set=main_key_set), INNER_APPLY, "lose_response_after_apply"
    )
    assert run(transfer_reconcile, req) == Status.SUCCEEDED
    attempt = req.attempts.get(kind=AttemptKind.RECONCILE)
    assert attempt.params["transferClientId"] == req.client_id


def test_absent_before_the_settle_window_looks_again(sandbox: Sandbox, main_key_set, run, enqueued, settings):
    settings.TRANSFER_SETTLE_WINDOW_SECONDS = 60
    req = ambiguous(run, sandbox, approved_request(key_set=main_key_set), INNER_APPLY, "http_500")
    enqueued.clear()
    assert run(transfer_reconcile, req) == "not yet"
    assert req.status == Status.UNKNOWN
    assert req.attempts.get(kind=AttemptKind.RECONCILE).outcome == AttemptOutcome.ABSENT
    ((what, pk, countdown),) = enqueued
    assert (what, pk) == ("reconcile", req.pk)
    assert 2 <= countdown <= 5


def test_absent_after_the_settle_window_executes_the_approved_transfer_again(
    sandbox: Sandbox, main_key_set, run, enqueued, settings
):
    """Proven absent: nothing moved, and the approval still stands; it is executed again, once."""
    settings.TRANSFER_SETTLE_WINDOW_SECONDS = 60
    req = ambiguous(run, sandbox, approved_request(key_set=main_key_set), INNER_APPLY, "http_500")
    age(req, 61)
    enqueued.clear()
    assert run(transfer_reconcile, req) == "absent; executing again"
    assert req.status == Status.APPROVED
    assert req.absent_resends == 1
    assert req.attempts.get(kind=AttemptKind.RECONCILE).outcome == AttemptOutcome.ABSENT
    assert enqueued == [("execute", req.pk, 0)]
    assert AuditEvent.objects.filter(verb="transfer.reconcile.absent_resend", object_id=str(req.pk)).exists()
    assert sandbox.applied() == []

    run(transfer_execute, req)
    assert req.status == Status.SUCCEEDED
    (applied,) = sandbox.applied(INNER_APPLY)
    assert req.exchange_id == str(applied["transfer_id"])
    # Both executions carried the same client id (BingX's idempotency key for inner transfers).
    assert {c["params"]["transferClientId"] for c in sandbox.calls(INNER_APPLY)} == {req.client_id}


def test_absent_again_past_the_bound_fails_and_tells_the_people_involved(
    sandbox: Sandbox, main_key_set, run, enqueued, settings, mailoutbox
):
    settings.TRANSFER_SETTLE_WINDOW_SECONDS = 60
    settings.TRANSFER_ABSENT_RESENDS = 1
    req = ambiguous(run, sandbox, approved_request(key_set=main_key_set), INNER_APPLY, "http_500")
    age(req, 61)
    assert run(transfer_reconcile, req) == "absent; executing again"
    ambiguous(run, sandbox, req, INNER_APPLY, "http_500")
    age(req, 61)
    mailoutbox.clear()
    assert run(transfer_reconcile, req) == Status.FAILED
    assert req.failure_message.startswith(
        "Not found in BingX records after the settle window, 2 executions in a row; nothing moved."
    )
    assert sandbox.applied() == []
    assert len(sandbox.calls(INNER_APPLY)) == 2
    approver = req.approvals.get().approver
    assert sorted(m.to[0] for m in mailoutbox) == sorted([req.requested_by.email, approver.email])
    assert all(f"Transfer #{req.pk} failed" in m.subject for m in mailoutbox)
    assert "nothing moved" in mailoutbox[0].body


def test_a_record_matched_to_another_request_is_not_reused(
    sandbox: Sandbox, main_key_set, run, enqueued, settings
):
    settings.TRANSFER_SETTLE_WINDOW_SECONDS = 60
    done = approved_request(key_set=main_key_set, kind=TransferKind.WALLET, amount="9")
    run(transfer_execute, done)
    assert done.status == Status.SUCCEEDED
    # Same pair, asset and amount, but this one never reached the exchange.
    twin = ambiguous(
        run,
        sandbox,
        approved_request(key_set=main_key_set, kind=TransferKind.WALLET, amount="9"),
        WALLET_TRANSFER,
        "http_500",
    )
    assert run(transfer_reconcile, twin) == "not yet"
    age(twin, 61)
    # Not matched to its twin's record: proven absent, so it is executed again (not "found").
    assert run(transfer_reconcile, twin) == "absent; executing again"
    assert twin.exchange_id == ""


def test_two_ambiguous_twins_each_get_their_own_record(sandbox: Sandbox, main_key_set, run, enqueued):
    first = ambiguous(
        run,
        sandbox,
        approved_request(key_set=main_key_set, kind=TransferKind.WALLET, amount="2"),
        WALLET_TRANSFER,
        "http_504_after_apply",
    )
    second = ambiguous(
        run,
        sandbox,
        approved_request(key_set=main_key_set, kind=TransferKind.WALLET, amount="2"),
        WALLET_TRANSFER,
        "http_504_after_apply",
    )
    assert run(transfer_reconcile, second) == Status.SUCCEEDED
    assert run(transfer_reconcile, first) == Status.SUCCEEDED
    assert first.exchange_id != second.exchange_id
    assert {first.exchange_id, second.exchange_id} == {str(c["transfer_id"]) for c in sandbox.applied()}


def test_unreachable_exchange_within_the_window_stays_unknown(
    sandbox: Sandbox, main_key_set, run, enqueued, settings
):
    settings.TRANSFER_SETTLE_WINDOW_SECONDS = 60
    req = ambiguous(run, sandbox, approved_request(key_set=main_key_set), INNER_APPLY, "http_500")
    main_key_set.base_url = "http://127.0.0.1:9"
    main_key_set.save()
    enqueued.clear()
    assert run(transfer_reconcile, req) == "lookup failed"
    assert req.status == Status.UNKNOWN
    assert not req.needs_attention
    assert req.attempts.get(kind=AttemptKind.RECONCILE).outcome == AttemptOutcome.NOT_SENT
    assert [c[0] for c in enqueued] == ["reconcile"]


def test_unreachable_exchange_after_the_window_flags_a_human(
    sandbox: Sandbox, main_key_set, run, enqueued, settings
):
    settings.TRANSFER_SETTLE_WINDOW_SECONDS = 60
    req = ambiguous(
        run, sandbox, approved_request(key_set=main_key_set, amount="31"), INNER_APPLY, "http_504_after_apply"
    )
    main_key_set.base_url = "http://127.0.0.1:9"
    main_key_set.save()
    age(req, 61)
    assert "flagged" in run(transfer_reconcile, req)
    assert req.status == Status.UNKNOWN
    assert req.needs_attention
    assert "31 USDT" in req.attention_reason
    assert req.client_id in req.attention_reason
    assert (
        AuditEvent.objects.filter(verb="transfer.reconcile.needs_attention", object_id=str(req.pk)).count()
        == 1
    )
    # Once BingX answers again the request settles and the flag clears.
    main_key_set.base_url = sandbox.base_url
    main_key_set.save()
    age(req, 62)
    assert run(transfer_reconcile, req) == Status.SUCCEEDED
    assert not req.needs_attention
    assert req.attention_reason == ""


def test_a_lookup_right_after_another_stands_down(sandbox: Sandbox, main_key_set, run, enqueued, settings):
    settings.TRANSFER_SETTLE_WINDOW_SECONDS = 60
    req = ambiguous(run, sandbox, approved_request(key_set=main_key_set), INNER_APPLY, "http_500")
    assert run(transfer_reconcile, req) == "not yet"
    assert run(transfer_reconcile, req) == "looked just now"
    assert req.attempts.filter(kind=AttemptKind.RECONCILE).count() == 1


@pytest.mark.parametrize("status", [Status.APPROVED, Status.SUBMITTING, Status.SUCCEEDED, Status.FAILED])
def test_only_unknown_requests_are_reconciled(sandbox: Sandbox, main_key_set, run, status):
    req = approved_request(key_set=main_key_set, status=status)
    assert run(transfer_reconcile, req) == "nothing to do"
    assert sandbox.calls() == []
