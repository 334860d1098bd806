"""What the API and the webhooks say about a request or a batch: one dict each, JSON-ready."""

from __future__ import annotations

from typing import Any

from django.db.models import Count

from transfers.batch_selectors import PROGRESS_GROUPS
from transfers.models import TransferBatch, TransferRequest

# The payload's keys every kind has; the rest are the kind's own fields.
_PAYLOAD_COMMON = {"version", "key_set", "kind", "asset", "amount", "client_id", "policy_version"}


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def request_data(req: TransferRequest) -> dict[str, Any]:
    return {
        "id": req.pk,
        "uuid": str(req.uuid),
        "status": req.status,
        "kind": req.kind,
        "key_set_id": req.key_set_id,
        "asset": req.asset,
        "amount": f"{req.amount.normalize():f}",
        "client_id": req.client_id,
        "fields": {k: v for k, v in (req.payload or {}).items() if k not in _PAYLOAD_COMMON},
        "note": req.note,
        "payload_sha256": req.payload_sha256,
        "required_approvals": req.required_approvals,
        "requested_by": req.requested_by.get_username(),
        "batch_id": req.batch_id,
        "created_at": _iso(req.created_at),
        "updated_at": _iso(req.updated_at),
        "expires_at": _iso(req.expires_at),
        "exchange_id": req.exchange_id,
        "failure_code": req.failure_code,
        "failure_message": req.failure_message,
        "needs_attention": req.needs_attention,
    }


def batch_counts(batch_id: int) -> dict[str, int]:
    by_status = dict(
        TransferRequest.objects.filter(batch_id=batch_id)
        .values_list("status")
        .annotate(n=Count("pk"))
        .values_list("status", "n")
    )
    return {group: sum(by_status.get(s, 0) for s in statuses) for group, statuses in PROGRESS_GROUPS.items()}


def batch_data(batch: TransferBatch) -> dict[str, Any]:
    return {
        "id": batch.pk,
        "uuid": str(batch.uuid),
        "status": batch.status,
        "note": batch.note,
        "required_approvals": batch.required_approvals,
        "requested_by": batch.requested_by.get_username(),
        "created_at": _iso(batch.created_at),
        "expires_at": _iso(batch.expires_at),
        "legs": list(batch.legs.order_by("leg_index").values_list("pk", flat=True)),
        "progress": batch_counts(batch.pk),
    }
