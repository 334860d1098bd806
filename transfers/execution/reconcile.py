"""Deciding what happened to a transfer whose outcome is unknown, from the exchange's own records.

Never by re-sending: the request is looked up in the records endpoint for its kind —

* inner: `innerTransfer/records` filtered by our `transferClientId` (BingX's idempotency key);
* wallet: `asset/transferRecord` for the wallet pair in a time window around submission, matching
  asset and amount, skipping records already matched to another request;
* sub_inner: the sub-account's `innerTransfer/records` in the window, matching receiver and amount;
* family: the master's sub-account transfer history in the window, matching from/to UID and amount.

Found → SUCCEEDED with the exchange id. Proven absent once `TRANSFER_SETTLE_WINDOW_SECONDS` have
passed since submission → the approved transfer executes again (same client id), up to
`TRANSFER_ABSENT_RESENDS` times; then FAILED (nothing moved) and the people involved are emailed.
Before that → look again later. When the lookup itself keeps failing past the window, the request
stays UNKNOWN and is flagged for a human with what is known.
Every lookup writes an ExecutionAttempt(kind=reconcile).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

import bingx
from accounts.audit import audit_record
from accounts.models import ApiKeySet
from exchange import ratelimit
from exchange.clients import client_for
from exchange.credentials import CredentialsUnavailable
from exchange.timeutil import datetime_to_ms
from transfers import dispatch, notifications
from transfers.execution.attempts import CallRecorder, worker_name
from transfers.execution.lookup_backoff import lookup_gate_seconds, lookup_retry_delay
from transfers.execution.plan import RECORD_ENDPOINTS
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

WINDOW_BEFORE = timedelta(minutes=2)  # clock differences between us and the exchange
WINDOW_AFTER = timedelta(minutes=5)
MAX_PAGES = 20
# Follow-up lookups: a chain of delayed tasks every 2 to 5 s until the settle window ends. The sweeper
# restarts a chain that went quiet for longer than any chain delay (see sweeper.py), and a lookup
# right after another one stands down, so duplicate messages never grow into parallel chains.
RETRY_DELAY_S = 5.0
MIN_DELAY_S = 2.0
GATE_S = 1.5
INNER_FAILED = 5  # inner-transfer record status: 4 pending review, 5 failed, 6 completed


@dataclass(frozen=True)
class Candidate:
    exchange_id: str
    failed: bool = False  # the exchange recorded the transfer as failed (inner status 5)


def _window(req: TransferRequest) -> tuple[int, int]:
    submitted = req.submitted_at or req.updated_at
    return datetime_to_ms(submitted - WINDOW_BEFORE), datetime_to_ms(
        max(timezone.now(), submitted) + WINDOW_AFTER
    )


def _amount(req: TransferRequest) -> Decimal:
    return Decimal(str(req.payload["amount"]))


def _pages(fetch: Callable[[int], bingx.Page[Any]], size: int) -> Iterable[Any]:
    """Every row of a paged records endpoint (bounded). `fetch(n)` returns page n (from 0)."""
    seen = 0
    for n in range(MAX_PAGES):
        page = fetch(n)
        yield from page.rows
        seen += len(page.rows)
        if len(page.rows) < size or seen >= page.total:
            return


def find_candidates(client: bingx.Client, req: TransferRequest) -> list[Candidate]:
    """Records on the exchange that may be this request, oldest first."""
    p = req.payload
    asset = str(p["asset"])
    amount = _amount(req)
    start, end = _window(req)
    if req.kind == TransferKind.INNER:
        page = client.inner_transfer_records(coin=asset, transfer_client_id=req.client_id, limit=100)
        return [
            Candidate(r.id, failed=r.status == INNER_FAILED)
            for r in page.rows
            if r.transfer_client_id == req.client_id and r.record_type in ("", "out")
        ]
    if req.kind == TransferKind.WALLET:
        rows = _pages(
            lambda n: client.transfer_records(
                from_account=p["from_wallet"],
                to_account=p["to_wallet"],
                start_time=start,
                end_time=end,
                page_index=n + 1,
                page_size=100,
            ),
            100,
        )
        found = [r for r in rows if r.asset == asset and abs(r.amount) == amount]
        found.sort(key=lambda r: r.timestamp or 0)
        return [Candidate(r.transfer_id) for r in found]
    if req.kind == TransferKind.SUB_INNER:
        receiver = str(p["recipient_account"]) if int(p["recipient_type"]) == 1 else None
        rows = _pages(
            lambda n: client.sub_account_inner_transfer_records(
                coin=asset, start_time=start, end_time=end, offset=n * 100, limit=100
            ),
            100,
        )
        found = [
            r
            for r in rows
            if r.amount == amount
            and r.record_type in ("", "out")
            and (receiver is None or r.receiver == receiver)
        ]
        found.sort(key=lambda r: r.time or 0)
        return [Candidate(r.id, failed=r.status == INNER_FAILED) for r in found]
    if req.kind == TransferKind.FAMILY:
        from_uid, to_uid = str(p["from_uid"]), str(p["to_uid"])
        # The history is per family member; the sub-account side (if any) names it.
        member = to_uid if int(p["to_type"]) == 2 else from_uid
        rows = _pages(
            lambda n: client.sub_account_transfer_history(
                uid=int(member), start_time=start, end_time=end, page_id=n + 1, paging_size=100
            ),
            100,
        )
        found = [
            r
            for r in rows
            if r.asset == asset and r.amount == amount and r.from_uid == from_uid and r.to_uid == to_uid
        ]
        found.sort(key=lambda r: r.timestamp or 0)
        return [Candidate(r.tran_id) for r in found]
    raise ValueError(f"unknown transfer kind {req.kind!r}")


def _attempt(
    *,
    req: TransferRequest,
    recorder: CallRecorder,
    outcome: str,
    started: datetime,
    message: str = "",
    exchange_id: str = "",
    error: BaseException | None = None,
) -> ExecutionAttempt:
    last = recorder.calls[-1] if recorder.calls else None
    finished = timezone.now()
    code = getattr(error, "code", None)
    return ExecutionAttempt(
        request=req,
        kind=AttemptKind.RECONCILE,
        endpoint=last.path if last else RECORD_ENDPOINTS[TransferKind(req.kind)].path,
        method=last.method if last else "GET",
        params=dict(last.params) if last else {},
        http_status=last.http_status if last else getattr(error, "http_status", None),
        bingx_code=str(last.code) if last and last.code is not None else ("" if code is None else str(code)),
        bingx_message=message[:2000],
        outcome=outcome,
        exchange_id=exchange_id,
        worker=worker_name(),
        started_at=started,
        finished_at=finished,
        duration_ms=sum(c.duration_ms for c in recorder.calls),
    )


def _settled(req: TransferRequest) -> bool:
    submitted = req.submitted_at or req.updated_at
    return timezone.now() - submitted >= timedelta(seconds=settings.TRANSFER_SETTLE_WINDOW_SECONDS)


def transfer_reconcile(*, request_id: int) -> str:
    """Settle an UNKNOWN request from the exchange's records. Returns what it concluded."""
    req = TransferRequest.objects.select_related("key_set").filter(pk=request_id).first()
    if req is None or req.status != Status.UNKNOWN:
        return "nothing to do"
    recent = timezone.now() - timedelta(seconds=lookup_gate_seconds(req=req, gate=GATE_S))
    if ExecutionAttempt.objects.filter(
        request=req, kind=AttemptKind.RECONCILE, started_at__gt=recent
    ).exists():
        # Another reconcile (a duplicate message, or the sweeper's) just looked: let that chain go on
        # alone, so follow-up lookups never multiply.
        return "looked just now"
    started = timezone.now()
    recorder = CallRecorder()
    try:
        client = client_for(key_set=req.key_set)
        recorder.downstream = client.on_response
        client.on_response = recorder
        try:
            candidates = find_candidates(client, req)
        finally:
            client.close()
    except (bingx.BingXError, ratelimit.RateLimitUnavailable, CredentialsUnavailable) as exc:
        return _lookup_failed(req=req, recorder=recorder, started=started, error=exc)

    with transaction.atomic():
        # One matcher per key set at a time, so two requests never claim the same record.
        ApiKeySet.objects.select_for_update().filter(pk=req.key_set_id).first()
        taken = set(
            TransferRequest.objects.filter(
                key_set_id=req.key_set_id, exchange_id__in=[c.exchange_id for c in candidates]
            )
            .exclude(pk=req.pk)
            .values_list("exchange_id", flat=True)
        )
        match = next((c for c in candidates if c.exchange_id not in taken), None)
        attempt = functools.partial(_attempt, req=req, recorder=recorder, started=started)
        if match is not None:
            return _found(req=req, match=match, attempt=attempt)
        if _settled(req):
            if req.absent_resends < settings.TRANSFER_ABSENT_RESENDS:
                return _absent_resend(req=req, attempt=attempt)
            executions = req.absent_resends + 1
            message = (
                f"Not found in BingX records after the settle window, {executions} "
                f"execution{'s' if executions > 1 else ''} in a row; nothing moved. "
                "Submit a new request if the transfer is still wanted."
            )
            return _conclude(
                req=req,
                to_status=Status.FAILED,
                verb="transfer.reconcile.absent",
                attempt=attempt(outcome=AttemptOutcome.ABSENT, message=message),
                changes={"failure_code": "not_found", "failure_message": message, **_SETTLED},
                on_commit=lambda: notifications.notify_execution_failed(request_id=req.pk),
            )
        attempt(
            outcome=AttemptOutcome.ABSENT,
            message="Not in BingX records yet; looking again after a short wait.",
        ).save()
        submitted = req.submitted_at or req.updated_at
        remaining = settings.TRANSFER_SETTLE_WINDOW_SECONDS - (timezone.now() - submitted).total_seconds()
        delay = max(MIN_DELAY_S, min(RETRY_DELAY_S, remaining + 0.2))
        transaction.on_commit(
            lambda: dispatch.transfer_reconcile_enqueue(request_id=req.pk, countdown=delay), robust=True
        )
    return "not yet"


# A settled request needs no human any more (a lookup failure may have flagged it).
_SETTLED = {"needs_attention": False, "attention_reason": ""}


def _found(*, req: TransferRequest, match: Candidate, attempt: Callable[..., ExecutionAttempt]) -> str:
    """The exchange has a record of this request: it succeeded, or the exchange says it failed."""
    if match.failed:
        message = f"BingX recorded transfer {match.exchange_id} as failed; nothing moved."
        to_status, verb = Status.FAILED, "transfer.reconcile.failed"
        outcome = {"failure_code": "exchange_failed", "failure_message": message}
    else:
        message = f"Found in BingX records as {match.exchange_id}."
        to_status, verb = Status.SUCCEEDED, "transfer.reconcile.found"
        outcome = {"failure_code": "", "failure_message": ""}
    return _conclude(
        req=req,
        to_status=to_status,
        verb=verb,
        attempt=attempt(outcome=AttemptOutcome.FOUND, exchange_id=match.exchange_id, message=message),
        changes={"exchange_id": match.exchange_id, **outcome, **_SETTLED},
    )


def _absent_resend(*, req: TransferRequest, attempt: Callable[..., ExecutionAttempt]) -> str:
    """Proven absent after the settle window: the approved intent still stands, so execute it again
    (same client id), a bounded number of times (`TRANSFER_ABSENT_RESENDS`)."""
    resends = req.absent_resends + 1
    message = (
        "Not found in BingX records after the settle window; nothing moved. "
        f"Executing the approved transfer again ({resends} of {settings.TRANSFER_ABSENT_RESENDS})."
    )
    moved = transition(
        request=req,
        from_statuses=(Status.UNKNOWN,),
        to_status=Status.APPROVED,
        guard=Q(absent_resends=req.absent_resends),
        verb="transfer.reconcile.absent_resend",
        changes={
            "absent_resends": resends,
            "submitted_at": None,
            "sending_at": None,
            "failure_code": "",
            "failure_message": "",
            **_SETTLED,
        },
        attempts=[attempt(outcome=AttemptOutcome.ABSENT, message=message)],
        before={"status": Status.UNKNOWN, "submitted_at": req.submitted_at},
        after={"status": Status.APPROVED, "absent_resends": resends, "reason": message},
        on_commit=lambda: dispatch.transfer_execute_enqueue(request_id=req.pk),
    )
    return "absent; executing again" if moved else "already settled"


def _conclude(
    *,
    req: TransferRequest,
    to_status: str,
    verb: str,
    attempt: ExecutionAttempt,
    changes: dict[str, Any],
    on_commit: Callable[[], object] | None = None,
) -> str:
    """Inside the caller's transaction: UNKNOWN → final, the attempt row, one audit event."""
    moved = transition(
        request=req,
        from_statuses=(Status.UNKNOWN,),
        to_status=to_status,
        verb=verb,
        changes={**changes, "completed_at": timezone.now()},
        attempts=[attempt],
        before={"status": Status.UNKNOWN},
        after={
            "status": to_status,
            **{k: v for k, v in changes.items() if k in ("exchange_id", "failure_message")},
        },
        on_commit=on_commit,
    )
    return str(to_status) if moved else "already settled"


def _lookup_failed(
    *, req: TransferRequest, recorder: CallRecorder, started: datetime, error: BaseException
) -> str:
    """The exchange could not be asked. Look again later; past the settle window, flag for a human."""
    if isinstance(error, bingx.RateLimited):
        ratelimit.block(
            scope=ratelimit.scope_for(uid=req.key_set.uid, key_set_id=req.key_set_id),
            path=RECORD_ENDPOINTS[TransferKind(req.kind)].path,
            retry_in_ms=error.retry_in_ms,
            retry_after_ms=error.retry_after_ms,
        )
    if isinstance(error, (bingx.NotSent, ratelimit.RateLimitUnavailable)):
        outcome = AttemptOutcome.NOT_SENT
    elif isinstance(error, bingx.Rejected):
        outcome = AttemptOutcome.REJECTED
    else:
        outcome = AttemptOutcome.AMBIGUOUS
    text = getattr(error, "message", None) or str(error)
    attempt = _attempt(
        req=req,
        recorder=recorder,
        outcome=outcome,
        started=started,
        error=error,
        message=f"Could not read BingX records: {text}",
    )
    delay = lookup_retry_delay(req=req, retry_in=getattr(error, "retry_in", None))  # backs off
    with transaction.atomic():
        attempt.save()
        if _settled(req):
            submitted = req.submitted_at or req.updated_at
            reason = (
                f"Outcome unknown: BingX's records could not be read ({text}) "
                "and the settle window has passed. "
                f"Submitted {submitted:%Y-%m-%d %H:%M:%S} UTC to {attempt.endpoint or 'BingX'} for "
                f"{req.payload.get('amount')} {req.payload.get('asset')} (client id {req.client_id}). "
                "Check the transfer history on BingX before doing anything else; do not re-request blindly."
            )
            flagged = TransferRequest.objects.filter(
                pk=req.pk, status=Status.UNKNOWN, needs_attention=False
            ).update(needs_attention=True, attention_reason=reason, updated_at=timezone.now())
            if flagged:
                audit_record(
                    actor=None,
                    verb="transfer.reconcile.needs_attention",
                    obj=req,
                    before={"needs_attention": False},
                    after={"needs_attention": True, "reason": reason},
                )
            # A human is asked to look; the sweeper keeps checking at its own slower pace.
            return "lookup failed; flagged for attention"
        transaction.on_commit(
            lambda: dispatch.transfer_reconcile_enqueue(request_id=req.pk, countdown=delay), robust=True
        )
    logger.warning("request %s: reconcile lookup failed: %s", req.pk, text)
    return "lookup failed"
