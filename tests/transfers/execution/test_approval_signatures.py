"""Before sending, the worker re-checks every counted approval's second-factor proof: the desk's seal,
and a passkey approval's signature (transfers.approval_proof). A row written straight into the database
does not count: the request ends FAILED with that reason and nothing reaches the exchange."""

from __future__ import annotations

from decimal import Decimal

import pytest

from accounts.models import AuditEvent
from tests.transfers.execution_support import APPLY_PATHS, INNER_APPLY, Sandbox, approved_request
from transfers.models import Approval, PolicyRule, Status, TransferRequest

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("limiter_dir")]


def assert_failed_and_nothing_sent(sandbox: Sandbox, req: TransferRequest, *, reason: str) -> None:
    assert req.status == Status.FAILED
    assert reason in req.failure_message
    assert "nothing was sent" in req.failure_message.lower()
    assert all(sandbox.calls(path) == [] for path in APPLY_PATHS)
    assert AuditEvent.objects.filter(verb="transfer.execute.refused", object_id=str(req.pk)).exists()


def test_a_sealed_totp_approval_counts_and_the_transfer_is_sent(sandbox: Sandbox, main_key_set, execute):
    req = execute(approved_request(key_set=main_key_set, amount="2"))
    assert req.status == Status.SUCCEEDED
    assert len(sandbox.applied(INNER_APPLY)) == 1


def test_an_approval_row_inserted_directly_into_the_database_does_not_count(
    sandbox: Sandbox, main_key_set, execute
):
    req = approved_request(key_set=main_key_set, amount="2")
    # What someone with database access but not the desk's secret key can write: no valid seal.
    Approval.objects.filter(request=req).update(stepup_method="totp", stepup_seal="0" * 64)
    req = execute(req)
    assert_failed_and_nothing_sent(sandbox, req, reason="carries no valid seal")


def test_an_approval_without_any_second_factor_does_not_count(sandbox: Sandbox, main_key_set, execute):
    req = approved_request(key_set=main_key_set, amount="2")
    Approval.objects.filter(request=req).update(stepup_method="", stepup_seal="")
    req = execute(req)
    assert_failed_and_nothing_sent(sandbox, req, reason="was not confirmed with a second factor")


def test_relabelling_a_totp_approval_as_passkey_breaks_its_seal(sandbox: Sandbox, main_key_set, execute):
    req = approved_request(key_set=main_key_set, amount="2")
    Approval.objects.filter(request=req).update(stepup_method="webauthn")
    req = execute(req)
    assert_failed_and_nothing_sent(sandbox, req, reason="carries no valid seal")


def test_a_passkey_approval_whose_signature_does_not_verify_does_not_count(
    sandbox: Sandbox, main_key_set, execute
):
    from transfers.approval_proof import approval_seal

    req = approved_request(key_set=main_key_set, amount="2")
    approval = req.approvals.get()
    forged = {
        "credential_id": "AAAA",
        "authenticator_data": "AAAA",
        "client_data_json": "AAAA",
        "signature": "AAAA",
    }
    # Even sealed (someone holding the secret key), a passkey assertion must verify against the key.
    seal = approval_seal(
        request_id=req.pk,
        decision="approve",
        payload_sha256=req.payload_sha256,
        approver_id=approval.approver_id,
        method="webauthn",
        assertion=forged,
    )
    Approval.objects.filter(pk=approval.pk).update(
        stepup_method="webauthn", stepup_assertion=forged, stepup_seal=seal
    )
    req = execute(req)
    assert_failed_and_nothing_sent(sandbox, req, reason="passkey signature that does not verify")


def test_above_the_rules_threshold_a_totp_approval_does_not_count(sandbox: Sandbox, main_key_set, execute):
    rule = PolicyRule.objects.create(
        position=1, name="passkeys above 1", required_approvals=1, passkey_required_above=Decimal(1)
    )
    req = approved_request(key_set=main_key_set, amount="2")
    TransferRequest.objects.filter(pk=req.pk).update(policy_rule=rule)
    req = execute(req)
    assert_failed_and_nothing_sent(sandbox, req, reason="only passkey-signed approvals count")
