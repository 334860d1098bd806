"""When emails leave: receivers that schedule transfers.notifications after the change commits.

- A request's status change (transfers.events.request_event, sent by lifecycle.transition inside its
  transaction): the outcome emails (succeeded, failed, unknown, expired, stale) and "needs
  attention".
- An audit event whose verb puts a proposal in front of a second administrator (key set, people
  change, policy change, address-book entry, sweep/top-up rule): the other administrators.

Nothing is sent inside the locking transaction: `transaction.on_commit(..., robust=True)`, so a slow
or failing mail server never undoes or blocks the change. Connected once, in TransfersConfig.ready().
"""

from __future__ import annotations

from functools import partial
from typing import Any

from django.db import transaction
from django.db.models.signals import post_save

from accounts.models import AuditEvent
from transfers.events import request_event
from transfers.models import Status, TransferRequest

# The statuses whose emails this receiver sends (approved and rejected: the decision service).
NOTIFIED_STATUSES = frozenset({Status.SUCCEEDED, Status.FAILED, Status.UNKNOWN, Status.EXPIRED, Status.STALE})


def request_status_notify_on_commit(
    sender: type[TransferRequest], *, request: TransferRequest, event: str, **kwargs: Any
) -> None:
    if event not in NOTIFIED_STATUSES:
        return
    from transfers import notifications  # the emails pull in templates and policy; only when needed

    transaction.on_commit(
        partial(
            notifications.notify_request_status,
            request_id=request.pk,
            status=event,
            batch_id=request.batch_id,
        ),
        robust=True,
    )


def second_admin_notify_on_commit(
    sender: type[AuditEvent], *, instance: AuditEvent, created: bool, **kwargs: Any
) -> None:
    from transfers import notifications

    if not created or instance.verb not in notifications.SECOND_ADMIN_VERBS:
        return
    transaction.on_commit(
        partial(
            notifications.notify_second_admin,
            verb=instance.verb,
            object_id=instance.object_id,
            object_repr=instance.object_repr,
            actor_id=instance.actor_id,
        ),
        robust=True,
    )


def connect() -> None:
    request_event.connect(
        request_status_notify_on_commit,
        sender=TransferRequest,
        dispatch_uid="transfers.request_status_notify_on_commit",
    )
    post_save.connect(
        second_admin_notify_on_commit,
        sender=AuditEvent,
        dispatch_uid="transfers.second_admin_notify_on_commit",
    )
