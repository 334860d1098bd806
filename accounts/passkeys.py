"""WebAuthn passkeys and security keys through py_webauthn: registration, and assertions checked against
a challenge the caller derives (accounts/stepup.py), so the worker can re-check a stored one later."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from webauthn import (
    base64url_to_bytes,
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from accounts.audit import audit_record
from accounts.models import User, WebAuthnCredential

ASSERTION_FIELDS = ("credential_id", "authenticator_data", "client_data_json", "signature")


class PasskeyInvalid(ValueError):
    """An assertion or registration that does not verify; the message is safe to show."""


@dataclass(frozen=True)
class PasskeyAssertion:
    credential: WebAuthnCredential
    new_sign_count: int
    stored: dict[str, str]  # ASSERTION_FIELDS (+ user_handle), base64url, as kept with an approval


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _origin_of(client_data_b64: str) -> str:
    try:
        client_data = json.loads(base64url_to_bytes(client_data_b64))
        origin = str(client_data["origin"])
    except (ValueError, KeyError, TypeError) as exc:
        raise PasskeyInvalid("The passkey answer is malformed.") from exc
    return origin


def origin_allowed(origin: str) -> bool:
    """WEBAUTHN_ORIGINS when set; otherwise any http(s) origin on the RP id's host (any port)."""
    if settings.WEBAUTHN_ORIGINS:
        return origin in settings.WEBAUTHN_ORIGINS
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and parts.hostname == settings.WEBAUTHN_RP_ID


def _expected_origin(client_data_b64: str) -> str:
    origin = _origin_of(client_data_b64)
    if not origin_allowed(origin):
        raise PasskeyInvalid(f"The passkey was used on {origin}, which is not this desk's address.")
    return origin


def passkey_registration_options(*, user: User, challenge: bytes) -> str:
    options = generate_registration_options(
        rp_id=settings.WEBAUTHN_RP_ID,
        rp_name=settings.WEBAUTHN_RP_NAME,
        user_name=user.get_username(),
        user_id=f"bingxadmin-user-{user.pk}".encode(),
        user_display_name=user.get_full_name() or user.get_username(),
        challenge=challenge,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=[
            PublicKeyCredentialDescriptor(id=base64url_to_bytes(c.credential_id)) for c in user.passkeys.all()
        ],
    )
    return options_to_json(options)


def passkey_register(
    *, user: User, name: str, response_json: str, challenge: bytes, ip: str | None = None
) -> WebAuthnCredential:
    """Verify navigator.credentials.create()'s answer and store the credential's public key."""
    try:
        data = json.loads(response_json)
        origin = _expected_origin(str(data["response"]["clientDataJSON"]))
        verified = verify_registration_response(
            credential=data,
            expected_challenge=challenge,
            expected_rp_id=settings.WEBAUTHN_RP_ID,
            expected_origin=origin,
            require_user_verification=True,
        )
    except PasskeyInvalid:
        raise
    except (ValueError, KeyError, TypeError, WebAuthnException) as exc:
        raise PasskeyInvalid(f"The passkey could not be registered: {exc}") from exc
    credential_id = b64url(verified.credential_id)
    if WebAuthnCredential.objects.filter(credential_id=credential_id).exists():
        raise PasskeyInvalid("This passkey is already registered.")
    transports = data.get("response", {}).get("transports") or []
    with transaction.atomic():
        credential = WebAuthnCredential.objects.create(
            user=user,
            name=(name or "Passkey").strip()[:64] or "Passkey",
            credential_id=credential_id,
            public_key=verified.credential_public_key,
            sign_count=verified.sign_count,
            transports=[str(t) for t in transports][:8],
        )
        audit_record(actor=user, verb="auth.passkey_added", obj=user, after={"name": credential.name}, ip=ip)
    return credential


def passkey_request_options(*, user: User, challenge: bytes) -> dict[str, Any]:
    options = generate_authentication_options(
        rp_id=settings.WEBAUTHN_RP_ID,
        challenge=challenge,
        allow_credentials=[
            PublicKeyCredentialDescriptor(id=base64url_to_bytes(c.credential_id)) for c in user.passkeys.all()
        ],
        # Required: a decision that moves money needs the person (PIN, biometrics), not only a touch.
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    parsed: dict[str, Any] = json.loads(options_to_json(options))
    return parsed


def passkey_assertion_fields(*, response_json: str) -> dict[str, str]:
    """navigator.credentials.get()'s JSON → the stored form (base64url fields, no nesting)."""
    try:
        data = json.loads(response_json)
        response = data["response"]
        stored = {
            "credential_id": str(data["rawId"]),
            "authenticator_data": str(response["authenticatorData"]),
            "client_data_json": str(response["clientDataJSON"]),
            "signature": str(response["signature"]),
        }
        if response.get("userHandle"):
            stored["user_handle"] = str(response["userHandle"])
    except (ValueError, KeyError, TypeError) as exc:
        raise PasskeyInvalid("The passkey answer is malformed.") from exc
    return stored


def passkey_assertion_check(
    *, user: User, stored: dict[str, str], challenge: bytes, recheck: bool = False
) -> PasskeyAssertion:
    """Verify a stored assertion: the credential is one of `user`'s, the signature over authenticator
    data + client data is valid for its public key, the challenge is `challenge` and the RP id ours.
    `recheck` verifies an assertion already accepted once (the worker): the counter is not compared."""
    if not isinstance(stored, dict) or any(not stored.get(f) for f in ASSERTION_FIELDS):
        raise PasskeyInvalid("No passkey signature.")
    credential = WebAuthnCredential.objects.filter(user=user, credential_id=stored["credential_id"]).first()
    if credential is None:
        raise PasskeyInvalid("The passkey is not one registered to this person.")
    credential_json = {
        "id": stored["credential_id"],
        "rawId": stored["credential_id"],
        "type": "public-key",
        "response": {
            "authenticatorData": stored["authenticator_data"],
            "clientDataJSON": stored["client_data_json"],
            "signature": stored["signature"],
            **({"userHandle": stored["user_handle"]} if stored.get("user_handle") else {}),
        },
    }
    try:
        verified = verify_authentication_response(
            credential=credential_json,
            expected_challenge=challenge,
            expected_rp_id=settings.WEBAUTHN_RP_ID,
            expected_origin=_expected_origin(stored["client_data_json"]),
            credential_public_key=bytes(credential.public_key),
            credential_current_sign_count=0 if recheck else credential.sign_count,
            require_user_verification=True,
        )
    except PasskeyInvalid:
        raise
    except (ValueError, KeyError, TypeError, WebAuthnException) as exc:
        if "challenge" in str(exc).lower():
            raise PasskeyInvalid(
                "The passkey signed a different decision (another request, decision or amount); "
                "sign this one."
            ) from exc
        raise PasskeyInvalid(f"The passkey signature does not verify: {exc}") from exc
    return PasskeyAssertion(credential=credential, new_sign_count=verified.new_sign_count, stored=stored)


def passkey_used(*, assertion: PasskeyAssertion) -> None:
    with transaction.atomic():
        WebAuthnCredential.objects.filter(pk=assertion.credential.pk).update(
            sign_count=assertion.new_sign_count, last_used_at=timezone.now()
        )
