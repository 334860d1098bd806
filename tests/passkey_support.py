"""A software passkey for server-side tests: an ES256 key registered as the person's WebAuthn
credential, signing assertions exactly as an authenticator does (authenticator data + SHA-256 of the
client data). The browser path with Chromium's virtual authenticator is tests/e2e/test_passkey_approval.py."""

from __future__ import annotations

import hashlib
import json
import struct
import uuid

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings

from accounts.models import User, WebAuthnCredential
from accounts.passkeys import b64url

ORIGIN = "http://localhost:8000"


class SoftPasskey:
    def __init__(self, *, user: User, user_verified: bool = True) -> None:
        self.user = user
        self.flags = 0x05 if user_verified else 0x01  # UP (+ UV)
        self._key = ec.generate_private_key(ec.SECP256R1())
        numbers = self._key.public_key().public_numbers()
        cose = {1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")}
        self.credential_id = b64url(uuid.uuid4().bytes)
        self._count = 0
        WebAuthnCredential.objects.create(
            user=user, name="soft", credential_id=self.credential_id, public_key=cbor2.dumps(cose)
        )

    def assertion_json(self, *, challenge: bytes, origin: str = ORIGIN) -> str:
        """navigator.credentials.get()'s JSON answer for `challenge`."""
        self._count += 1
        rp_hash = hashlib.sha256(settings.WEBAUTHN_RP_ID.encode()).digest()
        authenticator_data = rp_hash + bytes([self.flags]) + struct.pack(">I", self._count)
        client_data = json.dumps(
            {"type": "webauthn.get", "challenge": b64url(challenge), "origin": origin, "crossOrigin": False}
        ).encode()
        signature = self._key.sign(
            authenticator_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256())
        )
        return json.dumps(
            {
                "id": self.credential_id,
                "rawId": self.credential_id,
                "type": "public-key",
                "response": {
                    "authenticatorData": b64url(authenticator_data),
                    "clientDataJSON": b64url(client_data),
                    "signature": b64url(signature),
                },
            }
        )
