"""People review records the exchange reports that no request here accounts for ("outside this
desk"): acknowledge one as known (with a note), or link it to the request it belongs to. One
transaction and one audit event each; administrators and holders of the approve grant on the
record's key set may review."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from accounts.access import Capability, user_can, user_is_admin
from accounts.audit import audit_record
from accounts.models import User
from transfers.models import TransferRecord, TransferRequest
from transfers.records.match import SETTLED_STATUSES


class ReviewRefused(Exception):
    """A review of an outside record was refused; nothing changed. The message is safe to show."""


def _record_for_review(*, actor: User, record_id: int) -> TransferRecord:
    record = TransferRecord.objects.select_for_update().select_related("key_set").filter(pk=record_id).first()
    if record is None or not user_can(user=actor, key_set=record.key_set, capability=Capability.VIEW):
        raise ReviewRefused("No such record.")
    if not (
        user_is_admin(user=actor)
        or user_can(user=actor, key_set=record.key_set, capability=Capability.APPROVE)
    ):
        raise ReviewRefused("Only administrators and approvers of this key set review its outside records.")
    if record.matched_request_id is not None:
        raise ReviewRefused(f"This record already belongs to request #{record.matched_request_id}.")
    if record.acknowledged_at is not None:
        raise ReviewRefused("This record was already acknowledged.")
    return record


def _state(record: TransferRecord) -> dict[str, object]:
    return {
        "exchange_id": record.exchange_id,
        "matched_request": record.matched_request_id,
        "acknowledged": record.acknowledged_at is not None,
        "note": record.acknowledge_note,
    }


@transaction.atomic
def record_acknowledge(*, actor: User, record_id: int, note: str, ip: str | None = None) -> TransferRecord:
    """Mark an outside record as known (a deposit from elsewhere, a manual transfer): it leaves the
    "outside this desk" list; the note says why."""
    note = (note or "").strip()
    if not note:
        raise ReviewRefused(
            "Say what this transfer is (the note is kept with the record and in the audit log)."
        )
    record = _record_for_review(actor=actor, record_id=record_id)
    before = _state(record)
    record.acknowledged_at = timezone.now()
    record.acknowledged_by = actor
    record.acknowledge_note = note[:300]
    record.save(update_fields=["acknowledged_at", "acknowledged_by", "acknowledge_note"])
    audit_record(
        actor=actor, verb="record.acknowledge", obj=record, before=before, after=_state(record), ip=ip
    )
    return record


@transaction.atomic
def record_link(*, actor: User, record_id: int, request_id: int, ip: str | None = None) -> TransferRecord:
    """Say which request an outside record belongs to (the automatic match missed it): same key set,
    asset and amount, and a request that was sent (succeeded or outcome unknown)."""
    record = _record_for_review(actor=actor, record_id=record_id)
    req = TransferRequest.objects.filter(pk=request_id, key_set=record.key_set).first()
    if req is None:
        raise ReviewRefused(f"Request #{request_id} is not a request of key set “{record.key_set.label}”.")
    if req.status not in SETTLED_STATUSES:
        raise ReviewRefused(
            f"Request #{req.pk} is {req.get_status_display().lower()}: only a sent request (succeeded or "
            "outcome unknown) can have an exchange record."
        )
    if req.asset != record.asset or req.amount != record.amount:
        raise ReviewRefused(
            f"Request #{req.pk} moves {req.amount_text} {req.asset}; this record is "
            f"{format(record.amount.normalize(), 'f')} {record.asset}."
        )
    if TransferRecord.objects.filter(matched_request=req, key_set=record.key_set).exists():
        raise ReviewRefused(f"Request #{req.pk} already has its record on this key set.")
    before = _state(record)
    record.matched_request = req
    record.save(update_fields=["matched_request"])
    audit_record(
        actor=actor,
        verb="record.link",
        obj=record,
        before=before,
        after={**_state(record), "request": req.pk},
        ip=ip,
    )
    return record
