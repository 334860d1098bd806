"""Who may receive an inner transfer, and the address book of allowed outside recipients.

The team's own accounts (the key set's family: its main account, the main's discovered
sub-accounts, and the UIDs of every key set known here) are always allowed. Anyone else must be an
ACTIVE `AllowedRecipient`; an entry is requested by one administrator and approved by a second.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.access import ensure_admin
from accounts.audit import audit_record
from accounts.models import AccountKind, ApiKeySet, SubAccount, User
from transfers.models import AllowedRecipient, RecipientStatus, RecipientType, Status, TransferRequest

_UID_RE = re.compile(r"^[0-9]{1,20}$")
_PHONE_RE = re.compile(r"^[0-9]{4,20}$")
_CALLING_RE = re.compile(r"^[0-9]{1,4}$")


class RecipientRefused(Exception):
    """An address-book change or a recipient was refused; the message is safe to show."""


@dataclass(frozen=True)
class CleanRecipient:
    recipient_type: int
    account: str
    calling_code: str


def recipient_clean(*, recipient_type: int | str, account: str, calling_code: str = "") -> CleanRecipient:
    """Normalise and check a recipient's format: UID digits, an email, or phone digits plus calling code."""
    try:
        rtype = RecipientType(int(recipient_type))
    except (TypeError, ValueError):
        raise RecipientRefused("Choose whether the recipient is a UID, a phone number or an email.") from None
    account = (account or "").strip()
    calling = (calling_code or "").strip().lstrip("+")
    if not account:
        raise RecipientRefused("Enter the recipient.")
    if rtype == RecipientType.UID:
        if not _UID_RE.match(account):
            raise RecipientRefused("A BingX UID is digits only, for example 10000002.")
        return CleanRecipient(rtype.value, str(int(account)), "")
    if rtype == RecipientType.EMAIL:
        try:
            validate_email(account)
        except ValidationError:
            raise RecipientRefused("Enter a valid email address for the recipient.") from None
        return CleanRecipient(rtype.value, account.lower(), "")
    digits = re.sub(r"[\s\-().]", "", account)
    if not _PHONE_RE.match(digits):
        raise RecipientRefused("Enter the phone number as digits only (4 to 20), without the calling code.")
    if not _CALLING_RE.match(calling):
        raise RecipientRefused("A phone recipient needs its calling code, for example 1 or 44.")
    return CleanRecipient(rtype.value, digits, calling)


def family_uids(*, key_set: ApiKeySet) -> dict[int, str]:
    """UIDs in the key set's family (its main account and the main's discovered sub-accounts), labelled."""
    main = key_set.parent if key_set.account_kind == AccountKind.SUB and key_set.parent else key_set
    uids: dict[int, str] = {}
    if main.uid:
        uids[int(main.uid)] = f"main account of {main.label}"
    for sub in SubAccount.objects.filter(main_key_set=main):
        uids[int(sub.sub_uid)] = f"sub-account {sub.name or sub.sub_uid}".strip()
    for ks in ApiKeySet.objects.filter(parent=main).exclude(uid=None):
        uids.setdefault(int(ks.uid or 0), f"sub-account of key set {ks.label}")
    return uids


def own_uids(*, key_set: ApiKeySet) -> dict[int, str]:
    """UIDs of the team's own accounts: the key set's family plus every key set's UID known here."""
    uids = family_uids(key_set=key_set)
    for ks in ApiKeySet.objects.exclude(uid=None):
        uids.setdefault(int(ks.uid or 0), f"key set {ks.label}")
    return uids


@dataclass(frozen=True)
class RecipientCheck:
    own_label: str | None  # set when the recipient is one of the team's own accounts
    allowed: AllowedRecipient | None  # set when it is an active address-book entry


def recipient_check(*, key_set: ApiKeySet, recipient: CleanRecipient) -> RecipientCheck:
    """Allowed as one of our own accounts or as an active address-book entry; RecipientRefused otherwise."""
    if recipient.recipient_type == RecipientType.UID:
        if key_set.uid and int(recipient.account) == int(key_set.uid):
            raise RecipientRefused("The recipient is the paying account itself.")
        label = own_uids(key_set=key_set).get(int(recipient.account))
        if label:
            return RecipientCheck(own_label=label, allowed=None)
    entry = AllowedRecipient.objects.filter(
        recipient_type=recipient.recipient_type,
        account=recipient.account,
        calling_code=recipient.calling_code,
        status=RecipientStatus.ACTIVE,
    ).first()
    if entry is None:
        raise RecipientRefused(
            "This recipient is not one of the team's own accounts and not in the address book. "
            "Ask an administrator to add it; a second administrator must approve the entry."
        )
    return RecipientCheck(own_label=None, allowed=entry)


# --- address-book services -----------------------------------------------------------------------


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


def _lock_pending(*, recipient_id: int, actor: User) -> AllowedRecipient:
    ensure_admin(user=actor)
    entry = AllowedRecipient.objects.select_for_update().filter(pk=recipient_id).first()
    if entry is None:
        raise RecipientRefused("No such address-book entry.")
    if entry.status != RecipientStatus.PENDING:
        raise RecipientRefused(f"This entry is not waiting for a decision ({entry.get_status_display()}).")
    if entry.requested_by_id == actor.pk:
        raise RecipientRefused("A second administrator must decide an entry you requested yourself.")
    return entry


@transaction.atomic
def recipient_approve(*, actor: User, recipient_id: int, ip: str | None = None) -> AllowedRecipient:
    entry = _lock_pending(recipient_id=recipient_id, actor=actor)
    before = _state(entry)
    entry.status = RecipientStatus.ACTIVE
    entry.decided_by = actor
    entry.decided_at = timezone.now()
    entry.save(update_fields=["status", "decided_by", "decided_at"])
    audit_record(actor=actor, verb="recipient.approve", obj=entry, before=before, after=_state(entry), ip=ip)
    return entry


@transaction.atomic
def recipient_reject(*, actor: User, recipient_id: int, ip: str | None = None) -> AllowedRecipient:
    entry = _lock_pending(recipient_id=recipient_id, actor=actor)
    before = _state(entry)
    entry.status = RecipientStatus.REJECTED
    entry.decided_by = actor
    entry.decided_at = timezone.now()
    entry.save(update_fields=["status", "decided_by", "decided_at"])
    audit_record(actor=actor, verb="recipient.reject", obj=entry, before=before, after=_state(entry), ip=ip)
    return entry


@transaction.atomic
def recipient_remove(*, actor: User, recipient_id: int, ip: str | None = None) -> AllowedRecipient:
    """Take an entry out of use at once (one administrator suffices); its pending requests become stale."""
    ensure_admin(user=actor)
    entry = AllowedRecipient.objects.select_for_update().filter(pk=recipient_id).first()
    if entry is None:
        raise RecipientRefused("No such address-book entry.")
    if entry.status not in (RecipientStatus.ACTIVE, RecipientStatus.PENDING):
        raise RecipientRefused(f"This entry is not in use ({entry.get_status_display()}).")
    before = _state(entry)
    entry.status = RecipientStatus.REMOVED
    entry.decided_by = actor
    entry.decided_at = timezone.now()
    entry.save(update_fields=["status", "decided_by", "decided_at"])
    from transfers.services import requests_mark_stale

    staled = requests_mark_stale(
        requests=TransferRequest.objects.filter(recipient=entry, status=Status.PENDING),
        actor=actor,
        reason=f"address-book entry “{entry.label}” removed",
        ip=ip,
    )
    audit_record(
        actor=actor,
        verb="recipient.remove",
        obj=entry,
        before=before,
        after={**_state(entry), "stale_requests": staled},
        ip=ip,
    )
    return entry
