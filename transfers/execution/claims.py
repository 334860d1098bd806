"""Claims that outlived their worker: which ones provably sent nothing, and what happens to them.

An execution takes its rate-limit token (at its booked slot, or in the client's hook when it had
none), claims the request (APPROVED → SUBMITTING, `submitted_at` = the claim's time), checks it,
and only then — right before the money-moving call leaves — stamps
`sending_at` with a conditional UPDATE that names its own claim (`claim_mark_sending`). So:

* SUBMITTING without `sending_at`: nothing was sent by that claim. If it is older than any live
  pre-send phase (`TRANSFER_UNSENT_CLAIM_SECONDS`; the token wait alone is up to 10 s), its worker
  died or lost the database: the claim goes back to APPROVED and the transfer executes again (same
  client id). Releasing a claim whose worker is in fact still alive is harmless: its mark then
  matches no row and it sends nothing (`ClaimLost`).
* SUBMITTING with `sending_at` older than any live call (`TRANSFER_STUCK_AFTER_SECONDS`): the call may
  have reached BingX. → UNKNOWN and reconciliation from the exchange's records; never re-sent blindly.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError
from django.db.models import Q, QuerySet
from django.utils import timezone

from transfers import dispatch
from transfers.lifecycle import transition
from transfers.models import Status, TransferRequest

logger = logging.getLogger(__name__)


class ClaimLost(Exception):
    """The claim this execution holds was released (judged dead) before it sent anything."""


class SendingMarkFailed(Exception):
    """The database could not record the sending mark, so nothing was sent. `__cause__` is the
    database error."""


def claim_mark_sending(*, request_id: int, claimed_at: datetime) -> None:
    """Record that the call of the claim made at `claimed_at` is about to leave. Raises `ClaimLost`
    when that claim no longer exists and `SendingMarkFailed` when the database cannot say; in both
    cases the caller must not send."""
    try:
        marked = TransferRequest.objects.filter(
            pk=request_id, status=Status.SUBMITTING, submitted_at=claimed_at
        ).update(sending_at=timezone.now())
    except DatabaseError as exc:
        raise SendingMarkFailed(f"request {request_id}: the sending mark could not be written") from exc
    if not marked:
        raise ClaimLost(f"request {request_id}: the claim of {claimed_at.isoformat()} was released")


def unsent_cutoff() -> datetime:
    return timezone.now() - timedelta(seconds=settings.TRANSFER_UNSENT_CLAIM_SECONDS)


def sent_cutoff() -> datetime:
    return timezone.now() - timedelta(seconds=settings.TRANSFER_STUCK_AFTER_SECONDS)


def unsent_claims() -> QuerySet[TransferRequest]:
    return TransferRequest.objects.filter(
        status=Status.SUBMITTING, sending_at__isnull=True, submitted_at__lt=unsent_cutoff()
    )


def sent_claims_stuck() -> QuerySet[TransferRequest]:
    return TransferRequest.objects.filter(status=Status.SUBMITTING, sending_at__lt=sent_cutoff())


def unsent_claim_release(*, req: TransferRequest) -> bool:
    """SUBMITTING, never sent, claim older than any live pre-send phase → APPROVED, execute again.
    True when this caller's conditional UPDATE won."""
    claimed_at = req.submitted_at
    moved = transition(
        request=req,
        from_statuses=(Status.SUBMITTING,),
        to_status=Status.APPROVED,
        guard=Q(sending_at__isnull=True, submitted_at=claimed_at, submitted_at__lt=unsent_cutoff()),
        verb="transfer.execute.unsent_released",
        changes={"submitted_at": None, "sending_at": None},
        before={"status": Status.SUBMITTING, "claimed_at": claimed_at, "sending_at": None},
        after={
            "status": Status.APPROVED,
            "reason": "The worker holding the claim stopped before sending anything; executing again.",
        },
        on_commit=lambda: dispatch.transfer_execute_enqueue(request_id=req.pk),
    )
    if moved:
        logger.warning("request %s: claim of %s sent nothing; executing again", req.pk, claimed_at)
    return moved


def sent_claim_unknown(*, req: TransferRequest) -> bool:
    """SUBMITTING, call started longer ago than any live call takes → UNKNOWN, reconcile now."""
    moved = transition(
        request=req,
        from_statuses=(Status.SUBMITTING,),
        to_status=Status.UNKNOWN,
        guard=Q(sending_at=req.sending_at, sending_at__lt=sent_cutoff()),
        verb="transfer.sweep.stuck",
        changes={"failure_message": "The worker stopped mid-call; reconciling with BingX's records."},
        before={"status": Status.SUBMITTING},
        after={"status": Status.UNKNOWN, "submitted_at": req.submitted_at, "sending_at": req.sending_at},
        on_commit=lambda: dispatch.transfer_reconcile_enqueue(request_id=req.pk, countdown=0),
    )
    return moved


def stale_claim_settle(*, request_id: int) -> str | None:
    """A worker found `request_id` claimed by someone else: if that claim is dead, settle it now
    (release an unsent one, reconcile a sent one) instead of waiting for the sweeper."""
    req = TransferRequest.objects.filter(pk=request_id, status=Status.SUBMITTING).first()
    if req is None or req.submitted_at is None:
        return None
    if req.sending_at is None and req.submitted_at < unsent_cutoff():
        return "released" if unsent_claim_release(req=req) else None
    if req.sending_at is not None and req.sending_at < sent_cutoff():
        return "unknown" if sent_claim_unknown(req=req) else None
    return None


__all__ = [
    "ClaimLost",
    "SendingMarkFailed",
    "claim_mark_sending",
    "sent_claim_unknown",
    "sent_claims_stuck",
    "stale_claim_settle",
    "unsent_claim_release",
    "unsent_claims",
]
