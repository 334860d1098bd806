"""Key-set lifecycle: create, update, replace the secret, activate (four eyes), deactivate.

Each function is one state change: keyword-only arguments, permission and state checks here (views
only parse and call), one transaction, one audit event. Secrets never go into an audit event. A change
that voids pending work (new credentials, deactivation) sends accounts.signals.key_set_changed inside
the transaction; the transfers app marks that key set's pending requests stale in return.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.access import AccessDenied, Capability, ensure_admin, ensure_can
from accounts.audit import audit_record
from accounts.crypto import PURPOSE_API_KEY, PURPOSE_SECRET, secret_encrypt
from accounts.four_eyes import second_person_ensure
from accounts.models import AccountKind, ApiKeySet, Environment, KeySetStatus, User
from accounts.services.validation import base_url_for, credential_clean, validation_message
from accounts.signals import key_set_changed_send
from accounts.stepup import StepUpRefused, stepup_binding, stepup_verify


class KeySetRefused(Exception):
    """A key-set change was refused; the message is safe to show."""


def key_set_lock(*, key_set_id: int) -> ApiKeySet:
    """The key set, locked for update (call inside a transaction); KeySetRefused if absent."""
    try:
        return ApiKeySet.objects.select_for_update().get(pk=key_set_id)
    except ApiKeySet.DoesNotExist:
        raise KeySetRefused("That key set does not exist.") from None


def key_set_readable(*, actor: User | None, key_set_id: int) -> ApiKeySet:
    """The key set, if the actor may view it (actor None: the system, from a task)."""
    key_set = ApiKeySet.objects.filter(pk=key_set_id).first()
    if key_set is None:
        raise KeySetRefused("That key set does not exist.")
    if actor is not None:
        try:
            ensure_can(user=actor, key_set=key_set, capability=Capability.VIEW)
        except AccessDenied:
            raise KeySetRefused("That key set does not exist.") from None
    return key_set


# --- Key set lifecycle --------------------------------------------------------------------------


@transaction.atomic
def key_set_create(
    *,
    actor: User,
    label: str,
    api_key: str,
    secret: str,
    environment: str = Environment.BINGX,
    base_url: str = "",
    account_kind: str = AccountKind.MAIN,
    parent_id: int | None = None,
    rotate_by: dt.date | None = None,
    ip: str | None = None,
) -> ApiKeySet:
    """Store a new key set, encrypted, awaiting activation by a second administrator."""
    ensure_admin(user=actor)
    label = (label or "").strip()
    if not label:
        raise KeySetRefused("Enter a label.")
    try:
        url = base_url_for(environment=environment, base_url=base_url)
        api_key = credential_clean(value=api_key, what="API key")
        secret = credential_clean(value=secret, what="API secret")
    except ValidationError as exc:
        raise KeySetRefused(validation_message(exc)) from None
    if account_kind not in AccountKind.values:
        raise KeySetRefused("Choose main account or sub-account.")
    parent = None
    if account_kind == AccountKind.SUB:
        if parent_id is None:
            raise KeySetRefused("A sub-account key set needs its main account's key set.")
        parent = ApiKeySet.objects.filter(pk=parent_id, account_kind=AccountKind.MAIN).first()
        if parent is None:
            raise KeySetRefused("The main account must be an existing main-account key set.")
        if parent.environment != environment:
            raise KeySetRefused("A sub-account key set must use the same exchange as its main account.")
    elif parent_id is not None:
        raise KeySetRefused("A main-account key set has no parent.")
    if ApiKeySet.objects.filter(label__iexact=label).exists():
        raise KeySetRefused(f"A key set labelled “{label}” already exists.")
    now = timezone.now()
    key_set = ApiKeySet(
        label=label,
        environment=environment,
        base_url=url,
        account_kind=account_kind,
        parent=parent,
        api_key_last4=api_key[-4:],
        status=KeySetStatus.PENDING_ACTIVATION,
        rotate_by=rotate_by,
        created_by=actor,
        secret_changed_by=actor,
        secret_changed_at=now,
    )
    key_set.api_key_encrypted = secret_encrypt(
        plaintext=api_key, key_set_uuid=key_set.uuid, purpose=PURPOSE_API_KEY
    )
    key_set.secret_encrypted = secret_encrypt(
        plaintext=secret, key_set_uuid=key_set.uuid, purpose=PURPOSE_SECRET
    )
    try:
        with transaction.atomic():
            key_set.save()
    except IntegrityError:
        raise KeySetRefused(f"A key set labelled “{label}” already exists.") from None
    audit_record(
        actor=actor,
        verb="keyset.create",
        obj=key_set,
        after={
            "label": label,
            "environment": environment,
            "base_url": url,
            "account_kind": account_kind,
            "parent": parent.pk if parent else None,
            "api_key": key_set.api_key_hint,
            "status": key_set.status,
            "rotate_by": rotate_by,
        },
        ip=ip,
    )
    return key_set


@transaction.atomic
def key_set_update(
    *, actor: User, key_set_id: int, label: str, rotate_by: dt.date | None, ip: str | None = None
) -> ApiKeySet:
    """Rename a key set or change its rotate-by date (nothing that affects signing)."""
    ensure_admin(user=actor)
    key_set = key_set_lock(key_set_id=key_set_id)
    label = (label or "").strip()
    if not label:
        raise KeySetRefused("Enter a label.")
    if ApiKeySet.objects.filter(label__iexact=label).exclude(pk=key_set.pk).exists():
        raise KeySetRefused(f"A key set labelled “{label}” already exists.")
    before = {"label": key_set.label, "rotate_by": key_set.rotate_by}
    key_set.label, key_set.rotate_by = label, rotate_by
    key_set.save(update_fields=["label", "rotate_by", "updated_at"])
    audit_record(
        actor=actor,
        verb="keyset.update",
        obj=key_set,
        before=before,
        after={"label": label, "rotate_by": rotate_by},
        ip=ip,
    )
    return key_set


@transaction.atomic
def key_set_replace_secret(
    *,
    actor: User,
    key_set_id: int,
    api_key: str,
    secret: str,
    rotate_by: dt.date | None = None,
    ip: str | None = None,
) -> ApiKeySet:
    """New credentials: back to pending activation, verification cleared, pending requests stale."""
    ensure_admin(user=actor)
    key_set = key_set_lock(key_set_id=key_set_id)
    try:
        api_key = credential_clean(value=api_key, what="API key")
        secret = credential_clean(value=secret, what="API secret")
    except ValidationError as exc:
        raise KeySetRefused(validation_message(exc)) from None
    before = {"status": key_set.status, "api_key": key_set.api_key_hint, "rotate_by": key_set.rotate_by}
    key_set.api_key_encrypted = secret_encrypt(
        plaintext=api_key, key_set_uuid=key_set.uuid, purpose=PURPOSE_API_KEY
    )
    key_set.secret_encrypted = secret_encrypt(
        plaintext=secret, key_set_uuid=key_set.uuid, purpose=PURPOSE_SECRET
    )
    key_set.api_key_last4 = api_key[-4:]
    key_set.status = KeySetStatus.PENDING_ACTIVATION
    key_set.secret_changed_at = timezone.now()
    key_set.secret_changed_by = actor
    key_set.activated_by = None
    key_set.activated_at = None
    # What the old key could do says nothing about the new one.
    key_set.permissions, key_set.ip_whitelist, key_set.verification = [], [], {}
    key_set.last_verified_at = None
    if rotate_by is not None:
        key_set.rotate_by = rotate_by
    key_set.save()
    staled = key_set_changed_send(key_set=key_set, actor=actor, reason="key set secret replaced", ip=ip)
    audit_record(
        actor=actor,
        verb="keyset.replace_secret",
        obj=key_set,
        before=before,
        after={
            "status": key_set.status,
            "api_key": key_set.api_key_hint,
            "rotate_by": key_set.rotate_by,
            "stale_requests": staled,
        },
        ip=ip,
    )
    return key_set


ACTIVATE_PURPOSE = "keyset.activate"


def key_set_activate_binding(*, key_set_id: int) -> bytes:
    return stepup_binding(subject="key-set", object_id=key_set_id, decision="activate")


def key_set_activate(
    *, actor: User, key_set_id: int, stepup: Mapping[str, str], ip: str | None = None
) -> ApiKeySet:
    """Four eyes: only an administrator other than whoever created it or last changed its secret,
    confirmed with a second factor (checked first, outside the transaction: failures stay recorded)."""
    ensure_admin(user=actor)
    _activation_refusal(actor=actor, key_set=ApiKeySet.objects.get(pk=key_set_id))  # before a code is spent
    try:
        stepup_verify(
            user=actor,
            data=stepup,
            purpose=ACTIVATE_PURPOSE,
            binding=key_set_activate_binding(key_set_id=key_set_id),
            ip=ip,
        )
    except StepUpRefused as exc:
        raise KeySetRefused(f"{exc} Nothing was changed.") from None
    return _key_set_activate(actor=actor, key_set_id=key_set_id, ip=ip)


def _activation_refusal(*, actor: User, key_set: ApiKeySet) -> None:
    if key_set.status == KeySetStatus.ACTIVE:
        raise KeySetRefused("This key set is already active.")
    verification = key_set.verification or {}
    if verification and not verification.get("ok"):
        said = verification.get("error") or "the key did not work"
        raise KeySetRefused(
            f"This key set's last verification failed ({said}); it cannot be activated. "
            "Replace the key or secret, or verify again once the cause is fixed."
        )
    second_person_ensure(
        decider=actor,
        makers=[key_set.created_by_id, key_set.secret_changed_by_id],
        refused=KeySetRefused,
        message=(
            "A second administrator must activate this key set: you created it or last changed its secret."
        ),
    )


@transaction.atomic
def _key_set_activate(*, actor: User, key_set_id: int, ip: str | None) -> ApiKeySet:
    ensure_admin(user=actor)
    key_set = key_set_lock(key_set_id=key_set_id)
    _activation_refusal(actor=actor, key_set=key_set)
    before = {"status": key_set.status}
    key_set.status = KeySetStatus.ACTIVE
    key_set.activated_by = actor
    key_set.activated_at = timezone.now()
    key_set.save(update_fields=["status", "activated_by", "activated_at", "updated_at"])
    audit_record(
        actor=actor,
        verb="keyset.activate",
        obj=key_set,
        before=before,
        after={"status": key_set.status},
        ip=ip,
    )
    return key_set


DEACTIVATE_PURPOSE = "keyset.deactivate"


def key_set_deactivate(
    *, actor: User, key_set_id: int, stepup: Mapping[str, str], ip: str | None = None
) -> ApiKeySet:
    """Stop using a key set at once; its pending requests become stale. Destructive, so confirmed with
    the administrator's second factor (checked first, outside the transaction: failures stay recorded)."""
    ensure_admin(user=actor)
    if not ApiKeySet.objects.filter(pk=key_set_id).exclude(status=KeySetStatus.INACTIVE).exists():
        raise KeySetRefused("This key set is already inactive.")  # before a code is spent
    try:
        stepup_verify(
            user=actor,
            data=stepup,
            purpose=DEACTIVATE_PURPOSE,
            binding=stepup_binding(subject="key-set", object_id=key_set_id, decision="deactivate"),
            ip=ip,
        )
    except StepUpRefused as exc:
        raise KeySetRefused(f"{exc} Nothing was changed.") from None
    return _key_set_deactivate(actor=actor, key_set_id=key_set_id, ip=ip)


@transaction.atomic
def _key_set_deactivate(*, actor: User, key_set_id: int, ip: str | None) -> ApiKeySet:
    ensure_admin(user=actor)
    key_set = key_set_lock(key_set_id=key_set_id)
    if key_set.status == KeySetStatus.INACTIVE:
        raise KeySetRefused("This key set is already inactive.")
    before = {"status": key_set.status}
    key_set.status = KeySetStatus.INACTIVE
    key_set.save(update_fields=["status", "updated_at"])
    staled = key_set_changed_send(key_set=key_set, actor=actor, reason="key set deactivated", ip=ip)
    audit_record(
        actor=actor,
        verb="keyset.deactivate",
        obj=key_set,
        before=before,
        after={"status": key_set.status, "stale_requests": staled},
        ip=ip,
    )
    return key_set
