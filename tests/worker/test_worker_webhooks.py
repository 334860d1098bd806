"""Webhooks end to end through a real Celery worker: the example script of docs/api.md requests a
transfer over HTTP, a person approves it, the worker executes it on the sandbox exchange, and the
script hears the outcome from the signed webhook; a receiver answering 500 gets the retry."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from accounts.models import User
from api.services.webhooks import webhook_endpoint_approve, webhook_endpoint_request
from api.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, signature_verify
from tests.api.conftest import token_for
from tests.api.receiver_support import webhook_receiver
from tests.stepup_support import stepup_data
from tests.transfers.execution_support import MAIN_UID, Sandbox, make_key_set, wait_for
from tests.transfers.workflow_support import grant, member
from transfers.models import Status, TransferRequest
from transfers.services.decisions import transfer_request_approve

pytestmark = [pytest.mark.worker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "docs" / "examples" / "request_and_wait.py"
EVENTS = ["request.created", "request.approved", "request.succeeded", "request.failed"]


@pytest.fixture
def webhook_env(monkeypatch: pytest.MonkeyPatch, settings: Any) -> None:
    """Workers started after this inherit it: plain-http receivers and quick retries."""
    monkeypatch.setenv("WEBHOOK_ALLOW_HTTP", "true")
    monkeypatch.setenv("WEBHOOK_RETRY_BASE_SECONDS", "0.5")
    settings.WEBHOOK_ALLOW_HTTP = True


def endpoint(url: str) -> str:
    admin1 = member("admin1", "administrator", is_staff=True)
    admin2 = member("admin2", "administrator", is_staff=True)
    created, secret = webhook_endpoint_request(actor=admin1, url=url, event_types=EVENTS)
    webhook_endpoint_approve(actor=admin2, endpoint_id=created.pk, stepup=stepup_data(admin2))
    return secret


def people(key_set: Any) -> tuple[User, User]:
    key_set.permissions = [1, 2, 4, 5]  # as verification would read them from the sandbox
    key_set.save(update_fields=["permissions"])
    alice, bob = member("alice", "requester"), member("bob", "approver")
    grant(key_set, alice, request=True)
    grant(key_set, bob, approve=True)
    return alice, bob


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_example_script_requests_and_hears_the_outcome(
    start_worker: Any, sandbox: Sandbox, live_server: Any, webhook_env: None
) -> None:
    start_worker()
    key_set = make_key_set(sandbox=sandbox, uid=MAIN_UID, label="demo main")
    alice, bob = people(key_set)
    port = free_port()
    secret = endpoint(f"http://127.0.0.1:{port}/")
    _, raw = token_for(alice)
    script = subprocess.Popen(
        [
            sys.executable, str(SCRIPT), "--base-url", live_server.url, "--listen", f"127.0.0.1:{port}",
            "--key-set-id", str(key_set.pk), "--kind", "wallet", "--asset", "USDT", "--amount", "5",
            "--fields", json.dumps({"from_wallet": "fund", "to_wallet": "spot"}), "--timeout", "120",
        ],
        env={"BINGXADMIN_TOKEN": raw, "BINGXADMIN_WEBHOOK_SECRET": secret, "PATH": "/usr/bin:/bin"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    try:
        req = wait_for(
            lambda: TransferRequest.objects.filter(requested_by=alice).first() or script.poll() is not None,
            what="the request",
        )
        assert isinstance(req, TransferRequest), script.communicate()[0]
        assert req.status == Status.PENDING  # nothing moves before a person decides
        transfer_request_approve(request_id=req.pk, approver=bob, stepup=stepup_data(bob))
        output, _ = script.communicate(timeout=150)
    finally:
        if script.poll() is None:
            script.kill()
    assert script.returncode == 0, output
    lines = output.splitlines()
    assert lines[0] == f"request {req.pk} pending: waiting for people to approve it"
    assert "request.succeeded: succeeded" in lines
    req.refresh_from_db()
    assert req.status == Status.SUCCEEDED
    assert len(sandbox.applied("/openApi/api/asset/v1/transfer")) == 1


def test_worker_retries_a_500_and_the_signature_verifies(
    start_worker: Any, sandbox: Sandbox, webhook_env: None
) -> None:
    from tests.transfers.workflow_support import new_request

    start_worker()
    key_set = make_key_set(sandbox=sandbox, uid=MAIN_UID, label="demo main")
    alice, _ = people(key_set)
    with webhook_receiver() as receiver:
        receiver.statuses = [500]
        secret = endpoint(receiver.url)
        new_request(
            requester=alice,
            key_set=key_set,
            kind="wallet",
            fields={"from_wallet": "fund", "to_wallet": "spot"},
        )
        first, second = receiver.wait_for(2, timeout=60)
    assert first.body == second.body
    for got in (first, second):
        assert signature_verify(
            secret=secret,
            timestamp=got.headers[TIMESTAMP_HEADER],
            signature=got.headers[SIGNATURE_HEADER],
            body=got.body,
        )
    assert json.loads(second.body)["type"] == "request.created"
