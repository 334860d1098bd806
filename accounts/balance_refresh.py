"""Balance refresh on demand, in the background: the page asks, a worker reads BingX, the page polls.

A person's "Refresh" must never hold a web request while the exchange is slow or down (it blocked
30 s when BingX froze). `balance_refresh_start` checks the person may read the key set, marks the
refresh as queued and enqueues `accounts.tasks.balances_refresh_task` after commit; the task marks
it running, calls `balances_sync` (audited as the person's on-demand sync) and marks it done or
failed with the reason. The progress lives in Django's cache (Redis in production), one key per key
set; `balance_refresh_progress` reads it for the page's htmx poll.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from celery import current_app
from django.core.cache import cache
from django.db import transaction

from accounts.models import ApiKeySet, User
from accounts.services.key_sets import key_set_readable

TASK = "accounts.tasks.balances_refresh_task"
_TTL_S = 3600
QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"


@dataclass(frozen=True)
class RefreshProgress:
    state: str
    requested_at: float
    by: str = ""
    message: str = ""
    finished_at: float | None = None

    @property
    def active(self) -> bool:
        return self.state in (QUEUED, RUNNING)

    @property
    def seconds(self) -> int:
        """Since it was asked for (while active) or how long it took (once finished)."""
        end = self.finished_at if self.finished_at is not None else time.time()
        return max(0, int(end - self.requested_at))


def _key(key_set: ApiKeySet) -> str:
    return f"bx:balance-refresh:{key_set.uuid}"


def _write(key_set: ApiKeySet, **values: Any) -> None:
    cache.set(_key(key_set), values, _TTL_S)


def balance_refresh_progress(*, key_set: ApiKeySet) -> RefreshProgress | None:
    value = cache.get(_key(key_set))
    return RefreshProgress(**value) if isinstance(value, dict) else None


def _enqueue(*, key_set_id: int, actor_id: int | None, ip: str | None) -> None:
    current_app.send_task(TASK, args=(key_set_id, actor_id, ip))


def balance_refresh_start(*, key_set_id: int, actor: User, ip: str | None = None) -> RefreshProgress:
    """Ask for a refresh (returns at once). A refresh already queued or running is not asked twice."""
    key_set = key_set_readable(actor=actor, key_set_id=key_set_id)
    current = balance_refresh_progress(key_set=key_set)
    if current is not None and current.active and current.seconds < 120:
        return current
    progress = RefreshProgress(state=QUEUED, requested_at=time.time(), by=actor.get_username())
    _write(key_set, **progress.__dict__)
    transaction.on_commit(lambda: _enqueue(key_set_id=key_set.pk, actor_id=actor.pk, ip=ip), robust=True)
    return progress


def balance_refresh_run(*, key_set_id: int, actor_id: int | None, ip: str | None = None) -> RefreshProgress:
    """The worker's side: read BingX (normal timeouts and read retries: nobody waits on it)."""
    from accounts.services.balances import balances_sync
    from accounts.services.key_sets import KeySetRefused
    from exchange.problems import ExchangeProblem

    key_set = ApiKeySet.objects.get(pk=key_set_id)
    before = balance_refresh_progress(key_set=key_set)
    requested_at = before.requested_at if before else time.time()
    by = before.by if before else ""
    _write(key_set, state=RUNNING, requested_at=requested_at, by=by)
    actor = User.objects.filter(pk=actor_id).first() if actor_id else None
    try:
        result = balances_sync(key_set_id=key_set_id, actor=actor, ip=ip)
    except (ExchangeProblem, KeySetRefused) as exc:
        progress = RefreshProgress(FAILED, requested_at, by, str(exc), time.time())
    except Exception:
        stopped = "The refresh stopped unexpectedly (the exchange may be too slow); try again."
        _write(key_set, **RefreshProgress(FAILED, requested_at, by, stopped, time.time()).__dict__)
        raise
    else:
        notes = " ".join(f"Funding wallet not read: {n}" for n in result.notes)
        message = f"{result.balances} asset balances read. {notes}".strip()
        progress = RefreshProgress(DONE, requested_at, by, message, time.time())
    _write(key_set, **progress.__dict__)
    return progress


__all__ = [
    "RefreshProgress",
    "balance_refresh_progress",
    "balance_refresh_run",
    "balance_refresh_start",
]
