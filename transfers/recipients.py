"""Who may receive an inner transfer (the address book's services are in transfers.services.address_book).

The team's own accounts (the key set's family: its active main account and the sub-accounts
discovered from it, and the UIDs of the active key sets on the same exchange) are always allowed.
Anyone else must be an ACTIVE `AllowedRecipient`; an entry is requested by one administrator and
approved by a second.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db.models import QuerySet

from accounts.models import AccountKind, ApiKeySet, KeySetStatus, SubAccount
from transfers.models import AllowedRecipient, RecipientStatus, RecipientType

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


def _own_key_sets(*, paying: ApiKeySet) -> QuerySet[ApiKeySet]:
    """Key sets whose UID is ours for `paying`: activated by a second administrator and on the same
    exchange. A pending key set's UID is only what its key (and its server) claims."""
    active = ApiKeySet.objects.filter(status=KeySetStatus.ACTIVE, environment=paying.environment)
    return active.exclude(uid=None)


def family_uids(*, key_set: ApiKeySet) -> dict[int, str]:
    """UIDs in the key set's family (its main account and the main's discovered sub-accounts), labelled.

    The main account counts only while its key set is active: its UID and its discoveries come from
    its key."""
    main = key_set.parent if key_set.account_kind == AccountKind.SUB and key_set.parent else key_set
    uids: dict[int, str] = {}
    if main.status == KeySetStatus.ACTIVE and main.environment == key_set.environment:
        if main.uid:
            uids[int(main.uid)] = f"main account of {main.label}"
        for sub in SubAccount.objects.filter(main_key_set=main):
            uids[int(sub.sub_uid)] = f"sub-account {sub.name or sub.sub_uid}".strip()
    for ks in _own_key_sets(paying=key_set).filter(parent=main):
        uids.setdefault(int(ks.uid or 0), f"sub-account of key set {ks.label}")
    return uids


def own_uids(*, key_set: ApiKeySet) -> dict[int, str]:
    """UIDs of the team's own accounts: the key set's family plus the UID of every active key set on
    the same exchange."""
    uids = family_uids(key_set=key_set)
    for ks in _own_key_sets(paying=key_set):
        uids.setdefault(int(ks.uid or 0), f"key set {ks.label}")
    return uids


def own_uid_label(*, key_set: ApiKeySet, uid: int) -> str | None:
    """`own_uids(key_set=…).get(uid)` for one UID, in at most two small queries instead of reading
    every active key set and every discovered sub-account (execution re-checks each transfer's
    recipient; a main account may have hundreds of sub-accounts)."""
    main = key_set.parent if key_set.account_kind == AccountKind.SUB and key_set.parent else key_set
    if main.status == KeySetStatus.ACTIVE and main.environment == key_set.environment:
        if main.uid and int(main.uid) == uid:
            return f"main account of {main.label}"
        sub = SubAccount.objects.filter(main_key_set=main, sub_uid=uid).first()
        if sub is not None:
            return f"sub-account {sub.name or sub.sub_uid}".strip()
    holders = list(_own_key_sets(paying=key_set).filter(uid=uid).order_by("pk"))
    in_family = [ks for ks in holders if ks.parent_id == main.pk]
    if in_family:
        return f"sub-account of key set {in_family[0].label}"
    return f"key set {holders[0].label}" if holders else None


def own_uid_known(*, key_set: ApiKeySet, uid: int) -> bool:
    """`own_uid_label(…) is not None` without building the label: one query (the execution re-check
    of every transfer's recipient needs only the answer)."""
    main = key_set.parent if key_set.account_kind == AccountKind.SUB and key_set.parent else key_set
    family = main.status == KeySetStatus.ACTIVE and main.environment == key_set.environment
    if family and main.uid and int(main.uid) == uid:
        return True
    holders = _own_key_sets(paying=key_set).filter(uid=uid)
    if family:
        return bool(holders.exists() or SubAccount.objects.filter(main_key_set=main, sub_uid=uid).exists())
    return holders.exists()


def own_uids_many(*, key_sets: Iterable[ApiKeySet]) -> dict[int, tuple[dict[int, str], dict[int, str]]]:
    """family_uids and own_uids of many key sets at once, by key set id: two queries however many key
    sets (the new-transfer forms list every offered key set's family). Pass key sets with `parent`
    selected. Same answers as the one-key-set functions (tests/transfers/test_pages_fast.py)."""
    key_sets = list(key_sets)
    mains = {
        ks.pk: (ks.parent if ks.account_kind == AccountKind.SUB and ks.parent else ks) for ks in key_sets
    }
    subs: dict[int, list[SubAccount]] = {}
    for sub in SubAccount.objects.filter(main_key_set_id__in={m.pk for m in mains.values()}).order_by("pk"):
        subs.setdefault(sub.main_key_set_id, []).append(sub)
    active = list(ApiKeySet.objects.filter(status=KeySetStatus.ACTIVE).exclude(uid=None))
    result: dict[int, tuple[dict[int, str], dict[int, str]]] = {}
    for ks in key_sets:
        main = mains[ks.pk]
        same_exchange = [a for a in active if a.environment == ks.environment]
        family: dict[int, str] = {}
        if main.status == KeySetStatus.ACTIVE and main.environment == ks.environment:
            if main.uid:
                family[int(main.uid)] = f"main account of {main.label}"
            for sub in subs.get(main.pk, []):
                family[int(sub.sub_uid)] = f"sub-account {sub.name or sub.sub_uid}".strip()
        for a in same_exchange:
            if a.parent_id == main.pk:
                family.setdefault(int(a.uid or 0), f"sub-account of key set {a.label}")
        own = dict(family)
        for a in same_exchange:
            own.setdefault(int(a.uid or 0), f"key set {a.label}")
        result[ks.pk] = (family, own)
    return result


@dataclass(frozen=True)
class RecipientCheck:
    own_label: str | None  # set when the recipient is one of the team's own accounts
    allowed: AllowedRecipient | None  # set when it is an active address-book entry


def recipient_check(*, key_set: ApiKeySet, recipient: CleanRecipient) -> RecipientCheck:
    """Allowed as one of our own accounts or as an active address-book entry; RecipientRefused otherwise."""
    if recipient.recipient_type == RecipientType.UID:
        if key_set.uid and int(recipient.account) == int(key_set.uid):
            raise RecipientRefused("The recipient is the paying account itself.")
        label = own_uid_label(key_set=key_set, uid=int(recipient.account))
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


def address_book_entries() -> QuerySet[AllowedRecipient]:
    """Every entry, for the address-book page: pending first, then by label."""
    return AllowedRecipient.objects.select_related("requested_by", "decided_by").order_by("status", "label")


def address_book_active() -> QuerySet[AllowedRecipient]:
    return AllowedRecipient.objects.filter(status=RecipientStatus.ACTIVE)
