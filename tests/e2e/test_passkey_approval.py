"""A passkey in a real browser: bob enrols one with Chromium's virtual authenticator (CDP WebAuthn), approves
a transfer with it (the challenge derived from request id, decision and payload hash), and the execution
service re-verifies the stored signature against his public key before it sends to the sandbox exchange.
The policy rule counts only passkey-signed approvals above 0 USDT, so the TOTP path is not offered."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from accounts.models import AccountKind, ApiKeySet, WebAuthnCredential
from bingx import Client
from bingx.sandbox import SandboxServer
from tests.factories import ApiKeySetFactory, KeySetGrantFactory
from tests.transfers.workflow_support import MAIN_UID, PASSWORD, member
from transfers.approval_proof import approval_proof_problem
from transfers.execution.execute import transfer_execute
from transfers.models import PolicyRule, Status, TransferKind, TransferRequest
from transfers.services.requests import transfer_request_create

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SEED_PATH = Path(__file__).resolve().parents[2] / "bingx" / "sandbox" / "seeds" / "demo.json"


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    server = SandboxServer(seed=SEED_PATH, port=0)
    server.start()
    Client.reset_time_offsets()
    try:
        yield server
    finally:
        server.stop()
        Client.reset_time_offsets()


@pytest.fixture
def key_set(sandbox: SandboxServer, settings: Any, tmp_path: Path) -> ApiKeySet:
    settings.RATE_LIMIT_URL = ""
    settings.VAR_DIR = tmp_path
    seed = json.loads(SEED_PATH.read_text())
    account = next(a for a in seed["accounts"] if a["uid"] == MAIN_UID)
    return ApiKeySetFactory(
        label="Demo main",
        base_url=sandbox.base_url,
        uid=MAIN_UID,
        account_kind=AccountKind.MAIN,
        permissions=[1, 2, 4, 5],
        api_key=account["api_keys"][0]["api_key"],
        secret=account["api_keys"][0]["secret"],
    )


def test_bob_enrols_a_passkey_approves_with_it_and_execution_verifies_the_signature(
    chromium_path: str, browser: Browser, live_server: Any, key_set: ApiKeySet, monkeypatch: Any
) -> None:
    from transfers import dispatch

    enqueued: list[int] = []
    monkeypatch.setattr(
        dispatch, "transfer_execute_enqueue", lambda *, request_id, **_: enqueued.append(request_id)
    )
    alice = member("alice", "requester")
    bob = member("bob", "approver")
    KeySetGrantFactory(key_set=key_set, user=alice, can_view=True, can_request=True)
    KeySetGrantFactory(key_set=key_set, user=bob, can_view=True, can_approve=True)
    PolicyRule.objects.create(
        position=1, name="passkeys", required_approvals=1, passkey_required_above=Decimal(0)
    )
    assert live_server.url.startswith("http://localhost:")  # the RP id is "localhost", never an IP

    context = browser.new_context(base_url=live_server.url)
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
            }
        },
    )
    # First login: the password, then enrolment (bob has no second factor yet): he adds a passkey.
    page.goto("/login/")
    page.fill("input[name=username]", "bob")
    page.fill("input[name=password]", PASSWORD)
    page.click("main button[type=submit]")
    expect(page).to_have_url(f"{live_server.url}/account/second-factor/setup/?next=%2F")
    page.fill("#id_passkey_name", "virtual key")
    page.click("button.passkey-register")
    expect(page.locator("ul.recovery-codes li")).to_have_count(10)
    page.click("text=I have kept them")
    expect(page.locator("header .who")).to_have_text("bob")
    credential = WebAuthnCredential.objects.get(user=bob)
    assert credential.name == "virtual key"

    req = transfer_request_create(
        requester=alice,
        key_set_id=key_set.pk,
        kind=TransferKind.WALLET,
        asset="USDT",
        amount=Decimal("4.25"),
        fields={"from_wallet": "fund", "to_wallet": "spot"},
    )
    page.goto(f"/transfers/{req.pk}/")
    expect(page.locator("#passkey-required")).to_be_visible()
    expect(page.locator("#approve")).to_have_count(0)  # no code path above the rule's threshold
    page.fill("#id_comment", "signed")
    page.click("#approve-passkey")
    expect(page.locator("#status-badge")).to_have_text("Approved, waiting for execution")
    expect(page.locator("#decisions .second-factor.webauthn")).to_have_text("passkey-signed")

    approval = TransferRequest.objects.get(pk=req.pk).approvals.get()
    assert approval.stepup_method == "webauthn"
    assert set(approval.stepup_assertion) >= {
        "credential_id",
        "authenticator_data",
        "client_data_json",
        "signature",
    }
    assert approval.stepup_assertion["credential_id"] == credential.credential_id
    assert approval_proof_problem(approval=approval) is None
    assert enqueued == [req.pk]

    # What the worker runs: re-verify every counted approval's signature, then send.
    transfer_execute(request_id=req.pk)
    req.refresh_from_db()
    assert req.status == Status.SUCCEEDED, req.failure_message
    context.close()
