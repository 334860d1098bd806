"""The sending mark: written after the rate-limit token and before the call, so a claim without it
provably sent nothing; such a claim, once its worker is judged dead, executes again, and the old
worker (if it was alive after all) stands down without sending."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from accounts.models import AuditEvent
from exchange import ratelimit
from tests.transfers.execution_support import INNER_APPLY, Sandbox, approved_request, status_of, wait_for
from transfers.execution.claims import stale_claim_settle, unsent_claim_release
from transfers.execution.execute import transfer_execute
from transfers.models import Status, TransferRequest

pytestmark = pytest.mark.usefixtures("limiter_dir")


@pytest.mark.django_db
def test_the_sending_mark_is_written_between_the_claim_and_the_call(sandbox: Sandbox, main_key_set, execute):
    req = execute(approved_request(key_set=main_key_set, amount="3"))
    assert req.status == Status.SUCCEEDED
    (call,) = sandbox.calls(INNER_APPLY)
    assert req.submitted_at is not None
    assert req.sending_at is not None
    assert req.submitted_at <= req.sending_at
    # The call was signed after the mark: its signed timestamp is not older than the mark.
    assert int(call["params"]["timestamp"]) >= int(req.sending_at.timestamp() * 1000) - 5


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("tokens_waited_for")
def test_a_claim_released_during_its_token_wait_sends_nothing(
    sandbox: Sandbox, main_key_set, enqueued, settings, django_capture_on_commit_callbacks
):
    """Two people never win: the sweeper judged the waiting worker dead and released its claim; when
    the token finally comes, the old worker's mark names a claim that no longer exists."""
    settings.TRANSFER_UNSENT_CLAIM_SECONDS = 20
    req = approved_request(key_set=main_key_set, amount="3")
    scope = ratelimit.scope_for(uid=main_key_set.uid, key_set_id=main_key_set.pk)
    ratelimit.block(scope=scope, path=INNER_APPLY, retry_in_ms=2500)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            transfer_execute(request_id=req.pk)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    worker = threading.Thread(target=run)
    worker.start()
    wait_for(lambda: status_of(req) == Status.SUBMITTING, timeout=10, what="the claim")
    claimed = TransferRequest.objects.get(pk=req.pk)
    assert claimed.sending_at is None  # waiting for its token: nothing sent yet
    # Pretend the claim is old (its worker looked dead) and release it, as the sweeper would.
    old = timezone.now() - timedelta(seconds=60)
    TransferRequest.objects.filter(pk=req.pk).update(submitted_at=old)
    claimed.submitted_at = old
    with django_capture_on_commit_callbacks(execute=True):
        assert unsent_claim_release(req=claimed)
    worker.join(timeout=30)
    assert errors == []
    assert sandbox.calls(INNER_APPLY) == []  # the old worker stood down
    assert status_of(req) == Status.APPROVED
    assert enqueued == [("execute", req.pk, 0)]
    assert AuditEvent.objects.filter(verb="transfer.execute.unsent_released", object_id=str(req.pk)).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("sent", "age_s", "expected", "status"),
    [
        (False, 30, "released", Status.APPROVED),
        (False, 5, None, Status.SUBMITTING),  # maybe still in its token wait
        (True, 45, "unknown", Status.UNKNOWN),
        (True, 10, None, Status.SUBMITTING),  # maybe still on the wire
    ],
)
def test_a_worker_finding_a_dead_claim_settles_it_at_once(
    main_key_set, enqueued, settings, django_capture_on_commit_callbacks, sent, age_s, expected, status
):
    settings.TRANSFER_UNSENT_CLAIM_SECONDS = 20
    settings.TRANSFER_STUCK_AFTER_SECONDS = 30
    req = approved_request(key_set=main_key_set, status=Status.SUBMITTING)
    then = timezone.now() - timedelta(seconds=age_s)
    TransferRequest.objects.filter(pk=req.pk).update(submitted_at=then, sending_at=then if sent else None)
    with django_capture_on_commit_callbacks(execute=True):
        transfer_execute(request_id=req.pk)  # a duplicate message: nothing to claim
    assert status_of(req) == status
    follow_up: list[Any] = {"released": [("execute", req.pk, 0)], "unknown": [("reconcile", req.pk, 0)]}.get(
        str(expected), []
    )
    assert enqueued == follow_up
    assert stale_claim_settle(request_id=req.pk) is None  # nothing left to settle
