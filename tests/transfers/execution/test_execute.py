"""Executing approved transfers against the sandbox over HTTP, one branch of the state machine each."""

from __future__ import annotations

import time
from typing import Any

import pytest

from accounts.models import AuditEvent, KeySetStatus
from exchange import ratelimit
from tests.transfers.execution_support import (
    FAMILY_TRANSFER,
    INNER_APPLY,
    MAIN_UID,
    SUB1_UID,
    SUB2_UID,
    SUB_INNER_APPLY,
    WALLET_TRANSFER,
    Sandbox,
    approved_request,
)
from transfers.execution.execute import MAX_NOT_SENT
from transfers.models import AttemptKind, AttemptOutcome, PolicyState, Status, TransferKind, TransferRequest

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("limiter_dir")]


def verbs(req: TransferRequest) -> list[str]:
    return list(
        AuditEvent.objects.filter(object_type="transfers.transferrequest", object_id=str(req.pk))
        .order_by("seq")
        .values_list("verb", flat=True)
    )


def test_inner_transfer_succeeds_once_with_the_client_id(sandbox: Sandbox, main_key_set, execute, enqueued):
    req = approved_request(key_set=main_key_set, kind=TransferKind.INNER, amount="25")
    req = execute(req)
    assert req.status == Status.SUCCEEDED
    applied = sandbox.applied(INNER_APPLY)
    assert len(applied) == 1
    assert applied[0]["params"]["transferClientId"] == req.client_id
    assert req.exchange_id == str(applied[0]["transfer_id"])
    assert req.submitted_at is not None
    assert req.completed_at is not None
    attempt = req.attempts.get()
    assert attempt.kind == AttemptKind.SUBMIT
    assert attempt.outcome == AttemptOutcome.SUCCEEDED
    assert attempt.endpoint == INNER_APPLY
    assert attempt.params["transferClientId"] == req.client_id
    assert attempt.params["amount"] == "25"
    assert "signature" not in attempt.params
    assert attempt.http_status == 200
    assert attempt.bingx_code == "0"
    assert attempt.exchange_id == req.exchange_id
    assert attempt.worker
    assert verbs(req) == ["transfer.execute.succeeded"]
    assert enqueued == []


def test_wallet_transfer_succeeds(sandbox: Sandbox, main_key_set, execute):
    req = execute(approved_request(key_set=main_key_set, kind=TransferKind.WALLET, amount="12.5"))
    assert req.status == Status.SUCCEEDED
    (call,) = sandbox.applied(WALLET_TRANSFER)
    assert call["params"]["fromAccount"] == "fund"
    assert call["params"]["toAccount"] == "spot"
    assert call["params"]["amount"] == "12.5"
    assert req.exchange_id == str(call["transfer_id"])


def test_sub_account_inner_transfer_succeeds(sandbox: Sandbox, sub1_key_set, execute):
    req = execute(approved_request(key_set=sub1_key_set, kind=TransferKind.SUB_INNER, amount="3"))
    assert req.status == Status.SUCCEEDED, req.failure_message
    (call,) = sandbox.applied(SUB_INNER_APPLY)
    assert call["uid"] == SUB1_UID
    assert call["params"]["userAccount"] == str(SUB2_UID)
    assert req.exchange_id == str(call["transfer_id"])


def test_family_transfer_succeeds(sandbox: Sandbox, main_key_set, execute):
    req = execute(approved_request(key_set=main_key_set, kind=TransferKind.FAMILY, amount="7"))
    assert req.status == Status.SUCCEEDED, req.failure_message
    (call,) = sandbox.applied(FAMILY_TRANSFER)
    assert call["uid"] == MAIN_UID
    assert req.exchange_id == str(call["transfer_id"])


def test_second_delivery_finds_nothing_to_claim(sandbox: Sandbox, main_key_set, execute):
    req = approved_request(key_set=main_key_set)
    execute(req)
    execute(req)
    assert len(sandbox.calls(INNER_APPLY)) == 1
    assert req.attempts.count() == 1


@pytest.mark.parametrize("status", [Status.PENDING, Status.SUBMITTING, Status.UNKNOWN, Status.FAILED])
def test_only_approved_requests_are_claimed(sandbox: Sandbox, main_key_set, execute, status):
    req = execute(approved_request(key_set=main_key_set, status=status))
    assert req.status == status
    assert sandbox.calls() == []


def test_insufficient_balance_fails_with_bingx_code(sandbox: Sandbox, main_key_set, execute, enqueued):
    req = execute(approved_request(key_set=main_key_set, amount="99999999"))
    assert req.status == Status.FAILED
    assert req.failure_code == "100202"
    assert "Insufficient balance" in req.failure_message
    assert sandbox.applied() == []
    attempt = req.attempts.get()
    assert attempt.outcome == AttemptOutcome.REJECTED
    assert attempt.bingx_code == "100202"
    assert verbs(req) == ["transfer.execute.failed"]
    assert enqueued == []


def test_wallet_rejection_in_a_code_zero_body_fails(sandbox: Sandbox, main_key_set, execute):
    req = execute(approved_request(key_set=main_key_set, kind=TransferKind.WALLET, amount="99999999"))
    assert req.status == Status.FAILED
    assert "Insufficient" in req.failure_message
    assert sandbox.applied() == []


def test_tampered_payload_is_refused_and_nothing_is_sent(sandbox: Sandbox, main_key_set, execute):
    req = approved_request(key_set=main_key_set, amount="5")
    TransferRequest.objects.filter(pk=req.pk).update(payload={**req.payload, "amount": "5000"})
    req = execute(req)
    assert req.status == Status.FAILED
    assert req.failure_code == "refused"
    assert "SHA-256" in req.failure_message
    assert req.attempts.get().outcome == AttemptOutcome.REFUSED
    assert sandbox.calls() == []
    assert verbs(req) == ["transfer.execute.refused"]


def test_inactive_key_set_is_refused(sandbox: Sandbox, main_key_set, execute):
    req = approved_request(key_set=main_key_set)
    main_key_set.status = KeySetStatus.INACTIVE
    main_key_set.save()
    req = execute(req)
    assert req.status == Status.FAILED
    assert "not active" in req.failure_message
    assert sandbox.calls() == []


def test_policy_change_after_approval_is_refused(sandbox: Sandbox, main_key_set, execute):
    req = approved_request(key_set=main_key_set)
    PolicyState.objects.update(version=req.policy_version + 1)
    req = execute(req)
    assert req.status == Status.FAILED
    assert "policy changed" in req.failure_message
    assert sandbox.calls() == []


def test_self_approval_never_counts(sandbox: Sandbox, main_key_set, execute):
    req = approved_request(key_set=main_key_set)
    req.approvals.update(approver=req.requested_by)
    req = execute(req)
    assert req.status == Status.FAILED
    assert "approvals" in req.failure_message
    assert sandbox.calls() == []


@pytest.mark.parametrize(
    ("mode", "applied"), [("lose_response_after_apply", 1), ("http_504_after_apply", 1), ("http_500", 0)]
)
def test_ambiguous_outcome_goes_unknown_and_reconciles(
    sandbox: Sandbox, main_key_set, execute, enqueued, mode, applied
):
    req = approved_request(key_set=main_key_set)
    sandbox.fault(INNER_APPLY, mode)
    req = execute(req)
    assert req.status == Status.UNKNOWN
    assert len(sandbox.applied()) == applied
    assert len(sandbox.calls(INNER_APPLY)) == 1  # never re-sent
    assert req.attempts.get().outcome == AttemptOutcome.AMBIGUOUS
    assert enqueued == [("reconcile", req.pk, pytest.approx(2.0))]
    assert verbs(req) == ["transfer.execute.unknown"]


def test_read_timeout_is_ambiguous(sandbox: Sandbox, main_key_set, execute, enqueued, settings):
    settings.BINGX_TIMEOUT_READ = 0.5
    sandbox.fault(INNER_APPLY, "timeout_before_apply", delay=3)
    req = execute(approved_request(key_set=main_key_set))
    assert req.status == Status.UNKNOWN
    assert [c[0] for c in enqueued] == ["reconcile"]


def test_rate_limited_waits_for_the_named_time_then_retries(
    sandbox: Sandbox, main_key_set, execute, enqueued
):
    unblock = int(time.time() * 1000) + 1500
    sandbox.fault(
        INNER_APPLY,
        "error_code",
        code=100410,
        msg="code:100410:The endpoint trigger frequency limit rule is currently in the disabled period "
        f"and will "
        f"be unblocked after {unblock}",
    )
    req = execute(approved_request(key_set=main_key_set))
    assert req.status == Status.APPROVED
    assert req.submitted_at is None
    assert sandbox.applied() == []
    ((what, pk, countdown),) = enqueued
    assert (what, pk) == ("execute", req.pk)
    assert 1.0 <= countdown <= 1.7
    # Every process now waits: the shared limiter holds the endpoint until the named time.
    with pytest.raises(ratelimit.RateLimitUnavailable):
        ratelimit.acquire(scope=f"uid:{MAIN_UID}", path=INNER_APPLY, max_wait=0.3)
    assert req.attempts.get().bingx_code == "100410"
    assert verbs(req) == ["transfer.execute.rate_limited"]
    # The retry books the first slot after the block and is scheduled for it: no claim, no waiting.
    req = execute(req)
    assert req.status == Status.APPROVED
    assert req.submitted_at is None
    ((what, pk, countdown),) = enqueued[1:]
    assert 0.5 <= countdown <= 1.7
    time.sleep(countdown)
    # The scheduled run goes through.
    req = execute(req)
    assert req.status == Status.SUCCEEDED
    assert len(sandbox.applied()) == 1


def test_clock_skew_is_fixed_by_the_client_resync(sandbox: Sandbox, main_key_set, execute):
    sandbox.control("POST", "clock", {"skew_ms": 120_000})
    req = execute(approved_request(key_set=main_key_set))
    assert req.status == Status.SUCCEEDED
    first, second = req.attempts.order_by("id")
    assert first.outcome == AttemptOutcome.REJECTED
    assert first.bingx_code == "100421"
    assert second.outcome == AttemptOutcome.SUCCEEDED
    assert len(sandbox.applied()) == 1


@pytest.mark.usefixtures("tokens_waited_for")
def test_timestamp_rejection_after_resync_retries_once_more_then_fails(
    sandbox: Sandbox, main_key_set, execute, enqueued
):
    sandbox.fault(INNER_APPLY, "error_code", code=100421, msg="Null timestamp or timestamp mismatch", count=4)
    req = execute(approved_request(key_set=main_key_set))
    assert req.status == Status.APPROVED
    assert [c[:2] for c in enqueued] == [("execute", req.pk)]
    assert req.attempts.count() == 2  # the client's own resync-and-retry
    req = execute(req)
    assert req.status == Status.FAILED
    assert req.failure_code == "100421"
    assert "clock" in req.failure_message
    assert sandbox.applied() == []


@pytest.mark.usefixtures("tokens_waited_for")
def test_not_sent_retries_with_backoff_then_fails(sandbox: Sandbox, main_key_set, execute, enqueued):
    main_key_set.base_url = "http://127.0.0.1:9"  # nothing listens: connection refused
    main_key_set.save()
    req = approved_request(key_set=main_key_set)
    countdowns = []
    for _ in range(MAX_NOT_SENT - 1):
        req = execute(req)
        assert req.status == Status.APPROVED
        countdowns.append(enqueued[-1][2])
    assert countdowns == sorted(countdowns)
    assert countdowns[0] >= 1
    req = execute(req)
    assert req.status == Status.FAILED
    assert req.failure_code == "not_sent"
    assert req.attempts.filter(outcome=AttemptOutcome.NOT_SENT).count() == MAX_NOT_SENT


def test_rate_limiter_down_sends_nothing_and_retries(
    sandbox: Sandbox, main_key_set, execute, enqueued, settings
):
    settings.RATE_LIMIT_URL = "redis://127.0.0.1:1/0"
    req = execute(approved_request(key_set=main_key_set))
    assert req.status == Status.APPROVED
    assert sandbox.calls() == []
    assert enqueued
    assert enqueued[0][:2] == ("execute", req.pk)
    assert enqueued[0][2] > 0


def test_unexpected_error_during_the_call_is_treated_as_unknown(
    sandbox: Sandbox, main_key_set, execute, enqueued, monkeypatch
):
    import bingx

    def boom(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("worker interrupted")

    monkeypatch.setattr(bingx.Client, "inner_transfer", boom)
    req = execute(approved_request(key_set=main_key_set))
    assert req.status == Status.UNKNOWN
    assert [c[0] for c in enqueued] == ["reconcile"]
