"""Signals transfers sends about a request's life, so higher layers (the webhooks of the `api` app)
can react without transfers importing them (shared/DESIGN.md §2).

`request_event` is sent synchronously inside the transaction of the change (a receiver's writes
commit or roll back with it; work that leaves the process goes on commit), with
`sender=TransferRequest` and the keyword arguments `request` (the TransferRequest, carrying its new
values), `event` ("created", "finding" for a reconciliation finding, or the new status), `previous`
(the status before a status change, else "") and `detail` (words for people, or "").
"""

from __future__ import annotations

from django.dispatch import Signal

from transfers.models import TransferRequest

request_event = Signal()

CREATED = "created"
FINDING = "finding"


def request_event_send(*, request: TransferRequest, event: str, previous: str = "", detail: str = "") -> None:
    request_event.send(sender=TransferRequest, request=request, event=event, previous=previous, detail=detail)


__all__ = ["CREATED", "FINDING", "request_event", "request_event_send"]
