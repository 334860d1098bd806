"""Second factors for tests: enrol a person with TOTP and produce valid step-up POST data (pyotp)."""

from __future__ import annotations

import pyotp
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import User
from accounts.second_factor import SESSION_KEY, totp_secret_base32
from accounts.stepup import CODE_FIELD


def mfa_enrol_totp_for_tests(user: User) -> str:
    """A confirmed TOTP device for `user` (kept if there is one); returns its base32 secret."""
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=True)
    return totp_secret_base32(device=device)


def totp_code(user: User) -> str:
    """The current code for `user` (enrolled on first use). A code works once per 30 s step: the
    device forgets the last step used, so tests can decide several times within one step."""
    secret = mfa_enrol_totp_for_tests(user)
    TOTPDevice.objects.filter(user=user, confirmed=True).update(last_t=-1, drift=0)
    return pyotp.TOTP(secret).now()


def stepup_data(user: User) -> dict[str, str]:
    """Valid POST fields for a step-up (templates/accounts/_stepup.html) by `user`."""
    return {CODE_FIELD: totp_code(user)}


def login_verified(client: Client, user: User) -> None:
    """force_login plus a completed second factor, as after the real two-step login."""
    client.force_login(user)
    session = client.session
    session[SESSION_KEY] = "totp"
    session.save()


def totp_approval_fields(
    *, request_id: int, approver: User, payload_sha256: str, decision: str = "approve"
) -> dict:
    """Approval columns as the desk writes them for a TOTP-confirmed decision (the seal included), for
    tests and benchmarks that create approved requests without going through the approval step."""
    from transfers.approval_proof import approval_seal

    seal = approval_seal(
        request_id=request_id,
        decision=decision,
        payload_sha256=payload_sha256,
        approver_id=approver.pk,
        method="totp",
        assertion={},
    )
    return {"stepup_method": "totp", "stepup_assertion": {}, "stepup_seal": seal}
