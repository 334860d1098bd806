"""The address book of allowed outside recipients: one administrator requests an entry, a second
approves or rejects it (accounts.four_eyes); removal takes effect at once and makes the pending
requests to it stale."""

from __future__ import annotations

from collections.abc import Mapping

from django.db import IntegrityError, transaction

from accounts.access import ensure_admin
from accounts.audit import audit_record
from accounts.four_eyes import decision_stepup, proposal_decide, proposal_lock_pending, second_person_ensure
from accounts.models import User
from accounts.stepup import stepup_binding
from transfers.models import AllowedRecipient, RecipientStatus, Status, TransferRequest
from transfers.recipients import RecipientRefused, recipient_clean
from transfers.services.requests import requests_mark_stale


def _state(entry: AllowedRecipient) -> dict[str, object]:
    return {
        "label": entry.label,
        "recipient_type": entry.recipient_type,
        "account": entry.account,
        "calling_code": entry.calling_code,
        "status": entry.status,
    }


@transaction.atomic
def recipient_request(
    *,
    actor: User,
    label: str,
    recipient_type: int | str,
    account: str,
    calling_code: str = "",
    ip: str | None = None,
) -> AllowedRecipient:
    """An administrator proposes an outside recipient; it is usable only after a second one approves."""
    ensure_admin(user=actor)
    label = (label or "").strip()
    if not label:
        raise RecipientRefused("Give the recipient a label people will recognise.")
    clean = recipient_clean(recipient_type=recipient_type, account=account, calling_code=calling_code)
    existing = (
        AllowedRecipient.objects.select_for_update()
        .filter(recipient_type=clean.recipient_type, account=clean.account, calling_code=clean.calling_code)
        .first()
    )
    before: dict[str, object] = {}
    if existing is not None:
        if existing.status in (RecipientStatus.PENDING, RecipientStatus.ACTIVE):
            raise RecipientRefused(
                f"This recipient is already in the address book ({existing.get_status_display()})."
            )
        before = _state(existing)
        entry = existing
        entry.label = label
        entry.status = RecipientStatus.PENDING
        entry.requested_by = actor
        entry.decided_by = None
        entry.decided_at = None
        entry.save()
    else:
        try:
            with transaction.atomic():
                entry = AllowedRecipient.objects.create(
                    label=label,
                    recipient_type=clean.recipient_type,
                    account=clean.account,
                    calling_code=clean.calling_code,
                    requested_by=actor,
                )
        except IntegrityError:
            raise RecipientRefused("This recipient was just added by someone else.") from None
    audit_record(actor=actor, verb="recipient.request", obj=entry, before=before, after=_state(entry), ip=ip)
    return entry


def _decide(*, actor: User, recipient_id: int, status: str, verb: str, ip: str | None) -> AllowedRecipient:
    """A second administrator's decision on a pending entry (accounts.four_eyes rules)."""
    entry = proposal_lock_pending(
        queryset=AllowedRecipient.objects.all(),
        pk=recipient_id,
        decider=actor,
        pending=RecipientStatus.PENDING,
        what="address-book entry",
        refused=RecipientRefused,
    )
    second_person_ensure(
        decider=actor,
        makers=[entry.requested_by_id],
        refused=RecipientRefused,
        message="A second administrator must decide an entry you requested yourself.",
    )
    return proposal_decide(proposal=entry, status=status, decider=actor, verb=verb, state=_state, ip=ip)


RECIPIENT_PURPOSE = "recipient.{decision}"


RECIPIENT_SUBJECT = "address-book-entry"


def recipient_decision_binding(*, recipient_id: int, decision: str) -> bytes:
    return stepup_binding(subject=RECIPIENT_SUBJECT, object_id=recipient_id, decision=decision)


def _step_up(
    *, actor: User, recipient_id: int, decision: str, stepup: Mapping[str, str], ip: str | None
) -> None:
    ensure_admin(user=actor)
    decision_stepup(
        decider=actor,
        subject=RECIPIENT_SUBJECT,
        object_id=recipient_id,
        decision=decision,
        purpose=RECIPIENT_PURPOSE.format(decision=decision),
        stepup=stepup,
        refuse=RecipientRefused,
        ip=ip,
    )


def recipient_approve(
    *, actor: User, recipient_id: int, stepup: Mapping[str, str], ip: str | None = None
) -> AllowedRecipient:
    _step_up(actor=actor, recipient_id=recipient_id, decision="approve", stepup=stepup, ip=ip)
    with transaction.atomic():
        return _decide(
            actor=actor,
            recipient_id=recipient_id,
            status=RecipientStatus.ACTIVE,
            verb="recipient.approve",
            ip=ip,
        )


def recipient_reject(
    *, actor: User, recipient_id: int, stepup: Mapping[str, str], ip: str | None = None
) -> AllowedRecipient:
    _step_up(actor=actor, recipient_id=recipient_id, decision="reject", stepup=stepup, ip=ip)
    with transaction.atomic():
        return _decide(
            actor=actor,
            recipient_id=recipient_id,
            status=RecipientStatus.REJECTED,
            verb="recipient.reject",
            ip=ip,
        )


def recipient_remove(
    *, actor: User, recipient_id: int, stepup: Mapping[str, str], ip: str | None = None
) -> AllowedRecipient:
    """Take an entry out of use at once (one administrator suffices, confirmed with a second factor);
    its pending requests become stale."""
    ensure_admin(user=actor)
    entry = AllowedRecipient.objects.filter(pk=recipient_id).first()
    if entry is None:  # refusals that need no code come before the step-up
        raise RecipientRefused("No such address-book entry.")
    if entry.status not in (RecipientStatus.ACTIVE, RecipientStatus.PENDING):
        raise RecipientRefused(f"This entry is not in use ({entry.get_status_display()}).")
    _step_up(actor=actor, recipient_id=recipient_id, decision="remove", stepup=stepup, ip=ip)
    return _recipient_remove(actor=actor, recipient_id=recipient_id, ip=ip)


@transaction.atomic
def _recipient_remove(*, actor: User, recipient_id: int, ip: str | None) -> AllowedRecipient:
    ensure_admin(user=actor)
    entry = AllowedRecipient.objects.select_for_update().filter(pk=recipient_id).first()
    if entry is None:
        raise RecipientRefused("No such address-book entry.")
    if entry.status not in (RecipientStatus.ACTIVE, RecipientStatus.PENDING):
        raise RecipientRefused(f"This entry is not in use ({entry.get_status_display()}).")
    staled = requests_mark_stale(
        requests=TransferRequest.objects.filter(recipient=entry, status=Status.PENDING),
        actor=actor,
        reason=f"address-book entry “{entry.label}” removed",
        ip=ip,
    )
    proposal_decide(
        proposal=entry,
        status=RecipientStatus.REMOVED,
        decider=actor,
        verb="recipient.remove",
        state=_state,
        ip=ip,
        extra={"stale_requests": staled},
    )
    return entry
