"""How long a reconciliation waits before looking again when BingX's records could not be read.

Failed lookups in a row double the wait (2, 4, 8, 16, then every 30 s:
settings.RECONCILE_BACKOFF_MAX_SECONDS), so an exchange that is down gets a handful of lookups per
request, not one every 2 to 5 s. The same
wait gates every reconcile message of the request (a duplicate, or the sweeper's restart), so the
follow-ups never multiply. One query: the request's latest reconcile attempts.
"""

from __future__ import annotations

from django.conf import settings

from transfers.models import AttemptKind, AttemptOutcome, ExecutionAttempt, TransferRequest

LOOKUP_FAILED = (AttemptOutcome.NOT_SENT, AttemptOutcome.AMBIGUOUS, AttemptOutcome.REJECTED)
FIRST_S = 2.0
_LOOKBACK = 8  # enough attempts to reach the ceiling (2 * 2**4 > 30)


def lookups_failed_in_a_row(*, req: TransferRequest) -> int:
    outcomes = (
        ExecutionAttempt.objects.filter(request=req, kind=AttemptKind.RECONCILE)
        .order_by("-started_at", "-pk")
        .values_list("outcome", flat=True)[:_LOOKBACK]
    )
    failed = 0
    for outcome in outcomes:
        if outcome not in LOOKUP_FAILED:
            break
        failed += 1
    return failed


def backoff_seconds(*, failures: int) -> float:
    """The wait after `failures` failed lookups in a row (0: none)."""
    if failures <= 0:
        return 0.0
    return min(float(settings.RECONCILE_BACKOFF_MAX_SECONDS), FIRST_S * 2 ** (failures - 1))


def lookup_retry_delay(*, req: TransferRequest, retry_in: float | None = None) -> float:
    """The delay before the next lookup, the one now failing included (call before saving its row)."""
    wait = backoff_seconds(failures=lookups_failed_in_a_row(req=req) + 1)
    return max(wait, float(retry_in or 0))


def lookup_gate_seconds(*, req: TransferRequest, gate: float) -> float:
    """How recent a lookup makes this one stand down: `gate`, or most of the backoff after failures."""
    return max(gate, 0.9 * backoff_seconds(failures=lookups_failed_in_a_row(req=req)))
