"""What binds an approval to the request it decides, and how the worker re-checks it (docs/security.md).

- The binding: "transfer-request:{id}\\ndecision:{approve|reject}\\npayload-sha256:{hex}". A passkey
  signs SHA-256("bingxadmin-stepup/1\\n" + "transfer.{decision}" + "\\n" + binding) as its challenge
  (accounts.stepup.stepup_challenge_bytes), so the stored assertion proves that authenticator approved
  exactly this payload.
- The seal: HMAC-SHA256 (Django's salted_hmac with DJANGO_SECRET_KEY, fallbacks accepted) over the
  binding, the approver's id, the method and the assertion. A row written straight into the database
  has no valid seal and does not count; a TOTP approval has nothing stronger than the seal.
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.utils.crypto import constant_time_compare, salted_hmac

from accounts.passkeys import PasskeyInvalid, passkey_assertion_check
from accounts.stepup import stepup_challenge_bytes
from transfers.models import Approval, StepUpMethod, TransferRequest
from transfers.payload import batch_leg_covered

SEAL_SALT = "bingxadmin.approval-seal/1"


def approval_purpose(*, decision: str) -> str:
    return f"transfer.{decision}"


def approval_binding(*, request_id: int, decision: str, payload_sha256: str) -> bytes:
    return f"transfer-request:{request_id}\ndecision:{decision}\npayload-sha256:{payload_sha256}".encode()


def batch_approval_binding(*, batch_id: int, decision: str, payload_sha256: str) -> bytes:
    """What one decision on a whole batch signs: the batch and the hash over every leg's payload."""
    return f"transfer-batch:{batch_id}\ndecision:{decision}\npayload-sha256:{payload_sha256}".encode()


def _passkey_binding(*, approval: Approval) -> bytes | None:
    """The binding the approval's passkey signed: its request's, or for a batch leg the batch's (after
    checking that the batch's hashed list still holds this leg's approved payload); None if it cannot."""
    req = approval.request
    if req.batch_id is None:
        return approval_binding(
            request_id=approval.request_id, decision=approval.decision, payload_sha256=approval.payload_sha256
        )
    batch = req.batch
    assert batch is not None
    if not batch_leg_covered(
        batch_payload=batch.payload,
        batch_sha256=batch.payload_sha256,
        leg_index=req.leg_index,
        leg_sha256=approval.payload_sha256,
    ):
        return None
    return batch_approval_binding(
        batch_id=batch.pk, decision=approval.decision, payload_sha256=batch.payload_sha256
    )


def _seal_message(
    *,
    request_id: int,
    decision: str,
    payload_sha256: str,
    approver_id: int,
    method: str,
    assertion: dict[str, Any],
) -> str:
    binding = approval_binding(request_id=request_id, decision=decision, payload_sha256=payload_sha256)
    assertion_hash = hashlib.sha256(json.dumps(assertion or {}, sort_keys=True).encode()).hexdigest()
    return f"{binding.decode()}\napprover:{approver_id}\nmethod:{method}\nassertion-sha256:{assertion_hash}"


def approval_seal(
    *,
    request_id: int,
    decision: str,
    payload_sha256: str,
    approver_id: int,
    method: str,
    assertion: dict[str, Any],
) -> str:
    message = _seal_message(
        request_id=request_id,
        decision=decision,
        payload_sha256=payload_sha256,
        approver_id=approver_id,
        method=method,
        assertion=assertion,
    )
    return salted_hmac(SEAL_SALT, message, algorithm="sha256").hexdigest()


def approval_seal_valid(*, approval: Approval) -> bool:
    if not approval.stepup_seal:
        return False
    message = _seal_message(
        request_id=approval.request_id,
        decision=approval.decision,
        payload_sha256=approval.payload_sha256,
        approver_id=approval.approver_id,
        method=approval.stepup_method,
        assertion=approval.stepup_assertion,
    )
    for secret in [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]:
        expected = salted_hmac(SEAL_SALT, message, secret=secret, algorithm="sha256").hexdigest()
        if constant_time_compare(expected, approval.stepup_seal):
            return True
    return False


def approval_proof_problem(*, approval: Approval) -> str | None:
    """Why this approval's second-factor proof does not hold, or None (re-verifies a passkey signature)."""
    if approval.stepup_method not in StepUpMethod.values:
        return "was not confirmed with a second factor"
    if not approval_seal_valid(approval=approval):
        return "carries no valid seal of the desk (it was not recorded through the approval step)"
    if approval.stepup_method == StepUpMethod.WEBAUTHN:
        binding = _passkey_binding(approval=approval)
        if binding is None:
            return "was signed for a batch that no longer holds this leg's payload"
        challenge = stepup_challenge_bytes(
            user=approval.approver, purpose=approval_purpose(decision=approval.decision), binding=binding
        )
        try:
            passkey_assertion_check(
                user=approval.approver, stored=approval.stepup_assertion, challenge=challenge, recheck=True
            )
        except PasskeyInvalid as exc:
            return f"has a passkey signature that does not verify ({exc})"
    return None


def passkey_threshold(*, req: TransferRequest) -> Decimal | None:
    """The amount above which the request's policy rule counts only passkey-signed approvals."""
    rule = req.policy_rule
    return rule.passkey_required_above if rule is not None else None


def passkey_required(*, req: TransferRequest) -> bool:
    threshold = passkey_threshold(req=req)
    return threshold is not None and req.amount > threshold
