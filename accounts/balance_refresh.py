"""Balance refresh on demand, in the background: the page asks, a worker reads BingX, the page polls.

A person's "Refresh" must never hold a web request while the exchange is slow or down (it blocked
30 s when BingX froze). `balance_refresh_start` checks the person may read the key set, marks the
refresh as queued and enqueues `accounts.tasks.balances_refresh_task` after commit; the task marks
it running, calls `balances_sync` (audited as the person's on-demand sync) and marks it done or
failed with the reason. The progress is one `BalanceRefresh` row per key set (web and worker are
different processes); `balance_refresh_progress` reads it for the page's htmx poll.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from celery import current_app
from django.db import transaction
from django.utils import timezone

from accounts.models import ApiKeySet, BalanceRefresh, User
from accounts.services.key_sets import key_set_readable

TASK = "accounts.tasks.balances_refresh_task"
QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
STILL_ACTIVE_S = 120  # a refresh queued or running for longer is asked again (its message was lost)


@dataclass(frozen=True)
class RefreshProgress:
    state: str
    requested_at: datetime
    by: str = ""
    message: str = ""
    finished_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.state in (QUEUED, RUNNING)

    @property
    def seconds(self) -> int:
        """Since it was asked for (while active) or how long it took (once finished)."""
        end = self.finished_at or timezone.now()
        return max(0, int((end - self.requested_at).total_seconds()))


def _progress(row: BalanceRefresh) -> RefreshProgress:
    return RefreshProgress(row.state, row.requested_at, row.requested_by, row.message, row.finished_at)


def balance_refresh_progress(*, key_set: ApiKeySet) -> RefreshProgress | None:
    row = BalanceRefresh.objects.filter(key_set_id=key_set.pk).first()
    return None if row is None else _progress(row)


def _enqueue(*, key_set_id: int, actor_id: int | None, ip: str | None) -> None:
    current_app.send_task(TASK, args=(key_set_id, actor_id, ip))


def _save(*, key_set_id: int, **values: object) -> None:
    BalanceRefresh.objects.update_or_create(key_set_id=key_set_id, defaults=values)


@transaction.atomic
def balance_refresh_start(*, key_set_id: int, actor: User, ip: str | None = None) -> RefreshProgress:
    """Ask for a refresh (returns at once). A refresh already queued or running is not asked twice."""
    key_set = key_set_readable(actor=actor, key_set_id=key_set_id)
    row = BalanceRefresh.objects.select_for_update().filter(key_set_id=key_set.pk).first()
    if row is not None and _progress(row).active and _progress(row).seconds < STILL_ACTIVE_S:
        return _progress(row)
    now = timezone.now()
    _save(
        key_set_id=key_set.pk,
        state=QUEUED,
        requested_at=now,
        requested_by=actor.get_username(),
        finished_at=None,
        message="",
    )
    transaction.on_commit(lambda: _enqueue(key_set_id=key_set.pk, actor_id=actor.pk, ip=ip), robust=True)
    return RefreshProgress(QUEUED, now, actor.get_username())


def balance_refresh_run(*, key_set_id: int, actor_id: int | None, ip: str | None = None) -> RefreshProgress:
    """The worker's side: read BingX (normal timeouts and read retries: nobody waits on it)."""
    from accounts.services.balances import balances_sync
    from accounts.services.key_sets import KeySetRefused
    from exchange.problems import ExchangeProblem

    row = BalanceRefresh.objects.filter(key_set_id=key_set_id).first()
    requested_at = row.requested_at if row else timezone.now()
    by = row.requested_by if row else ""
    _save(key_set_id=key_set_id, state=RUNNING, requested_at=requested_at, requested_by=by)
    actor = User.objects.filter(pk=actor_id).first() if actor_id else None
    try:
        result = balances_sync(key_set_id=key_set_id, actor=actor, ip=ip)
    except (ExchangeProblem, KeySetRefused) as exc:
        state, message = FAILED, str(exc)
    except Exception:
        stopped = "The refresh stopped unexpectedly (the exchange may be too slow); try again."
        _save(key_set_id=key_set_id, state=FAILED, message=stopped, finished_at=timezone.now())
        raise
    else:
        notes = " ".join(f"Funding wallet not read: {n}" for n in result.notes)
        state, message = DONE, f"{result.balances} asset balances read. {notes}".strip()
    finished = timezone.now()
    _save(key_set_id=key_set_id, state=state, message=message[:500], finished_at=finished)
    return RefreshProgress(state, requested_at, by, message[:500], finished)


__all__ = [
    "RefreshProgress",
    "balance_refresh_progress",
    "balance_refresh_run",
    "balance_refresh_start",
]
