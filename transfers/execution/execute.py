"""Executing an approved transfer on BingX exactly once.

Celery delivers at least once; exactly-once comes from the database and the exchange:

0. Take the call's rate-limit token at the slot booked for this request, never sleeping for one: a
   run without a booking books the next free slot and, unless it is now, is scheduled for it
   (`_book_slot`, `_take_slot`; docs/execution.md "No worker waits for a token").
1. Claim APPROVED → SUBMITTING with one conditional UPDATE. A duplicate delivery, a second worker
   or a finished request finds nothing to claim and returns (settling a dead claim it finds:
   claims.py). No row lock is held over the network.
2. Re-check what approval relied on (payload hash, key set and its base URL, policy version, maximum
   age, recipient, approvers still active and holding approve: `checks.refusal_reason`) outside any
   transaction; a refusal ends the request FAILED with nothing sent.
3. Call the endpoint for the kind (`plan.plan_call`; inner transfers carry the request's client id as
   `transferClientId`). The client's `before_request` hook uses the token of step 0 (or takes one), then
   writes the durable sending mark naming this claim (`claims.claim_mark_sending`); only then is
   the call signed and sent. A claim without the mark provably sent nothing.
4. Record the outcome in its own transaction through `lifecycle.transition`: one ExecutionAttempt per
   HTTP attempt and one audit event. Rejections that prove nothing moved and whose cause passes (rate
   limit, clock skew, transport failure before sending) release the claim back to APPROVED and
   re-enqueue with a countdown; `Ambiguous` (or anything unexpected once the call started) → UNKNOWN
   and reconciliation. A money-moving POST is never re-sent after an ambiguous outcome.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.utils import timezone

import bingx
from bingx.errors import RATE_LIMIT_CODES, TIMESTAMP_CODES
from exchange import ratelimit
from exchange.clients import client_for
from exchange.credentials import CredentialsUnavailable
from exchange.ratelimit.base import STORE_DOWN_RETRY_S
from transfers import dispatch
from transfers.execution.attempts import CallRecorder, attempt_rows, code_text, message_text
from transfers.execution.balances import balances_refresh_enqueue
from transfers.execution.checks import refusal_reason
from transfers.execution.claims import ClaimLost, SendingMarkFailed, claim_mark_sending, stale_claim_settle
from transfers.execution.plan import SEND_ENDPOINTS, PlannedCall, plan_call
from transfers.lifecycle import transition
from transfers.models import (
    AttemptKind,
    AttemptOutcome,
    ExecutionAttempt,
    Status,
    TransferKind,
    TransferRequest,
)

logger = logging.getLogger(__name__)

MAX_NOT_SENT = 5  # transport failures before sending; then FAILED (the exchange stays unreachable)
MAX_RATE_LIMITED = 20  # 100410 answers; each one proves nothing moved
MAX_TIMESTAMP_RETRIES = 1  # a clock rejection after the client's own resync gets one more later try
TIMESTAMP_RETRY_S = 2.0
IN_FLIGHT = (Status.SUBMITTING, Status.UNKNOWN)

Rows = Callable[..., list[ExecutionAttempt]]


def transfer_execute(*, request_id: int, reservation: str | None = None) -> None:
    """Execute one approved request at most once on BingX (see the module docstring).

    `reservation`: the rate-limit slot an earlier run of this task booked and scheduled this one for;
    without it, a slot is booked first, and unless it is (nearly) now the task is scheduled for it
    and returns without claiming: no worker slot sleeps on one UID's token."""
    now = timezone.now()
    claimed = TransferRequest.objects.filter(pk=request_id, status=Status.APPROVED)
    req = claimed.select_related("key_set").first()
    send_path = SEND_ENDPOINTS[TransferKind(req.kind)].path if req is not None else ""
    scope = ratelimit.scope_for(uid=req.key_set.uid, key_set_id=req.key_set_id) if req is not None else ""
    token: str | None = None  # the call's rate-limit token, taken before the claim
    if req is not None:
        if reservation is None:
            reservation = _book_slot(req=req, scope=scope, path=send_path)
            if reservation == _SCHEDULED:
                return
        if reservation is not None:
            token = _take_slot(req=req, scope=scope, path=send_path, reservation=reservation)
            if token is None:
                return  # its slot was taken (it ran late): booked again and scheduled, nothing claimed
    if req is None or not transition(
        request=req,
        from_statuses=(Status.APPROVED,),
        to_status=Status.SUBMITTING,
        verb=None,  # the claim is bookkeeping; the outcome below is the audited event
        changes={"submitted_at": now, "sending_at": None},
    ):
        ratelimit.cancel(scope=scope, path=send_path, token=token)  # nothing was sent with it
        # A dead claim (its worker was killed or lost the database) is settled now, not a sweep later.
        settled = stale_claim_settle(request_id=request_id)
        logger.info(
            "request %s: nothing to claim (duplicate delivery, other worker, or done)%s",
            request_id,
            f"; a dead claim was {settled}" if settled else "",
        )
        return
    started_at = timezone.now()

    reason = refusal_reason(req)
    planned: PlannedCall | None = None
    if reason is None:
        try:
            planned = plan_call(req)
        except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
            reason = f"The approved payload cannot be turned into a BingX call ({exc}); nothing was sent."
    if reason is not None or planned is None:
        ratelimit.cancel(scope=scope, path=send_path, token=token)  # nothing will be sent with it
        _refuse(req=req, reason=reason or "refused", started_at=started_at)
        return

    try:
        client = client_for(key_set=req.key_set)
    except CredentialsUnavailable as exc:
        ratelimit.cancel(scope=scope, path=send_path, token=token)
        _refuse(
            req=req,
            reason=f"The key set's secret cannot be decrypted: {exc} Nothing was sent.",
            started_at=started_at,
            planned=planned,
        )
        return
    recorder = CallRecorder(downstream=client.on_response)
    client.on_response = recorder
    pacer = getattr(client.before_request, "__self__", None)
    if token and isinstance(pacer, ratelimit.Pacer) and planned.endpoint == send_path:
        pacer.use_token(path=send_path, token=token)  # the call goes out on the token taken above
        token = None
    client.before_request = _sending_marker(
        request_id=req.pk, claimed_at=now, path=planned.endpoint, pacer=client.before_request
    )

    exchange_id = ""
    error: BaseException | None = None
    try:
        exchange_id = planned.send(client)
    except ratelimit.RateLimitUnavailable as exc:
        # The limiter said no before this HTTP attempt was sent: give the request back, come later.
        if recorder.calls:  # an earlier attempt was a timestamp rejection the client retried
            attempts = _rows(req=req, planned=planned, calls=recorder.calls, started_at=started_at)(
                final_outcome=AttemptOutcome.REJECTED, finished_at=timezone.now()
            )
            _retry(req=req, attempts=attempts, countdown=exc.retry_in, verb="transfer.execute.clock_retry")
        else:
            _release(req=req, countdown=exc.retry_in, reason=str(exc))
        return
    except ClaimLost as exc:
        # Judged dead and released while waiting for its token; the new claim executes it.
        logger.warning("%s; this execution sent nothing and stands down", exc)
        return
    except SendingMarkFailed as exc:
        # The database went away before the call: nothing was sent. The claim stays unsent, so the
        # task's retry or the sweeper executes the transfer once the database is back.
        raise exc.__cause__ or exc from None
    except BaseException as exc:  # every outcome is recorded, even a time limit or a bug
        error = exc
    finally:
        client.close()
    rows = _rows(req=req, planned=planned, calls=recorder.calls, started_at=started_at, error=error)
    _record(
        req=req,
        planned=planned,
        rows=functools.partial(rows, finished_at=timezone.now()),
        error=error,
        exchange_id=exchange_id,
    )
    if error is not None and not isinstance(error, Exception):
        raise error  # SystemExit / KeyboardInterrupt after recording


# -- the rate-limit slot, booked before the claim --------------------------------------------------

# Slots closer than this are waited for inside the task (the pacer's own short wait); further ones
# are scheduled with a Celery countdown.
RUN_NOW_S = dispatch.SLOT_RUN_NOW_S
_SCHEDULED = "scheduled"  # sentinel: the task was scheduled for its slot, nothing to do now
# A holder whose slot is still taken (it ran late, or the calls before it answered late) keeps its
# reservation and comes back when the window allows — the limiter names its own window among the
# late holders booked before it, in booking order — if that is this soon; else it books anew.
NUDGE_MAX_S = 5.0


def _take_slot(*, req: TransferRequest, scope: str, path: str, reservation: str) -> str | None:
    """At (or just after) the booked slot: the call's token, taken before the claim (the sending mark
    still comes after it). A slot still taken by calls answered later than planned — this run came
    late, or the calls before it were slow — is given back and a new one booked: this task is
    scheduled again and returns None, having claimed nothing and slept at most a few hundred ms."""
    try:
        acquired = ratelimit.acquire(
            scope=scope,
            path=path,
            max_wait=ratelimit.RESERVED_MAX_WAIT_S,
            hold_ms=ratelimit.client_hold_ms(),
            reservation=reservation,
        )
    except ratelimit.RateLimitUnavailable as exc:
        logger.info("request %s: its rate-limit slot is still taken; again in %.2f s", req.pk, exc.retry_in)
        if exc.retry_in <= NUDGE_MAX_S:
            # Keep the reservation (its place in the queue) and come back when the window allows.
            dispatch.transfer_execute_enqueue(
                request_id=req.pk, countdown=exc.retry_in, reservation=reservation
            )
            return None
        ratelimit.cancel(scope=scope, path=path, token=reservation)
        if exc.retry_in >= STORE_DOWN_RETRY_S:  # a block, or the store is down: come back then
            dispatch.transfer_execute_enqueue(request_id=req.pk, countdown=exc.retry_in)
            return None
        again = _book_slot(req=req, scope=scope, path=path, run_now_s=0.0)
        if again != _SCHEDULED:  # the next slot is now after all
            return _take_slot(req=req, scope=scope, path=path, reservation=again) if again else None
        return None
    return acquired.token


def _book_slot(*, req: TransferRequest, scope: str, path: str, run_now_s: float = RUN_NOW_S) -> str | None:
    """Book the next rate-limit slot for the request's call. Returns the reservation to use now, None
    (the endpoint is unlimited; or the limiter store is down and the pacer will fail closed), or
    `_SCHEDULED` when this task was re-enqueued for the slot (or for the end of a block) instead."""
    try:
        slot = ratelimit.reserve(scope=scope, path=path)
    except ratelimit.RateLimitUnavailable:
        return None  # the pacer meets the same store, fails closed and the request is released
    if slot.delay_s <= run_now_s:
        return slot.token
    dispatch.transfer_execute_enqueue(request_id=req.pk, countdown=slot.delay_s, reservation=slot.token)
    logger.info("request %s: rate-limit slot in %.2f s; scheduled for it", req.pk, slot.delay_s)
    return _SCHEDULED


# -- outcomes ------------------------------------------------------------------------------------


def _rows(
    *,
    req: TransferRequest,
    planned: PlannedCall,
    calls: list[bingx.CallInfo],
    started_at: datetime,
    error: BaseException | None = None,
) -> Rows:
    # Every outcome records the same call; only the outcome (and the exchange id) differs.
    return functools.partial(
        attempt_rows,
        req=req,
        endpoint=planned.endpoint,
        params=planned.params,
        calls=calls,
        started_at=started_at,
        error=error,
    )


def _conclude(
    *,
    req: TransferRequest,
    to_status: str,
    verb: str,
    attempts: list[ExecutionAttempt],
    changes: dict[str, Any],
    from_statuses: tuple[str, ...] = IN_FLIGHT,
    on_commit: Callable[[], None] | None = None,
) -> None:
    moved = transition(
        request=req,
        from_statuses=from_statuses,
        to_status=to_status,
        verb=verb,
        changes=changes,
        attempts=attempts,
        on_commit=on_commit,
    )
    if not moved:
        logger.warning("request %s: outcome %s not applied, status already changed", req.pk, verb)


def _refuse(
    *, req: TransferRequest, reason: str, started_at: datetime, planned: PlannedCall | None = None
) -> None:
    finished = timezone.now()
    attempts = attempt_rows(
        req=req,
        endpoint=planned.endpoint if planned else SEND_ENDPOINTS[TransferKind(req.kind)].path,
        params=planned.params if planned else {},
        calls=[],
        final_outcome=AttemptOutcome.REFUSED,
        started_at=started_at,
        finished_at=finished,
        message=reason,
    )
    _conclude(
        req=req,
        from_statuses=(Status.SUBMITTING,),
        to_status=Status.FAILED,
        verb="transfer.execute.refused",
        attempts=attempts,
        changes={"failure_code": "refused", "failure_message": reason, "completed_at": finished},
    )


def _sending_marker(
    *, request_id: int, claimed_at: datetime, path: str, pacer: Callable[[str, str], None] | None
) -> Callable[[str, str], None]:
    """The client's `before_request`: first the rate-limit token (it may wait), then the durable
    sending mark, then the client signs and sends. A crash before the mark provably sent nothing."""

    def before_request(method: str, call_path: str) -> None:
        if pacer is not None:
            pacer(method, call_path)
        if call_path == path:
            claim_mark_sending(request_id=request_id, claimed_at=claimed_at)

    return before_request


def _release(*, req: TransferRequest, countdown: float, reason: str) -> None:
    """Back to APPROVED (nothing was sent by this execution) and try again after `countdown` s.

    From UNKNOWN too: the sweeper may have judged a slow execution stuck; only this execution could
    have sent anything, and it did not."""
    transition(
        request=req,
        from_statuses=IN_FLIGHT,
        to_status=Status.APPROVED,
        verb=None,
        changes={"submitted_at": None, "sending_at": None},
        on_commit=lambda: dispatch.transfer_execute_enqueue(request_id=req.pk, countdown=countdown),
    )
    logger.info("request %s: not sent (%s); retrying in %.1f s", req.pk, reason, countdown)


def _retry(*, req: TransferRequest, attempts: list[ExecutionAttempt], countdown: float, verb: str) -> None:
    """Nothing moved and the cause passes: back to APPROVED, execute again after `countdown` s."""
    _conclude(
        req=req,
        to_status=Status.APPROVED,
        verb=verb,
        attempts=attempts,
        changes={"submitted_at": None, "sending_at": None},
        on_commit=lambda: dispatch.transfer_execute_enqueue(request_id=req.pk, countdown=countdown),
    )


def _prior_attempts(req: TransferRequest) -> Any:
    return ExecutionAttempt.objects.filter(request=req, kind=AttemptKind.SUBMIT)


def _record(
    *, req: TransferRequest, planned: PlannedCall, rows: Rows, error: BaseException | None, exchange_id: str
) -> None:
    """Classify the outcome of the call and apply it (one transition)."""
    if error is None:
        _succeeded(req=req, rows=rows, exchange_id=exchange_id)
        return
    if isinstance(error, bingx.NotSent):
        _not_sent(req=req, rows=rows, error=error)
        return
    # A rate limit or a clock rejection proves nothing moved: retry within bounds, else fail below.
    retried = False
    if isinstance(error, bingx.RateLimited):
        retried = _rate_limited(req=req, planned=planned, rows=rows, error=error)
    elif isinstance(error, bingx.TimestampError):
        retried = _clock_retry(req=req, rows=rows)
    if retried:
        return
    if isinstance(error, bingx.Rejected):
        _rejected(req=req, rows=rows, error=error)
        return
    _ambiguous(req=req, rows=rows, error=error)


def _succeeded(*, req: TransferRequest, rows: Rows, exchange_id: str) -> None:
    _conclude(
        req=req,
        to_status=Status.SUCCEEDED,
        verb="transfer.execute.succeeded",
        attempts=rows(final_outcome=AttemptOutcome.SUCCEEDED, exchange_id=exchange_id),
        changes={
            "exchange_id": exchange_id,
            "completed_at": timezone.now(),
            "needs_attention": False,
            "failure_code": "",
            "failure_message": "",
        },
        # Money moved: show the new balances without waiting for the periodic sync.
        on_commit=lambda: balances_refresh_enqueue(req=req),
    )


def _not_sent(*, req: TransferRequest, rows: Rows, error: bingx.NotSent) -> None:
    failures = _prior_attempts(req).filter(outcome=AttemptOutcome.NOT_SENT).count() + 1
    attempts = rows(final_outcome=AttemptOutcome.NOT_SENT)
    if failures < MAX_NOT_SENT:
        _retry(
            req=req, attempts=attempts, countdown=min(60.0, 2.0**failures), verb="transfer.execute.not_sent"
        )
        return
    message = (
        f"BingX could not be reached {failures} times ({error.message}); nothing was sent. "
        "Submit a new request once the exchange is reachable."
    )
    _conclude(
        req=req,
        to_status=Status.FAILED,
        verb="transfer.execute.failed",
        attempts=attempts,
        changes={"failure_code": "not_sent", "failure_message": message, "completed_at": timezone.now()},
    )


def _rate_limited(
    *, req: TransferRequest, planned: PlannedCall, rows: Rows, error: bingx.RateLimited
) -> bool:
    """Block the endpoint for every process and retry when BingX allows; False past the bound."""
    wait_ms = ratelimit.block(
        scope=ratelimit.scope_for(uid=req.key_set.uid, key_set_id=req.key_set_id),
        path=planned.endpoint,
        retry_in_ms=error.retry_in_ms,
        retry_after_ms=error.retry_after_ms,
    )
    limited = _prior_attempts(req).filter(bingx_code__in=[str(c) for c in RATE_LIMIT_CODES]).count() + 1
    if limited >= MAX_RATE_LIMITED:
        return False
    _retry(
        req=req,
        attempts=rows(final_outcome=AttemptOutcome.REJECTED),
        countdown=wait_ms / 1000 + 0.05,
        verb="transfer.execute.rate_limited",
    )
    return True


def _clock_retry(*, req: TransferRequest, rows: Rows) -> bool:
    """The client already resynced server time once inside this call; give the clock a moment, once."""
    earlier = _prior_attempts(req).filter(bingx_code__in=[str(c) for c in TIMESTAMP_CODES]).exists()
    if earlier:
        return False
    _retry(
        req=req,
        attempts=rows(final_outcome=AttemptOutcome.REJECTED),
        countdown=TIMESTAMP_RETRY_S,
        verb="transfer.execute.clock_retry",
    )
    return True


def _rejected(*, req: TransferRequest, rows: Rows, error: bingx.Rejected) -> None:
    code = (
        str(error.code)
        if error.code is not None
        else (f"HTTP {error.http_status}" if error.http_status else "")
    )
    _conclude(
        req=req,
        to_status=Status.FAILED,
        verb="transfer.execute.failed",
        attempts=rows(final_outcome=AttemptOutcome.REJECTED),
        changes={
            "failure_code": code[:32],
            "failure_message": rejection_message(error),
            "completed_at": timezone.now(),
        },
    )


def _ambiguous(*, req: TransferRequest, rows: Rows, error: BaseException) -> None:
    """Ambiguous, or anything unexpected once the call may have started (time limit, bug): the
    transfer may have happened. Never re-send; find out from the exchange's records."""
    if not isinstance(error, Exception):  # worker shutdown or time limit: expected, no traceback
        logger.warning("request %s: execution interrupted (%s); reconciling", req.pk, type(error).__name__)
    elif not isinstance(error, bingx.Ambiguous):
        logger.error("request %s: unexpected error during the BingX call", req.pk, exc_info=error)
    _conclude(
        req=req,
        from_statuses=(Status.SUBMITTING,),
        to_status=Status.UNKNOWN,
        verb="transfer.execute.unknown",
        attempts=rows(final_outcome=AttemptOutcome.AMBIGUOUS),
        changes={
            "failure_code": code_text(error)[:32],
            "failure_message": f"Outcome unknown: {message_text(error)}. Reconciling with BingX's records.",
        },
        on_commit=lambda: dispatch.transfer_reconcile_enqueue(request_id=req.pk),
    )


def rejection_message(error: bingx.Rejected) -> str:
    """A sentence for people, with BingX's own words at the end."""
    said = f" BingX said: “{error.message}”." if error.message else ""
    if isinstance(error, bingx.InsufficientBalance):
        head = "Insufficient balance on BingX for this transfer; nothing moved."
    elif isinstance(error, bingx.PermissionDenied):
        head = "The API key lacks the permission this transfer needs; nothing moved."
    elif isinstance(error, bingx.IPNotWhitelisted):
        head = "BingX refused this server's IP address for the key; nothing moved."
    elif isinstance(error, bingx.AuthenticationError):
        head = "BingX rejected the key set's credentials; nothing moved."
    elif isinstance(error, bingx.TimestampError):
        head = "BingX kept rejecting the request time even after resyncing the clock; nothing moved."
    elif isinstance(error, bingx.RateLimited):
        head = "BingX kept rate-limiting this transfer; nothing moved."
    elif isinstance(error, bingx.InvalidParameters):
        head = "BingX rejected the transfer's parameters; nothing moved."
    else:
        head = "BingX refused the transfer; nothing moved."
    return head + said


__all__ = ["rejection_message", "transfer_execute"]
