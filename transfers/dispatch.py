"""The one place work is handed to Celery workers.

Services call these; nothing else enqueues. Tasks are looked up by name in the Celery app's registry
rather than imported, because the task modules import the services (tasks are thin interfaces over
them): importing them back from here would make a cycle. Callers schedule these with
`transaction.on_commit(..., robust=True)`, so a message never leaves before the row it points to is
committed, and a broker outage never undoes a committed change (the request table is the outbox and
the sweeper re-enqueues what was lost).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from celery import current_app

if TYPE_CHECKING:
    from transfers.models import TransferRequest

EXECUTE = "transfers.tasks.transfer_execute_task"
RECONCILE = "transfers.tasks.transfer_reconcile_task"
RECORDS_SYNC = "transfers.tasks.records_sync_task"
BALANCES_SYNC = "accounts.tasks.balances_sync_task"
SWEEP = "transfers.tasks.transfers_sweep_task"

RECONCILE_DELAY_S = 2.0  # the exchange's records lag its answers by a moment
SLOT_RUN_NOW_S = 0.25  # a rate-limit slot this close is waited for by the task (at most 0.4 s)


def _task(name: str) -> Any:
    app = current_app
    if name not in app.tasks:
        # The web process never starts a worker, so Celery's autodiscovery has not run yet: run it
        # (it imports every installed app's tasks module, which registers the tasks by name).
        app.loader.import_default_modules()
    return app.tasks[name]


def transfer_execute_enqueue(
    *, request_id: int, countdown: float = 0, reservation: str | None = None
) -> None:
    """Execute an approved request (now, or after `countdown` s: a rate-limit slot, a retry).

    `reservation`: the rate-limit slot booked for it (exchange.ratelimit.reserve). An immediate
    enqueue without one books the slot here, so the message is scheduled for it straight away and no
    worker runs the task early just to book it; messages without it (older releases, a store that
    could not book) book their own when they run."""
    if reservation is None and countdown <= 0:
        countdown, reservation = _book_slot(request_id)
    args: tuple[Any, ...] = (request_id,) if reservation is None else (request_id, reservation)
    if countdown > 0:
        _execute_at_note(request_id=request_id, countdown=countdown)
        _task(EXECUTE).apply_async(args, countdown=countdown)
    else:
        _task(EXECUTE).apply_async(args)


def _execute_at_note(*, request_id: int, countdown: float) -> None:
    """Note when the scheduled message is due, so the sweeper does not take a request waiting for a
    distant rate-limit slot (a long batch on one UID) for one whose message was lost and enqueue it
    again (a second booking: a slot held for nothing, and a run out of turn)."""
    from datetime import timedelta

    from django.utils import timezone

    from transfers.models import Status, TransferRequest

    TransferRequest.objects.filter(pk=request_id, status=Status.APPROVED).update(
        execute_at=timezone.now() + timedelta(seconds=countdown)
    )


def _book_slot(request_id: int) -> tuple[float, str | None]:
    """(countdown, reservation) for an approved request's call; (0, None) when nothing was booked."""
    from transfers.models import Status, TransferRequest

    row = (
        TransferRequest.objects.filter(pk=request_id, status=Status.APPROVED)
        .values_list("kind", "key_set_id", "key_set__uid")
        .first()
    )
    if row is None:
        return 0.0, None
    kind, key_set_id, uid = row
    return _book(kind=kind, key_set_id=key_set_id, uid=uid)


def _book(*, kind: str, key_set_id: int, uid: int | None) -> tuple[float, str | None]:
    from bingx import endpoints
    from exchange import ratelimit  # here: the Celery app module imports this one early
    from transfers.models import TransferKind

    # The money-moving endpoint of each kind (as transfers.execution.plan.SEND_ENDPOINTS).
    SEND_PATHS: dict[str, str] = {
        TransferKind.WALLET: endpoints.ASSET_TRANSFER.path,
        TransferKind.INNER: endpoints.INNER_TRANSFER_APPLY.path,
        TransferKind.SUB_INNER: endpoints.SUB_INNER_TRANSFER_APPLY.path,
        TransferKind.FAMILY: endpoints.SUB_TRANSFER_ASSET.path,
    }
    try:
        slot = ratelimit.reserve(
            scope=ratelimit.scope_for(uid=uid, key_set_id=key_set_id),
            path=SEND_PATHS[kind],
            hold_ms=ratelimit.client_hold_ms(),
        )
    except ratelimit.RateLimitUnavailable:
        return 0.0, None  # the run books (or fails closed) itself
    return (slot.delay_s if slot.delay_s > SLOT_RUN_NOW_S else 0.0), slot.token


def transfer_execute_enqueue_many(*, requests: Sequence[TransferRequest]) -> None:
    """Enqueue requests the caller has just committed APPROVED (a batch's legs), in the order given,
    each scheduled for the rate-limit slot booked for it here: what `transfer_execute_enqueue` does
    for each, without reading each row back, with one UPDATE noting when the scheduled ones are due
    (before any message leaves, as for one request) and one publishing connection for all."""
    from datetime import timedelta

    from django.utils import timezone

    from transfers.models import Status, TransferRequest

    booked = [
        (req.pk, *_book(kind=req.kind, key_set_id=req.key_set_id, uid=req.key_set.uid)) for req in requests
    ]
    now = timezone.now()
    later = {pk: now + timedelta(seconds=countdown) for pk, countdown, _ in booked if countdown > 0}
    if later:
        rows = list(TransferRequest.objects.filter(pk__in=later, status=Status.APPROVED).only("pk"))
        for row in rows:
            row.execute_at = later[row.pk]
        TransferRequest.objects.bulk_update(rows, ["execute_at"], batch_size=500)
    task = _task(EXECUTE)
    with current_app.producer_or_acquire() as producer:
        for pk, countdown, reservation in booked:
            args: tuple[Any, ...] = (pk,) if reservation is None else (pk, reservation)
            task.apply_async(args, countdown=countdown if countdown > 0 else None, producer=producer)


def transfers_sweep_enqueue() -> None:
    """One sweep now (a worker just started; beat also runs it every few seconds)."""
    _task(SWEEP).delay()


def transfer_reconcile_enqueue(*, request_id: int, countdown: float = RECONCILE_DELAY_S) -> None:
    """Look an UNKNOWN request up in the exchange's records after `countdown` s."""
    _task(RECONCILE).apply_async((request_id,), countdown=max(0.0, countdown))


def records_sync_enqueue(*, key_set_id: int, sources: list[str] | None = None, countdown: float = 0) -> None:
    """Sync the key set's records (every source, or only `sources`: a rate-limited remainder)."""
    args: tuple[Any, ...] = (key_set_id,) if sources is None else (key_set_id, sources)
    _task(RECORDS_SYNC).apply_async(args, countdown=max(0.0, countdown))


def balances_sync_enqueue(*, key_set_id: int, countdown: float = 0) -> None:
    _task(BALANCES_SYNC).apply_async((key_set_id,), countdown=max(0.0, countdown))


__all__ = [
    "RECONCILE_DELAY_S",
    "balances_sync_enqueue",
    "records_sync_enqueue",
    "transfer_execute_enqueue",
    "transfer_execute_enqueue_many",
    "transfer_reconcile_enqueue",
]
