"""The periodic sweeper: the request table is the outbox, Celery messages are only wake-up calls.

* APPROVED and untouched for `TRANSFER_SWEEP_AFTER_SECONDS` (its message was lost — broker outage
  after approval, a worker killed holding it), and not scheduled for a rate-limit slot due later than
  that (`execute_at`) → enqueue execution again. The claim makes extra
  messages harmless; bumping `updated_at` in the same conditional UPDATE keeps one re-enqueue per
  request per period even when two sweeps overlap.
* SUBMITTING without the sending mark for longer than any live pre-send phase
  (`TRANSFER_UNSENT_CLAIM_SECONDS`): provably nothing sent → APPROVED and executed again.
* SUBMITTING with the sending mark older than any live call (`TRANSFER_STUCK_AFTER_SECONDS`: the worker
  died mid-call) → UNKNOWN with a conditional UPDATE, then reconcile. Never re-sent blindly.
* UNKNOWN with no reconcile lookup for a sweep period → reconcile (its chain of follow-ups was lost).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models import Max, Q
from django.utils import timezone

from transfers import dispatch
from transfers.execution.claims import (
    sent_claim_unknown,
    sent_claims_stuck,
    unsent_claim_release,
    unsent_claims,
)
from transfers.execution.reconcile import RETRY_DELAY_S
from transfers.lifecycle import request_touch
from transfers.models import Status, TransferRequest

logger = logging.getLogger(__name__)

BATCH = 500


@dataclass
class SweepReport:
    executions: int = 0
    released: int = 0
    stuck: int = 0
    reconciles: int = 0

    def __str__(self) -> str:
        return (
            f"re-enqueued {self.executions}, unsent claims released {self.released}, "
            f"stuck→unknown {self.stuck}, reconciles {self.reconciles}"
        )


def transfers_sweep() -> SweepReport:
    """One sweep; safe to run concurrently with another (every change is a conditional UPDATE)."""
    report = SweepReport()
    now = timezone.now()
    sweep_after = timedelta(seconds=settings.TRANSFER_SWEEP_AFTER_SECONDS)

    # Waiting for a rate-limit slot further away than a sweep period is not lost: its message is due
    # at `execute_at` (transfers.dispatch); lost only once that is a sweep period past.
    lost = TransferRequest.objects.filter(status=Status.APPROVED, updated_at__lt=now - sweep_after).filter(
        Q(execute_at__isnull=True) | Q(execute_at__lt=now - sweep_after)
    )
    for pk in list(lost.values_list("pk", flat=True)[:BATCH]):
        # Only the sweep whose UPDATE wins re-enqueues; updated_at restarts this request's clock.
        if request_touch(request_id=pk, status=Status.APPROVED, older_than=now - sweep_after):
            dispatch.transfer_execute_enqueue(request_id=pk)
            report.executions += 1

    # Claims whose worker is gone: never sent → execute again; maybe sent → reconcile (claims.py).
    for req in list(unsent_claims()[:BATCH]):
        if unsent_claim_release(req=req):
            report.released += 1
    for req in list(sent_claims_stuck()[:BATCH]):
        if sent_claim_unknown(req=req):  # its reconcile is enqueued on commit
            report.stuck += 1

    # UNKNOWN whose reconcile chain went quiet: no lookup for longer than any follow-up delay.
    quiet_cutoff = now - max(sweep_after, timedelta(seconds=2 * RETRY_DELAY_S))
    quiet = (
        TransferRequest.objects.filter(status=Status.UNKNOWN, updated_at__lt=quiet_cutoff)
        .annotate(last_attempt=Max("attempts__started_at"))
        .filter(Q(last_attempt__isnull=True) | Q(last_attempt__lt=quiet_cutoff))
    )
    for pk in list(quiet.values_list("pk", flat=True)[:BATCH]):
        dispatch.transfer_reconcile_enqueue(request_id=pk, countdown=0)
        report.reconciles += 1

    if report.executions or report.released or report.stuck or report.reconciles:
        logger.info("transfers sweep: %s", report)
    return report
