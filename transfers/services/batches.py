"""Batch requests: submit (every leg checked as a single request is, then the policy on the batch's
totals) and cancel. Decisions are in transfers.services.batch_decisions (docs/workflow.md "Batch
requests")."""

from __future__ import annotations

import contextlib
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.access import Capability, key_sets_for
from accounts.audit import audit_record
from accounts.models import ApiKeySet, User
from transfers import notifications
from transfers.amounts import AmountTextError, amount_parse_text
from transfers.batch_csv import MAX_LEGS, LegError, LegInput
from transfers.lifecycle import transition
from transfers.models import BatchStatus, PolicyRule, Status, TransferBatch, TransferRequest
from transfers.payload import PayloadError, batch_payload_sha256, new_client_id, payload_build, payload_sha256
from transfers.policy import (
    daily_limit_for,
    daily_used,
    eligible_approvers,
    policy_version_current,
    quorum_for,
)
from transfers.refusals import DecisionRefused, RequestRefused
from transfers.services.requests import CleanRequest, request_input_clean


class BatchRefused(RequestRefused):
    """A batch was refused at submission; nothing was stored. `errors` lists every problem found."""

    def __init__(self, errors: list[LegError]) -> None:
        super().__init__("; ".join(str(e) for e in errors))
        self.errors = errors


@dataclass(frozen=True)
class _Leg:
    line: int
    clean: CleanRequest
    rule: PolicyRule | None
    required: int


def _key_sets_by_name(*, requester: User, legs: list[LegInput]) -> dict[str, ApiKeySet]:
    """The key sets the legs name (label or UUID) among those the requester may view, locked in pk
    order: serialises submissions per key set, so the 24 h limit cannot be raced past."""
    names = {leg.key_set for leg in legs}
    uuids = []
    for name in names:
        with contextlib.suppress(ValueError):
            uuids.append(uuid.UUID(name))
    visible = key_sets_for(user=requester, capability=Capability.VIEW).values("pk")
    locked = list(
        ApiKeySet.objects.select_for_update()
        .filter(pk__in=visible)
        .filter(Q(label__in=names) | Q(uuid__in=uuids))
        .order_by("pk")
    )
    out: dict[str, ApiKeySet] = {}
    for ks in locked:
        out[ks.label] = ks
        out[str(ks.uuid)] = ks
    return out


def _legs_clean(*, requester: User, legs: list[LegInput]) -> tuple[list[_Leg], list[LegError]]:
    """Each leg as a single request would be checked, with its own quorum and 24 h limit."""
    key_sets = _key_sets_by_name(requester=requester, legs=legs)
    out: list[_Leg] = []
    errors: list[LegError] = []
    for leg in legs:
        key_set = key_sets.get(leg.key_set.strip())
        if key_set is None:
            errors.append(LegError(leg.line, f"No such key set “{leg.key_set}”."))
            continue
        try:
            try:  # the same plain-decimal rule as a single request's amount (no exponent, no spaces)
                amount = amount_parse_text(leg.amount)
            except AmountTextError as exc:
                raise RequestRefused(str(exc)) from None
            clean = request_input_clean(
                requester=requester,
                key_set=key_set,
                kind=leg.kind.strip(),
                asset=leg.asset,
                amount=amount,
                fields=leg.fields,
            )
            extra = set(leg.fields) - set(clean.fields)
            if extra:
                raise RequestRefused(f"Not a field of a {clean.kind} transfer: {', '.join(sorted(extra))}.")
            _limit_ensure(key_set=key_set, asset=clean.asset, amount=clean.amount, what="This leg")
        except RequestRefused as exc:
            errors.append(LegError(leg.line, str(exc)))
            continue
        quorum = quorum_for(key_set=key_set, kind=clean.kind, asset=clean.asset, amount=clean.amount)
        out.append(_Leg(line=leg.line, clean=clean, rule=quorum.rule, required=quorum.required))
    return out, errors


def _limit_ensure(*, key_set: ApiKeySet, asset: str, amount: Decimal, what: str) -> None:
    limit = daily_limit_for(key_set=key_set, asset=asset)
    if limit is None:
        return
    used = daily_used(key_set=key_set, asset=asset)
    if used + amount > limit.limit:
        left = max(Decimal(0), limit.limit - used)
        raise RequestRefused(
            f"{what} ({amount.normalize():f} {asset}) would exceed the 24-hour limit of "
            f"{limit.limit.normalize():f} {asset} on key set “{key_set.label}”: {used.normalize():f} already "
            f"requested, {left.normalize():f} left."
        )


def _totals_policy(*, requester: User, legs: list[_Leg]) -> tuple[int, list[LegError]]:
    """The batch's quorum — the highest of every leg's and of every (key set, kind, asset) total's — and
    the 24 h limit on every (key set, asset) total; refused when fewer people may approve every leg."""
    errors: list[LegError] = []
    required = max(leg.required for leg in legs)
    by_kind: dict[tuple[ApiKeySet, str, str], Decimal] = defaultdict(Decimal)
    by_asset: dict[tuple[ApiKeySet, str], Decimal] = defaultdict(Decimal)
    for leg in legs:
        c = leg.clean
        by_kind[(c.key_set, c.kind, c.asset)] += c.amount
        by_asset[(c.key_set, c.asset)] += c.amount
    for (key_set, kind, asset), total in by_kind.items():
        required = max(required, quorum_for(key_set=key_set, kind=kind, asset=asset, amount=total).required)
    for (key_set, asset), total in sorted(by_asset.items(), key=lambda item: (item[0][0].pk, item[0][1])):
        try:
            _limit_ensure(key_set=key_set, asset=asset, amount=total, what="The batch's total")
        except RequestRefused as exc:
            errors.append(LegError(None, str(exc)))
    eligible = batch_eligible_approvers(requester=requester, key_sets={leg.clean.key_set for leg in legs})
    if eligible < required:
        errors.append(
            LegError(
                None,
                f"This batch needs {required} approval(s), but only {eligible} person(s) other than you "
                "may approve on every key set it uses. Ask an administrator to grant the approve right.",
            )
        )
    return required, errors


def batch_eligible_approvers(*, requester: User, key_sets: set[ApiKeySet]) -> int:
    """People other than the requester who hold approve on every key set of the batch."""
    pks: set[int] | None = None
    for key_set in key_sets:
        these = set(eligible_approvers(key_set=key_set, requester=requester).values_list("pk", flat=True))
        pks = these if pks is None else pks & these
    return len(pks or ())


@transaction.atomic
def transfer_batch_create(
    *, requester: User, legs: list[LegInput], note: str = "", ip: str | None = None
) -> TransferBatch:
    """Submit a batch: every leg checked (errors name their line), the policy applied to each leg and
    to the totals, then the batch and its legs stored with their payloads and hashes. Any problem
    raises BatchRefused and nothing is stored."""
    if not legs:
        raise BatchRefused([LegError(None, "Add at least one leg.")])
    if len(legs) > MAX_LEGS:
        raise BatchRefused([LegError(None, f"A batch has at most {MAX_LEGS} legs ({len(legs)} given).")])
    note = (note or "").strip()
    if len(note) > 300:
        raise BatchRefused([LegError(None, "Keep the note under 300 characters.")])
    cleaned, errors = _legs_clean(requester=requester, legs=legs)
    if errors:
        raise BatchRefused(errors)
    required, errors = _totals_policy(requester=requester, legs=cleaned)
    if errors:
        raise BatchRefused(errors)

    version = policy_version_current()
    payloads: list[dict[str, Any]] = []
    for leg in cleaned:
        c = leg.clean
        try:
            payloads.append(
                payload_build(
                    kind=c.kind,
                    key_set=c.key_set,
                    asset=c.asset,
                    amount=c.amount,
                    client_id=new_client_id(),
                    policy_version=version,
                    **c.fields,
                )
            )
        except PayloadError as exc:
            raise BatchRefused([LegError(leg.line, str(exc))]) from None
    expires_at = timezone.now() + timedelta(hours=settings.TRANSFER_REQUEST_TTL_HOURS)
    batch = TransferBatch.objects.create(
        payload=payloads,
        payload_sha256=batch_payload_sha256(payloads),
        note=note,
        status=BatchStatus.PENDING,
        required_approvals=required,
        policy_version=version,
        requested_by=requester,
        expires_at=expires_at,
    )
    TransferRequest.objects.bulk_create(
        TransferRequest(
            client_id=payload["client_id"],
            key_set=leg.clean.key_set,
            kind=leg.clean.kind,
            payload=payload,
            payload_sha256=payload_sha256(payload),
            asset=leg.clean.asset,
            amount=leg.clean.amount,
            recipient=leg.clean.entry,
            note=note,
            status=Status.PENDING,
            required_approvals=required,
            policy_version=version,
            policy_rule=leg.rule,
            requested_by=requester,
            expires_at=expires_at,
            batch=batch,
            leg_index=index,
        )
        for index, (leg, payload) in enumerate(zip(cleaned, payloads, strict=True))
    )
    audit_record(
        actor=requester,
        verb="transfer.batch.request",
        obj=batch,
        after={
            "status": batch.status,
            "legs": len(payloads),
            "payload_sha256": batch.payload_sha256,
            "required_approvals": required,
            "leg_ids": list(batch.legs.order_by("leg_index").values_list("pk", flat=True)),
        },
        ip=ip,
    )
    pk = batch.pk
    transaction.on_commit(lambda: notifications.notify_approvers_batch_waiting(batch_id=pk), robust=True)
    return batch


@transaction.atomic
def transfer_batch_cancel(*, batch_id: int, actor: User, ip: str | None = None) -> TransferBatch:
    """The requester withdraws their own batch while it is pending: every pending leg is cancelled."""
    batch = TransferBatch.objects.select_for_update().filter(pk=batch_id).first()
    if batch is None:
        raise DecisionRefused("No such batch.", code="not_found")
    if batch.requested_by_id != actor.pk:
        raise DecisionRefused("Only the person who requested a batch can cancel it.", code="not_requester")
    if batch.status != BatchStatus.PENDING:
        raise DecisionRefused(
            f"Only a pending batch can be cancelled (this one is {batch.get_status_display().lower()}).",
            code="not_pending",
        )
    batch_close(batch=batch, status=BatchStatus.CANCELLED, verb="transfer.batch.cancel", actor=actor, ip=ip)
    return batch


LEG_STATUS_FOR = {
    BatchStatus.CANCELLED: (Status.CANCELLED, "transfer.cancel"),
    BatchStatus.EXPIRED: (Status.EXPIRED, "transfer.expire"),
    BatchStatus.STALE: (Status.STALE, "transfer.stale"),
    BatchStatus.REJECTED: (Status.REJECTED, "transfer.reject"),
}


def batch_close(
    *, batch: TransferBatch, status: str, verb: str, actor: User | None, ip: str | None, reason: str = ""
) -> None:
    """End a pending batch (inside the caller's transaction): its still-pending legs follow."""
    leg_status, leg_verb = LEG_STATUS_FOR[BatchStatus(status)]
    now = timezone.now()
    for leg in batch.legs.select_for_update().filter(status=Status.PENDING).order_by("leg_index"):
        changes: dict[str, Any] = {"decided_at": now}
        if reason:
            changes["attention_reason"] = reason
        transition(
            request=leg,
            from_statuses=(Status.PENDING,),
            to_status=leg_status,
            verb=leg_verb,
            actor=actor,
            changes=changes,
            after={"status": leg_status, "batch": batch.pk, **({"reason": reason} if reason else {})},
            ip=ip,
        )
    before = {"status": batch.status}
    batch.status = status
    batch.decided_at = now
    batch.attention_reason = reason
    batch.save(update_fields=["status", "decided_at", "attention_reason", "updated_at"])
    audit_record(
        actor=actor, verb=verb, obj=batch, before=before, after={"status": status, "reason": reason}, ip=ip
    )
    if status != BatchStatus.CANCELLED:  # the requester cancelled it themselves
        pk = batch.pk
        transaction.on_commit(lambda: notifications.notify_requester_batch_decided(batch_id=pk), robust=True)
