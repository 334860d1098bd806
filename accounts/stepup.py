"""The second-factor check behind login and every decision (step-up): TOTP, a recovery code or a
passkey assertion whose challenge is derived from what is being decided (docs/security.md).

Call stepup_verify *outside* the decision's transaction: a failure is committed (throttle count and
audit event) before StepUpRefused is raised, and the per-person throttle row is locked only while
one factor is checked, so parallel wrong codes are checked one at a time and the limit holds exactly.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.audit import audit_record
from accounts.models import StepUpThrottle, User
from accounts.passkeys import (
    PasskeyAssertion,
    PasskeyInvalid,
    passkey_assertion_check,
    passkey_assertion_fields,
    passkey_request_options,
    passkey_used,
)
from accounts.second_factor import recovery_code_normalise, second_factors_of

CODE_FIELD = "stepup_code"  # a TOTP code or a recovery code
ASSERTION_FIELD = "stepup_assertion"  # navigator.credentials.get()'s answer as JSON (static/js/stepup.js)
FAILED_VERB = "auth.step_up_failed"
CHALLENGE_PREFIX = b"bingxadmin-stepup/1\n"
UNBOUND_SLOT_SECONDS = 300  # an unbound challenge (login) is valid for this slot and the one before


class StepUpRefused(Exception):
    """.code: "missing" | "wrong" | "locked" | "not_enrolled"; the message is safe to show."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class StepUpProof:
    """What to store with a decision."""

    method: str  # "totp" | "webauthn" | "recovery"
    detail: dict[str, Any] = field(default_factory=dict)  # webauthn: the assertion fields (base64url)


def stepup_challenge_bytes(
    *, user: User, purpose: str, binding: bytes | None, slot: int | None = None
) -> bytes:
    """Bound: SHA-256("bingxadmin-stepup/1\\n" + purpose + "\\n" + binding) — anyone holding the
    decision can recompute it (the worker does). Unbound: an HMAC of purpose, person and a 5-minute slot."""
    if binding is not None:
        return hashlib.sha256(CHALLENGE_PREFIX + purpose.encode() + b"\n" + binding).digest()
    slot = int(time.time() // UNBOUND_SLOT_SECONDS) if slot is None else slot
    return salted_hmac(
        "bingxadmin.stepup-challenge/1", f"{purpose}\n{user.pk}\n{slot}", algorithm="sha256"
    ).digest()


def _challenges(*, user: User, purpose: str, binding: bytes | None) -> list[bytes]:
    if binding is not None:
        return [stepup_challenge_bytes(user=user, purpose=purpose, binding=binding)]
    now = int(time.time() // UNBOUND_SLOT_SECONDS)
    return [stepup_challenge_bytes(user=user, purpose=purpose, binding=None, slot=s) for s in (now, now - 1)]


def stepup_binding(*, subject: str, object_id: int, decision: str) -> bytes:
    """What a decision's passkey challenge is derived from, e.g. b"policy-change:7\ndecision:approve"."""
    return f"{subject}:{object_id}\ndecision:{decision}".encode()


def stepup_challenge(*, user: User, purpose: str, binding: bytes | None = None) -> dict[str, Any]:
    """PublicKeyCredentialRequestOptions (JSON-ready) for the include's passkey button; allowCredentials
    empty when the person has no passkey (the include then shows the code field only)."""
    challenge = _challenges(user=user, purpose=purpose, binding=binding)[0]
    return passkey_request_options(user=user, challenge=challenge)


def _check_passkey(*, user: User, response_json: str, purpose: str, binding: bytes | None) -> StepUpProof:
    try:
        stored = passkey_assertion_fields(response_json=response_json)
    except PasskeyInvalid as exc:
        raise StepUpRefused(str(exc), code="wrong") from None
    assertion: PasskeyAssertion | None = None
    problem = "The passkey signature does not match this decision."
    for challenge in _challenges(user=user, purpose=purpose, binding=binding):
        try:
            assertion = passkey_assertion_check(user=user, stored=stored, challenge=challenge)
            break
        except PasskeyInvalid as exc:
            problem = str(exc)
    if assertion is None:
        raise StepUpRefused(problem, code="wrong")
    passkey_used(assertion=assertion)
    return StepUpProof(method="webauthn", detail=dict(assertion.stored))


def _check_code(*, user: User, code: str) -> StepUpProof:
    compact = "".join(code.split())
    if compact.isdigit() and len(compact) <= 8:
        totp = TOTPDevice.objects.filter(user=user, confirmed=True).first()
        if totp is not None and totp.verify_token(compact):
            return StepUpProof(method="totp")
        raise StepUpRefused(
            "That code does not match (a code works once; wait for the next one).", code="wrong"
        )
    recovery = StaticDevice.objects.filter(user=user, confirmed=True).first()
    if recovery is not None and recovery.verify_token(recovery_code_normalise(compact)):
        return StepUpProof(method="recovery")
    raise StepUpRefused("That recovery code does not match, or was used before.", code="wrong")


def _limit() -> tuple[int, timedelta]:
    return settings.STEP_UP_FAILURE_LIMIT, timedelta(minutes=settings.STEP_UP_LOCK_MINUTES)


def stepup_verify(
    *,
    user: User,
    data: Mapping[str, str],
    purpose: str,
    binding: bytes | None = None,
    ip: str | None = None,
) -> StepUpProof:
    """Check the second factor in `data` (request.POST: stepup_code or stepup_assertion).

    Refusals raise StepUpRefused; each wrong or locked attempt is committed as an audit event
    (auth.step_up_failed) and counted on the person's throttle row before the exception leaves.
    """
    code = (data.get(CODE_FIELD) or "").strip()
    response_json = (data.get(ASSERTION_FIELD) or "").strip()
    if not code and not response_json:
        raise StepUpRefused(
            "Confirm with a code from your authenticator app, a recovery code or your passkey.",
            code="missing",
        )
    if not second_factors_of(user=user).enrolled:
        raise StepUpRefused("Set up a second factor first (your account page).", code="not_enrolled")
    limit, lock = _limit()
    StepUpThrottle.objects.get_or_create(user=user)
    refusal: StepUpRefused | None = None
    proof: StepUpProof | None = None
    with transaction.atomic():
        throttle = StepUpThrottle.objects.select_for_update().get(user=user)
        now = timezone.now()
        if throttle.locked_until is not None and throttle.locked_until > now:
            minutes = max(1, int((throttle.locked_until - now).total_seconds() // 60) + 1)
            refusal = StepUpRefused(
                f"Too many wrong second factors: locked for about {minutes} more minute(s). "
                "Nothing was changed.",
                code="locked",
            )
        else:
            try:
                if response_json:
                    proof = _check_passkey(
                        user=user, response_json=response_json, purpose=purpose, binding=binding
                    )
                else:
                    proof = _check_code(user=user, code=code)
            except StepUpRefused as exc:
                refusal = exc
                if throttle.window_started_at is None or throttle.window_started_at <= now - lock:
                    throttle.failures, throttle.window_started_at = 0, now
                throttle.failures += 1
                if throttle.failures >= limit:
                    throttle.locked_until = now + lock
            else:
                throttle.failures, throttle.window_started_at, throttle.locked_until = 0, None, None
        throttle.save()
        if refusal is not None:
            after = {"purpose": purpose, "reason": refusal.code, "failures": throttle.failures}
            audit_record(actor=user, verb=FAILED_VERB, obj=user, after=after, ip=ip)
    if refusal is not None:
        raise refusal
    assert proof is not None
    return proof
