"""Helpers for the execution, reconciliation and sweeper tests (service level and with real workers):
the sandbox exchange over HTTP, demo key sets, approved requests and journal checks. The fixtures
built on them are in tests/conftest.py."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import requests
from django.utils import timezone

from accounts.models import AccountKind, ApiKeySet, KeySetStatus, SubAccount
from bingx import endpoints
from bingx.sandbox import SandboxServer
from tests.factories import ApiKeySetFactory, KeySetGrantFactory, UserFactory
from tests.stepup_support import totp_approval_fields
from transfers.models import Approval, Decision, Status, TransferKind, TransferRequest
from transfers.payload import payload_build, payload_sha256
from transfers.policy import policy_version_current

SEED_PATH = Path(__file__).resolve().parents[2] / "bingx" / "sandbox" / "seeds" / "demo.json"
SEED: dict[str, Any] = json.loads(SEED_PATH.read_text())
MAIN_UID, SUB1_UID, SUB2_UID, EXTERNAL_UID = 10000001, 10000002, 10000003, 10000009

INNER_APPLY = endpoints.INNER_TRANSFER_APPLY.path
WALLET_TRANSFER = endpoints.ASSET_TRANSFER.path
SUB_INNER_APPLY = endpoints.SUB_INNER_TRANSFER_APPLY.path
FAMILY_TRANSFER = endpoints.SUB_TRANSFER_ASSET.path
APPLY_PATHS = (INNER_APPLY, WALLET_TRANSFER, SUB_INNER_APPLY, FAMILY_TRANSFER)


def demo_key(uid: int) -> tuple[str, str]:
    account = next(a for a in SEED["accounts"] if a["uid"] == uid)
    key = account["api_keys"][0]
    return key["api_key"], key["secret"]


class Sandbox:
    """The in-process sandbox plus its HTTP control API."""

    def __init__(self, server: SandboxServer) -> None:
        self.server = server
        self.base_url = server.base_url

    def control(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        resp = requests.request(method, f"{self.base_url}/_sandbox/{path}", json=body, timeout=10)
        resp.raise_for_status()
        return resp.json()

    def fault(self, path: str, mode: str, **extra: Any) -> None:
        self.control("POST", "faults", {"path": path, "mode": mode, **extra})

    def journal(self) -> list[dict[str, Any]]:
        return list(self.control("GET", "journal")["calls"])

    def calls(self, path: str | None = None) -> list[dict[str, Any]]:
        return [c for c in self.journal() if path is None or c["path"] == path]

    def applied(self, path: str | None = None) -> list[dict[str, Any]]:
        return [c for c in self.calls(path) if c["applied"]]


def make_key_set(
    *, sandbox: Sandbox, uid: int, label: str | None = None, parent: ApiKeySet | None = None
) -> ApiKeySet:
    api_key, secret = demo_key(uid)
    return ApiKeySetFactory.create(
        label=label or f"demo {uid} {uuid.uuid4().hex[:6]}",
        base_url=sandbox.base_url,
        uid=uid,
        account_kind=AccountKind.SUB if parent else AccountKind.MAIN,
        parent=parent,
        status=KeySetStatus.ACTIVE,
        api_key=api_key,
        secret=secret,
    )


def discover_seed_subs(*, key_set: ApiKeySet) -> None:
    """The seed's sub-accounts as discovery would mirror them from the main account (what execution
    re-checks a family or sub-account recipient against)."""
    main = key_set.parent if key_set.parent is not None else key_set
    for account in SEED["accounts"]:
        if main.uid is not None and account.get("master_uid") == int(main.uid):
            SubAccount.objects.get_or_create(
                main_key_set=main, sub_uid=account["uid"], defaults={"name": account["sub_account_string"]}
            )


def payload_for(
    kind: str, *, asset: str, amount: str, client_id: str, key_set: ApiKeySet, **fields: Any
) -> dict[str, Any]:
    return dict(
        payload_build(
            kind=kind, key_set=key_set, asset=asset, amount=Decimal(amount), client_id=client_id, **fields
        )
    )


def approved_request(
    *,
    key_set: ApiKeySet,
    kind: str = TransferKind.INNER,
    asset: str = "USDT",
    amount: str = "1",
    status: str = Status.APPROVED,
    with_approval: bool = True,
    **fields: Any,
) -> TransferRequest:
    """An approved request (one approval by someone other than the requester, who holds the approve
    grant; the recipient one of the family's discovered sub-accounts), as the workflow leaves it.
    `with_approval=False` for a database migrated back to before the approval's second-factor columns."""
    if kind == TransferKind.INNER:
        fields = {"recipient_type": 1, "recipient_account": str(SUB1_UID), "wallet_type": 1, **fields}
    elif kind == TransferKind.WALLET:
        fields = {"from_wallet": "fund", "to_wallet": "spot", **fields}
    elif kind == TransferKind.SUB_INNER:
        fields = {"recipient_type": 1, "recipient_account": str(SUB2_UID), "wallet_type": 1, **fields}
    elif kind == TransferKind.FAMILY:
        fields = {
            "from_uid": MAIN_UID,
            "from_type": 1,
            "from_account_type": 1,
            "to_uid": SUB1_UID,
            "to_type": 2,
            "to_account_type": 1,
            **fields,
        }
    client_id = uuid.uuid4().hex
    payload = payload_for(kind, asset=asset, amount=amount, client_id=client_id, key_set=key_set, **fields)
    requester = UserFactory.create(username=f"req-{client_id[:8]}")
    approver = UserFactory.create(username=f"appr-{client_id[:8]}")
    policy_version = policy_version_current()
    now = timezone.now()
    req = TransferRequest.objects.create(
        client_id=client_id,
        key_set=key_set,
        kind=kind,
        payload=payload,
        payload_sha256=payload_sha256(payload),
        asset=asset,
        amount=Decimal(amount),
        status=status,
        required_approvals=1,
        policy_version=policy_version,
        requested_by=requester,
        expires_at=now + timedelta(hours=24),
        decided_at=now,
    )
    KeySetGrantFactory.create(key_set=key_set, user=approver, can_approve=True)
    discover_seed_subs(key_set=key_set)
    if not with_approval:
        return req
    Approval.objects.create(
        request=req,
        approver=approver,
        decision=Decision.APPROVE,
        payload_sha256=req.payload_sha256,
        **totp_approval_fields(request_id=req.pk, approver=approver, payload_sha256=req.payload_sha256),
    )
    return req


def wait_for(
    predicate: Callable[[], Any], *, timeout: float = 60, interval: float = 0.2, what: str = ""
) -> Any:
    """Poll until `predicate()` is truthy (robust on a slow machine: generous timeouts, no fixed sleeps)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate}")
        time.sleep(interval)


def status_of(req: TransferRequest) -> str:
    return TransferRequest.objects.values_list("status", flat=True).get(pk=req.pk)


def applied_for(sandbox: Sandbox, req: TransferRequest) -> list[dict[str, Any]]:
    """Journal entries that moved money for this request (matched by its client id or exchange id)."""
    req.refresh_from_db()
    out = []
    for call in sandbox.applied():
        params = call.get("params") or {}
        if params.get("transferClientId") == req.client_id or (
            req.exchange_id and str(call.get("transfer_id")) == req.exchange_id
        ):
            out.append(call)
    return out
