"""Executing an approved transfer on BingX exactly once.

Celery delivers at least once; exactly-once comes from the database and the exchange:

1. Claim APPROVED → SUBMITTING with one conditional UPDATE. A duplicate delivery, a second worker
   or a finished request finds nothing to claim and returns. No row lock is held over the network.
2. Re-check (payload hash, approvals, key set, policy version) outside any transaction; a refusal
   ends the request FAILED with nothing sent.
3. Call the endpoint for the kind (a shared rate-limit token is taken by the client's
   `before_request` hook; inner transfers carry the request's client id as `transferClientId`).
4. Record the outcome in its own transaction: one ExecutionAttempt per HTTP attempt and one audit
   event. Rejections that prove nothing moved and whose cause passes (rate limit, clock skew,
   transport failure before sending) release the claim back to APPROVED and re-enqueue with a
   countdown; `Ambiguous` (or anything unexpected once the call started) → UNKNOWN and
   reconciliation. A money-moving POST is never re-sent after an ambiguous outcome.
"""

from __future__ import annotations

import functools
import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

import bingx
from accounts.audit import audit_record
from accounts.crypto import SecretUnavailable
from accounts.exchange import client_for
from accounts.models import ApiKeySet, KeySetStatus
from bingx import CallInfo
from bingx.errors import TIMESTAMP_CODES
from transfers import ratelimit
from transfers.models import (
    Approval,
    AttemptKind,
    AttemptOutcome,
    Decision,
    ExecutionAttempt,
    Status,
    TransferKind,
    TransferRequest,
)
from transfers.payload import payload_verify
from transfers.policy import policy_version_current

logger = logging.getLogger(__name__)

MAX_NOT_SENT = 5  # transport failures before sending; then FAILED (the exchange stays unreachable)
MAX_RATE_LIMITED = 20  # 100410 answers; each one proves nothing moved
MAX_TIMESTAMP_RETRIES = 1  # a clock rejection after the client's own resync gets one more later try
RECONCILE_DELAY_S = 2.0
TIMESTAMP_RETRY_S = 2.0
BALANCES_REFRESH_COALESCE_S = 3

ENDPOINTS = {
    TransferKind.WALLET: "/openApi/api/asset/v1/transfer",
    TransferKind.INNER: "/openApi/wallets/v1/capital/innerTransfer/apply",
    TransferKind.SUB_INNER: "/openApi/wallets/v1/capital/subAccountInnerTransfer/apply",
    TransferKind.FAMILY: "/openApi/account/transfer/v1/subAccount/transferAsset",
}


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _ms_between(start: datetime, end: datetime) -> int:
    return max(0, int((end - start).total_seconds() * 1000))


@dataclass
class CallRecorder:
    """Collects the client's `on_response` reports: one per HTTP attempt."""

    calls: list[CallInfo] = field(default_factory=list)
    downstream: Callable[[CallInfo], None] | None = None

    def __call__(self, info: CallInfo) -> None:
        self.calls.append(info)
        if self.downstream is not None:
            self.downstream(info)


# -- the call per kind ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedCall:
    endpoint: str
    params: dict[str, Any]  # what we intend to send, for the attempt row when nothing was signed
    send: Callable[[bingx.Client], str]  # performs the call, returns the exchange id


def plan_call(req: TransferRequest) -> PlannedCall:
    """The endpoint and exact values for the request's kind, taken from the approved payload."""
    p = req.payload
    amount = Decimal(str(p["amount"]))
    asset = str(p["asset"])
    if req.kind == TransferKind.WALLET:
        params: dict[str, Any] = {
            "fromAccount": p["from_wallet"],
            "toAccount": p["to_wallet"],
            "asset": asset,
            "amount": str(amount),
        }
        return PlannedCall(
            ENDPOINTS[TransferKind.WALLET],
            params,
            lambda c: c.transfer(p["from_wallet"], p["to_wallet"], asset, amount).id,
        )
    if req.kind in (TransferKind.INNER, TransferKind.SUB_INNER):
        # Same parameters for both endpoints; only main-account inner transfers take a client id.
        inner: dict[str, Any] = {
            "coin": asset,
            "user_account_type": int(p["recipient_type"]),
            "user_account": str(p["recipient_account"]),
            "amount": amount,
            "wallet_type": int(p["wallet_type"]),
            "calling_code": p.get("calling_code") or None,
        }
        params = {
            "coin": asset,
            "userAccountType": inner["user_account_type"],
            "userAccount": inner["user_account"],
            "amount": str(amount),
            "walletType": inner["wallet_type"],
            "callingCode": inner["calling_code"],
        }
        if req.kind == TransferKind.INNER:
            params["transferClientId"] = req.client_id
            return PlannedCall(
                ENDPOINTS[TransferKind.INNER],
                params,
                lambda c: c.inner_transfer(**inner, transfer_client_id=req.client_id).id,
            )
        return PlannedCall(
            ENDPOINTS[TransferKind.SUB_INNER],
            params,
            lambda c: c.sub_account_inner_transfer(**inner).id,
        )
    if req.kind == TransferKind.FAMILY:
        params = {
            "assetName": asset,
            "transferAmount": str(amount),
            "fromUid": int(p["from_uid"]),
            "fromType": int(p["from_type"]),
            "fromAccountType": int(p["from_account_type"]),
            "toUid": int(p["to_uid"]),
            "toType": int(p["to_type"]),
            "toAccountType": int(p["to_account_type"]),
            "remark": family_remark(req),
        }
        return PlannedCall(
            ENDPOINTS[TransferKind.FAMILY],
            params,
            lambda c: (
                c.sub_account_transfer(
                    asset=asset,
                    amount=amount,
                    from_uid=int(p["from_uid"]),
                    from_type=int(p["from_type"]),
                    from_account_type=int(p["from_account_type"]),
                    to_uid=int(p["to_uid"]),
                    to_type=int(p["to_type"]),
                    to_account_type=int(p["to_account_type"]),
                    remark=family_remark(req),
                ).tran_id
            ),
        )
    raise ValueError(f"unknown transfer kind {req.kind!r}")


def family_remark(req: TransferRequest) -> str:
    """The remark BingX requires on family transfers; it carries our client id for people reading history."""
    return str(req.payload.get("remark") or f"bingxadmin {req.client_id}")


# -- pre-send checks -----------------------------------------------------------------------------


def refusal_reason(req: TransferRequest) -> str | None:
    """Why this request must not be sent now, or None. Runs after the claim, before any call."""
    if not payload_verify(request=req):
        return "The payload no longer matches its approved SHA-256; nothing was sent."
    approvals = Approval.objects.filter(
        request=req, decision=Decision.APPROVE, payload_sha256=req.payload_sha256
    ).exclude(approver_id=req.requested_by_id)
    if approvals.count() < req.required_approvals:
        return (
            f"Only {approvals.count()} of {req.required_approvals} required approvals match the payload; "
            "nothing was sent."
        )
    if req.key_set.status != KeySetStatus.ACTIVE:
        return f"Key set “{req.key_set.label}” is not active; nothing was sent."
    current = policy_version_current()
    if current != req.policy_version:
        return (
            f"The approval policy changed after this request was approved (v{req.policy_version} → "
            f"v{current}); nothing was sent. Submit a new request."
        )
    return None


# -- recording -----------------------------------------------------------------------------------


def _attempt_rows(
    *,
    req: TransferRequest,
    planned: PlannedCall | None,
    calls: list[CallInfo],
    final_outcome: str,
    exchange_id: str = "",
    started_at: datetime,
    finished_at: datetime,
    error: BaseException | None = None,
    kind: str = AttemptKind.SUBMIT,
) -> list[ExecutionAttempt]:
    """One row per HTTP attempt the client reported; earlier ones were timestamp rejections the client
    retried itself. With no report (refused, or failed before signing), one row with what was planned."""
    worker = worker_name()
    rows = []
    if not calls:
        rows.append(
            ExecutionAttempt(
                request=req,
                kind=kind,
                endpoint=planned.endpoint if planned else "",
                method="POST",
                params=planned.params if planned else {},
                bingx_code=_code_text(error),
                bingx_message=_message_text(error),
                http_status=getattr(error, "http_status", None),
                outcome=final_outcome,
                exchange_id=exchange_id,
                worker=worker,
                started_at=started_at,
                finished_at=finished_at,
                duration_ms=_ms_between(started_at, finished_at),
            )
        )
        return rows
    for index, info in enumerate(calls):
        last = index == len(calls) - 1
        rows.append(
            ExecutionAttempt(
                request=req,
                kind=kind,
                endpoint=info.path,
                method=info.method,
                params=dict(info.params),
                http_status=info.http_status,
                bingx_code="" if info.code is None else str(info.code),
                bingx_message=(info.msg or (info.error or ""))[:2000],
                outcome=final_outcome if last else AttemptOutcome.REJECTED,
                exchange_id=exchange_id if last else "",
                worker=worker,
                started_at=started_at,
                finished_at=finished_at if last else started_at,
                duration_ms=info.duration_ms,
            )
        )
    return rows


def _code_text(error: BaseException | None) -> str:
    code = getattr(error, "code", None)
    return "" if code is None else str(code)


def _message_text(error: BaseException | None) -> str:
    if error is None:
        return ""
    return (getattr(error, "message", None) or str(error) or type(error).__name__)[:2000]


def _finish(
    *,
    req: TransferRequest,
    from_statuses: tuple[str, ...],
    to_status: str,
    verb: str,
    attempts: list[ExecutionAttempt],
    changes: dict[str, Any],
    after_commit: Callable[[], None] | None = None,
) -> bool:
    """One transaction: conditional status change, attempt rows, one audit event. False when the
    request had already moved on (the attempt rows are still kept: they are facts)."""
    with transaction.atomic():
        moved = TransferRequest.objects.filter(pk=req.pk, status__in=from_statuses).update(
            status=to_status, updated_at=timezone.now(), **changes
        )
        ExecutionAttempt.objects.bulk_create(attempts)
        if moved:
            before = {"status": req.status}
            req.refresh_from_db()
            after: dict[str, Any] = {"status": req.status}
            for name in ("exchange_id", "failure_code", "failure_message", "attention_reason"):
                if name in changes:
                    after[name] = changes[name]
            audit_record(actor=None, verb=verb, obj=req, before=before, after=after)
            if after_commit is not None:
                transaction.on_commit(after_commit, robust=True)
            if to_status == Status.SUCCEEDED:
                # Money moved: show the new balances without waiting for the periodic sync.
                transaction.on_commit(lambda: enqueue_balances_refresh(req=req), robust=True)
        else:
            logger.warning("request %s: outcome %s not applied, status already changed", req.pk, verb)
        return bool(moved)


def enqueue_balances_refresh(*, req: TransferRequest) -> None:
    """Balance syncs for the paying key set and for any key set here that received the money."""
    from accounts.tasks import balances_sync_task

    p = req.payload
    receiving_uids = {str(p[k]) for k in ("to_uid", "recipient_account") if p.get(k)}
    if req.kind == TransferKind.INNER and str(p.get("recipient_type")) != "1":
        receiving_uids.discard(str(p.get("recipient_account")))  # phone/email: not a UID here
    ids = {req.key_set_id}
    if receiving_uids:
        ids |= set(
            ApiKeySet.objects.filter(
                uid__in=[int(u) for u in receiving_uids if u.isdigit()], status=KeySetStatus.ACTIVE
            ).values_list("pk", flat=True)
        )
    for key_set_id in sorted(ids):
        # Coalesce bursts (many transfers on one key set): one sync per key set per few seconds.
        if cache.add(f"balances-refresh:{key_set_id}", 1, timeout=BALANCES_REFRESH_COALESCE_S):
            balances_sync_task.apply_async((key_set_id,), countdown=BALANCES_REFRESH_COALESCE_S)


def enqueue_execute(*, request_id: int, countdown: float = 0) -> None:
    from transfers.tasks import transfer_execute_task

    transfer_execute_task.apply_async((request_id,), countdown=max(0.0, countdown))


def enqueue_reconcile(*, request_id: int, countdown: float = RECONCILE_DELAY_S) -> None:
    from transfers.tasks import transfer_reconcile_task

    transfer_reconcile_task.apply_async((request_id,), countdown=max(0.0, countdown))


# -- the service ---------------------------------------------------------------------------------


def transfer_execute(*, request_id: int) -> None:
    """Execute one approved request at most once on BingX (see the module docstring)."""
    now = timezone.now()
    claimed = TransferRequest.objects.filter(pk=request_id, status=Status.APPROVED).update(
        status=Status.SUBMITTING, submitted_at=now, updated_at=now
    )
    if not claimed:
        logger.info("request %s: nothing to claim (duplicate delivery, other worker, or done)", request_id)
        return
    req = TransferRequest.objects.select_related("key_set").get(pk=request_id)
    started_at = timezone.now()

    reason = refusal_reason(req)
    planned: PlannedCall | None = None
    if reason is None:
        try:
            planned = plan_call(req)
        except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
            reason = f"The approved payload cannot be turned into a BingX call ({exc}); nothing was sent."
    if reason is not None or planned is None:
        _refuse(req=req, reason=reason or "refused", started_at=started_at)
        return

    try:
        client = client_for(key_set=req.key_set)
    except SecretUnavailable as exc:
        _refuse(
            req=req,
            reason=f"The key set's secret cannot be decrypted: {exc} Nothing was sent.",
            started_at=started_at,
            planned=planned,
        )
        return
    recorder = CallRecorder(downstream=client.on_response)
    client.on_response = recorder

    exchange_id = ""
    error: BaseException | None = None
    try:
        exchange_id = planned.send(client)
    except ratelimit.RateLimitUnavailable as exc:
        # The limiter said no before this HTTP attempt was sent: give the request back, come later.
        if recorder.calls:  # an earlier attempt was a timestamp rejection the client retried
            attempts = _attempt_rows(
                req=req,
                planned=planned,
                calls=recorder.calls,
                final_outcome=AttemptOutcome.REJECTED,
                started_at=started_at,
                finished_at=timezone.now(),
            )
            _retry(req=req, attempts=attempts, countdown=exc.retry_in, verb="transfer.execute.clock_retry")
        else:
            _release(req=req, countdown=exc.retry_in, reason=str(exc))
        return
    except BaseException as exc:  # every outcome is recorded, even a time limit or a bug
        error = exc
    finally:
        client.close()
    finished_at = timezone.now()
    _record(
        req=req,
        planned=planned,
        calls=recorder.calls,
        exchange_id=exchange_id,
        error=error,
        started_at=started_at,
        finished_at=finished_at,
    )
    if error is not None and not isinstance(error, Exception):
        raise error  # SystemExit / KeyboardInterrupt after recording


def _refuse(
    *, req: TransferRequest, reason: str, started_at: datetime, planned: PlannedCall | None = None
) -> None:
    finished = timezone.now()
    attempt = ExecutionAttempt(
        request=req,
        kind=AttemptKind.SUBMIT,
        endpoint=planned.endpoint if planned else ENDPOINTS.get(TransferKind(req.kind), ""),
        params=planned.params if planned else {},
        bingx_message=reason,
        outcome=AttemptOutcome.REFUSED,
        worker=worker_name(),
        started_at=started_at,
        finished_at=finished,
        duration_ms=_ms_between(started_at, finished),
    )
    _finish(
        req=req,
        from_statuses=(Status.SUBMITTING,),
        to_status=Status.FAILED,
        verb="transfer.execute.refused",
        attempts=[attempt],
        changes={"failure_code": "refused", "failure_message": reason, "completed_at": finished},
    )


def _release(*, req: TransferRequest, countdown: float, reason: str) -> None:
    """Back to APPROVED (nothing was sent by this execution) and try again after `countdown` s."""
    with transaction.atomic():
        # UNKNOWN too: the sweeper may have judged a slow execution stuck; only this execution
        # could have sent anything, and it did not.
        released = TransferRequest.objects.filter(
            pk=req.pk, status__in=(Status.SUBMITTING, Status.UNKNOWN)
        ).update(status=Status.APPROVED, submitted_at=None, updated_at=timezone.now())
        if released:
            transaction.on_commit(
                lambda: enqueue_execute(request_id=req.pk, countdown=countdown), robust=True
            )
    logger.info("request %s: not sent (%s); retrying in %.1f s", req.pk, reason, countdown)


def _prior_attempts(req: TransferRequest) -> Any:
    return ExecutionAttempt.objects.filter(request=req, kind=AttemptKind.SUBMIT)


def _record(
    *,
    req: TransferRequest,
    planned: PlannedCall,
    calls: list[CallInfo],
    exchange_id: str,
    error: BaseException | None,
    started_at: datetime,
    finished_at: datetime,
) -> None:
    # Every branch records the same call; only the outcome differs.
    rows = functools.partial(
        _attempt_rows,
        req=req,
        planned=planned,
        calls=calls,
        started_at=started_at,
        finished_at=finished_at,
        error=error,
    )
    final = timezone.now()
    if error is None:
        _finish(
            req=req,
            from_statuses=(Status.SUBMITTING, Status.UNKNOWN),
            to_status=Status.SUCCEEDED,
            verb="transfer.execute.succeeded",
            attempts=rows(final_outcome=AttemptOutcome.SUCCEEDED, exchange_id=exchange_id),
            changes={
                "exchange_id": exchange_id,
                "completed_at": final,
                "needs_attention": False,
                "failure_code": "",
                "failure_message": "",
            },
        )
        return

    if isinstance(error, bingx.NotSent):
        failures = _prior_attempts(req).filter(outcome=AttemptOutcome.NOT_SENT).count() + 1
        attempts = rows(final_outcome=AttemptOutcome.NOT_SENT)
        if failures >= MAX_NOT_SENT:
            message = (
                f"BingX could not be reached {failures} times ({error.message}); nothing was sent. "
                "Submit a new request once the exchange is reachable."
            )
            _finish(
                req=req,
                from_statuses=(Status.SUBMITTING, Status.UNKNOWN),
                to_status=Status.FAILED,
                verb="transfer.execute.failed",
                attempts=attempts,
                changes={"failure_code": "not_sent", "failure_message": message, "completed_at": final},
            )
            return
        _retry(
            req=req, attempts=attempts, countdown=min(60.0, 2.0**failures), verb="transfer.execute.not_sent"
        )
        return

    if isinstance(error, bingx.RateLimited):
        scope = ratelimit.scope_for(uid=req.key_set.uid, key_set_id=req.key_set_id)
        wait_ms = ratelimit.block(
            scope=scope,
            path=planned.endpoint,
            retry_in_ms=error.retry_in_ms,
            retry_after_ms=error.retry_after_ms,
        )
        attempts = rows(final_outcome=AttemptOutcome.REJECTED)
        limited = _prior_attempts(req).filter(bingx_code__in=["100410", "109429"]).count() + 1
        if limited < MAX_RATE_LIMITED:
            _retry(
                req=req,
                attempts=attempts,
                countdown=wait_ms / 1000 + 0.05,
                verb="transfer.execute.rate_limited",
            )
            return

    if isinstance(error, bingx.TimestampError):
        attempts = rows(final_outcome=AttemptOutcome.REJECTED)
        earlier = _prior_attempts(req).filter(bingx_code__in=[str(c) for c in TIMESTAMP_CODES]).exists()
        if not earlier:
            # The client already resynced server time once inside this call; give the clock a moment.
            _retry(
                req=req, attempts=attempts, countdown=TIMESTAMP_RETRY_S, verb="transfer.execute.clock_retry"
            )
            return

    if isinstance(error, bingx.Rejected):
        attempts = rows(final_outcome=AttemptOutcome.REJECTED)
        code = (
            str(error.code)
            if error.code is not None
            else (f"HTTP {error.http_status}" if error.http_status else "")
        )
        _finish(
            req=req,
            from_statuses=(Status.SUBMITTING, Status.UNKNOWN),
            to_status=Status.FAILED,
            verb="transfer.execute.failed",
            attempts=attempts,
            changes={
                "failure_code": code[:32],
                "failure_message": rejection_message(error),
                "completed_at": final,
            },
        )
        return

    # Ambiguous, or anything unexpected once the call may have started (time limit, bug): the
    # transfer may have happened. Never re-send; find out from the exchange's records.
    attempts = rows(final_outcome=AttemptOutcome.AMBIGUOUS)
    if not isinstance(error, Exception):  # worker shutdown or time limit: expected, no traceback
        logger.warning("request %s: execution interrupted (%s); reconciling", req.pk, type(error).__name__)
    elif not isinstance(error, bingx.Ambiguous):
        logger.error("request %s: unexpected error during the BingX call", req.pk, exc_info=error)
    _finish(
        req=req,
        from_statuses=(Status.SUBMITTING,),
        to_status=Status.UNKNOWN,
        verb="transfer.execute.unknown",
        attempts=attempts,
        changes={
            "failure_code": _code_text(error)[:32],
            "failure_message": f"Outcome unknown: {_message_text(error)}. Reconciling with BingX's records.",
        },
        after_commit=lambda: enqueue_reconcile(request_id=req.pk),
    )


def _retry(*, req: TransferRequest, attempts: list[ExecutionAttempt], countdown: float, verb: str) -> None:
    """Nothing moved and the cause passes: back to APPROVED, execute again after `countdown` s."""
    _finish(
        req=req,
        from_statuses=(Status.SUBMITTING, Status.UNKNOWN),
        to_status=Status.APPROVED,
        verb=verb,
        attempts=attempts,
        changes={"submitted_at": None},
        after_commit=lambda: enqueue_execute(request_id=req.pk, countdown=countdown),
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


__all__ = ["plan_call", "refusal_reason", "transfer_execute"]
