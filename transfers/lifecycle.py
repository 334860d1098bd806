"""The life of a transfer request (shared/DESIGN.md §3) as data, and the one way to change it.

```
PENDING ──approve (quorum)──▶ APPROVED ──claim──▶ SUBMITTING ──ok──▶ SUCCEEDED
   │ reject ▶ REJECTED            ▲                   │ rejected ▶ FAILED
   │ cancel ▶ CANCELLED           └──release/retry────┤ ambiguous ▶ UNKNOWN ──reconcile──▶ SUCCEEDED | FAILED
   │ expiry ▶ EXPIRED                (nothing sent)   │                 └── release (nothing sent) ▶ APPROVED
   │ policy/key change, tampering ▶ STALE
```

Every status change of a request goes through `transition()`: one transaction holding a conditional
UPDATE (the row changes only if it is still in an expected status, so two workers or two people
never both win), the execution attempts that led to it (kept even when the request had already moved
on: they are facts), and one audit event. A change the table does not allow is a programming error
and raises `IllegalTransition` before anything is written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.audit import audit_record
from accounts.models import User
from transfers.events import request_event_send
from transfers.models import ExecutionAttempt, Status, TransferRequest

# Which statuses each status may move to. Final statuses move nowhere.
TRANSITIONS: dict[str, frozenset[str]] = {
    Status.PENDING: frozenset(
        {Status.APPROVED, Status.REJECTED, Status.CANCELLED, Status.EXPIRED, Status.STALE}
    ),
    Status.APPROVED: frozenset({Status.SUBMITTING}),
    # Back to APPROVED only when this execution provably sent nothing (released or retried later).
    Status.SUBMITTING: frozenset({Status.SUCCEEDED, Status.FAILED, Status.UNKNOWN, Status.APPROVED}),
    Status.UNKNOWN: frozenset({Status.SUCCEEDED, Status.FAILED, Status.APPROVED}),
    Status.REJECTED: frozenset(),
    Status.CANCELLED: frozenset(),
    Status.EXPIRED: frozenset(),
    Status.STALE: frozenset(),
    Status.SUCCEEDED: frozenset(),
    Status.FAILED: frozenset(),
}

# Fields copied from `changes` into the audit event's `after` when no explicit `after` is given.
_AUDITED_CHANGES = ("exchange_id", "failure_code", "failure_message", "attention_reason")


class IllegalTransition(Exception):
    """A transition the table does not allow; nothing was written."""


def transition_allowed(*, from_status: str, to_status: str) -> bool:
    return to_status in TRANSITIONS.get(from_status, frozenset())


def transition(
    *,
    request: TransferRequest,
    from_statuses: Iterable[str],
    to_status: str,
    verb: str | None,
    actor: User | None = None,
    changes: Mapping[str, Any] | None = None,
    guard: Q | None = None,
    attempts: Sequence[ExecutionAttempt] = (),
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    ip: str | None = None,
    on_commit: Callable[[], object] | None = None,
) -> bool:
    """Move `request` to `to_status` if it is still in one of `from_statuses` (and matches `guard`).

    One transaction: the conditional UPDATE with `changes`, the `attempts` rows, one audit event
    (`verb`; None for the claim and release of an execution, which are bookkeeping, not decisions),
    and `on_commit` scheduled after commit. On success the in-memory `request` carries the new values.
    Returns False when the request had already moved on (the attempts are still written).
    """
    sources = tuple(from_statuses)
    for source in sources:
        if not transition_allowed(from_status=source, to_status=to_status):
            raise IllegalTransition(f"transfer request {request.pk}: {source} → {to_status} is not allowed")
    values = dict(changes or {})
    now = timezone.now()
    with transaction.atomic():
        rows = TransferRequest.objects.filter(pk=request.pk, status__in=sources)
        if guard is not None:
            rows = rows.filter(guard)
        moved = rows.update(status=to_status, updated_at=now, **values)
        if attempts:
            ExecutionAttempt.objects.bulk_create(attempts)
        if not moved:
            return False
        previous = request.status
        request.status = to_status
        request.updated_at = now
        for name, value in values.items():
            setattr(request, name, value)
        if verb is not None:
            audit_after = (
                after
                if after is not None
                else {"status": to_status, **{k: values[k] for k in _AUDITED_CHANGES if k in values}}
            )
            audit_record(
                actor=actor,
                verb=verb,
                obj=request,
                before=before if before is not None else {"status": previous},
                after=audit_after,
                ip=ip,
            )
        request_event_send(request=request, event=to_status, previous=previous)  # webhooks, same transaction
        if on_commit is not None:
            # robust: a broker outage must not undo a committed change; the sweeper catches up.
            transaction.on_commit(on_commit, robust=True)
        return True


def request_touch(*, request_id: int, status: str, older_than: Any) -> bool:
    """Restart a request's clock without changing its status (the sweeper's one-wake-up-per-period
    guard); True when this caller's UPDATE won."""
    return bool(
        TransferRequest.objects.filter(pk=request_id, status=status, updated_at__lt=older_than).update(
            updated_at=timezone.now()
        )
    )


__all__ = ["TRANSITIONS", "IllegalTransition", "request_touch", "transition", "transition_allowed"]
