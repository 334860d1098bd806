"""Second factors (django-otp TOTP and recovery codes, WebAuthn passkeys): who needs one, what a person
has enrolled, and enrolment. Checking a factor (login and step-up) lives in accounts/stepup.py."""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.access import user_is_admin
from accounts.audit import audit_record
from accounts.models import KeySetGrant, User, WebAuthnCredential

SESSION_KEY = "second_factor"  # the method that completed this session's login
RECOVERY_CODE_COUNT = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i


class EnrolmentRefused(ValueError):
    """The message is safe to show."""


@dataclass(frozen=True)
class SecondFactors:
    totp: bool
    passkeys: int
    recovery_codes_left: int

    @property
    def enrolled(self) -> bool:
        return self.totp or self.passkeys > 0


def second_factor_required(*, user: User) -> bool:
    """Anyone who can request, approve or administer; viewers only with MFA_REQUIRED_FOR_VIEWERS."""
    if not user.is_active:
        return False
    if settings.MFA_REQUIRED_FOR_VIEWERS or user.is_staff or user_is_admin(user=user):
        return True
    acting = Q(can_request=True) | Q(can_approve=True)
    return KeySetGrant.objects.filter(acting & (Q(user=user) | Q(group__in=user.groups.all()))).exists()


def second_factors_of(*, user: User) -> SecondFactors:
    return SecondFactors(
        totp=TOTPDevice.objects.filter(user=user, confirmed=True).exists(),
        passkeys=WebAuthnCredential.objects.filter(user=user).count(),
        recovery_codes_left=StaticToken.objects.filter(device__user=user, device__confirmed=True).count(),
    )


def totp_secret_base32(*, device: TOTPDevice) -> str:
    """The secret as authenticator apps and pyotp take it."""
    return base64.b32encode(bytes(device.bin_key)).decode("ascii")


def totp_enrol_start(*, user: User) -> TOTPDevice:
    """A fresh unconfirmed TOTP device (an earlier unconfirmed one is replaced); confirmed by a code."""
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        device: TOTPDevice = TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)
    return device


def totp_enrol_pending(*, user: User) -> TOTPDevice | None:
    device: TOTPDevice | None = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    return device


def totp_enrol_confirm(*, user: User, code: str, ip: str | None = None) -> TOTPDevice:
    """The first code from the app confirms the device; an earlier confirmed one is replaced."""
    device = totp_enrol_pending(user=user)
    if device is None:
        raise EnrolmentRefused("Start again: no authenticator app is waiting to be confirmed.")
    code = "".join(code.split())
    if not (code.isdigit() and len(code) == device.digits and device.verify_token(code)):
        raise EnrolmentRefused("That code does not match. Check the app's clock and type the current code.")
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user, confirmed=True).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        audit_record(actor=user, verb="auth.totp_enrolled", obj=user, ip=ip)
    return device


def recovery_codes_generate(*, user: User, ip: str | None = None) -> list[str]:
    """Ten new single-use recovery codes (the old ones stop working); shown once, stored as tokens."""
    codes = [
        "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(10)) for _ in range(RECOVERY_CODE_COUNT)
    ]
    with transaction.atomic():
        StaticDevice.objects.filter(user=user).delete()
        device = StaticDevice.objects.create(user=user, name="Recovery codes", confirmed=True)
        StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
        audit_record(actor=user, verb="auth.recovery_codes_generated", obj=user, ip=ip)
    return [f"{code[:5]}-{code[5:]}" for code in codes]


def recovery_code_normalise(code: str) -> str:
    return "".join(ch for ch in code.lower() if ch.isalnum())


def passkey_remove(*, user: User, credential_id: int, ip: str | None = None) -> None:
    with transaction.atomic():
        credential = WebAuthnCredential.objects.filter(user=user, pk=credential_id).first()
        if credential is None:
            raise EnrolmentRefused("No such passkey.")
        factors = second_factors_of(user=user)
        if factors.passkeys == 1 and not factors.totp and second_factor_required(user=user):
            raise EnrolmentRefused("This is your only second factor: add an authenticator app first.")
        name = credential.name
        credential.delete()
        audit_record(actor=user, verb="auth.passkey_removed", obj=user, after={"name": name}, ip=ip)
