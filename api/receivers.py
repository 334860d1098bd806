"""Receivers of the lower layers' signals: transfers tells (transfers.events), webhooks react.

Connected once, in ApiConfig.ready()."""

from __future__ import annotations

from typing import Any

from transfers.events import request_event
from transfers.models import TransferRequest


def request_event_webhooks(
    sender: type[TransferRequest],
    *,
    request: TransferRequest,
    event: str,
    previous: str = "",
    detail: str = "",
    **kwargs: Any,
) -> None:
    from api.services.webhooks import webhook_events_record

    webhook_events_record(request=request, event=event, previous=previous, detail=detail)


def connect() -> None:
    request_event.connect(request_event_webhooks, sender=TransferRequest, dispatch_uid="api.webhooks")
