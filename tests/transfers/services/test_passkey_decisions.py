"""A passkey signs one decision: the challenge is derived from the request id, the decision and the
payload hash, so an assertion for one cannot approve another request, reject this one, or survive a
change of the payload; the worker re-verifies the stored signature before anything is sent."""

from __future__ import annotations

import json

import pytest

from accounts.models import User
from accounts.stepup import ASSERTION_FIELD, stepup_challenge_bytes
from tests.passkey_support import SoftPasskey
from tests.transfers.workflow_support import new_request
from transfers.approval_proof import approval_binding, approval_purpose
from transfers.execution.checks import approval_second_factor_holds
from transfers.models import Approval, Status, StepUpMethod, TransferRequest
from transfers.refusals import DecisionRefused
from transfers.services.decisions import transfer_request_approve, transfer_request_reject

pytestmark = pytest.mark.django_db


def signed(passkey: SoftPasskey, req: TransferRequest, decision: str) -> dict[str, str]:
    """POST data: the passkey's answer to the challenge of `decision` on `req` as it stands."""
    challenge = stepup_challenge_bytes(
        user=passkey.user,
        purpose=approval_purpose(decision=decision),
        binding=approval_binding(request_id=req.pk, decision=decision, payload_sha256=req.payload_sha256),
    )
    return {ASSERTION_FIELD: passkey.assertion_json(challenge=challenge)}


def test_a_passkey_approval_is_stored_and_its_signature_holds_in_the_worker(
    pending: TransferRequest, bob: User, executed: list[int]
) -> None:
    passkey = SoftPasskey(user=bob)
    transfer_request_approve(request_id=pending.pk, approver=bob, stepup=signed(passkey, pending, "approve"))

    pending.refresh_from_db()
    assert pending.status == Status.APPROVED
    approval = Approval.objects.get(request=pending)
    assert approval.stepup_method == StepUpMethod.WEBAUTHN
    assert approval.stepup_assertion["credential_id"] == passkey.credential_id
    assert approval_second_factor_holds(req=pending, approval=approval) is None
    # Someone who can write the database swaps in another signature: the worker no longer counts it.
    forged = json.loads(passkey.assertion_json(challenge=b"\x00" * 32))["response"]["signature"]
    tampered = Approval.objects.get(pk=approval.pk)
    tampered.stepup_assertion = {**approval.stepup_assertion, "signature": forged}
    assert approval_second_factor_holds(req=pending, approval=tampered) is not None


def test_a_signature_for_one_request_does_not_approve_another(
    pending: TransferRequest, alice: User, bob: User, executed: list[int]
) -> None:
    passkey = SoftPasskey(user=bob)
    other = new_request(requester=alice, key_set=pending.key_set)
    for_pending = signed(passkey, pending, "approve")

    with pytest.raises(DecisionRefused, match="signed a different decision"):
        transfer_request_approve(request_id=other.pk, approver=bob, stepup=for_pending)
    with pytest.raises(DecisionRefused, match="signed a different decision"):
        transfer_request_reject(request_id=pending.pk, approver=bob, stepup=for_pending, comment="no")

    assert not Approval.objects.exists()
    other.refresh_from_db()
    pending.refresh_from_db()
    assert (other.status, pending.status) == (Status.PENDING, Status.PENDING)
    assert executed == []


def test_a_passkey_touch_without_user_verification_does_not_decide(
    pending: TransferRequest, bob: User, executed: list[int]
) -> None:
    passkey = SoftPasskey(user=bob, user_verified=False)  # presence only: no PIN, no biometrics
    with pytest.raises(DecisionRefused, match="does not verify"):
        transfer_request_approve(
            request_id=pending.pk, approver=bob, stepup=signed(passkey, pending, "approve")
        )
    assert not Approval.objects.exists()
