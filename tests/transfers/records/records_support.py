"""Helpers of the records tests: demo keys, a seed without history, key sets and requests as
execution leaves them. Their fixtures are in tests/transfers/records/conftest.py."""

from __future__ import annotations

import copy
import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from accounts.models import ApiKeySet, User
from bingx import Client, endpoints
from bingx.sandbox import SandboxServer
from tests.factories import ApiKeySetFactory
from tests.transfers.execution_support import (
    SEED,
    demo_key,
)
from transfers.models import Status, TransferRequest

ASSET_PATH = endpoints.TRANSFER_RECORDS.path
LEGACY_PATH = endpoints.LEGACY_TRANSFER_RECORDS.path
INNER_PATH = endpoints.INNER_TRANSFER_RECORDS.path
SUB_INNER_PATH = endpoints.SUB_INNER_TRANSFER_RECORDS.path
FAMILY_PATH = endpoints.SUB_TRANSFER_HISTORY.path


def empty_seed() -> dict[str, Any]:
    """The demo accounts without historical records, so counts in a test are exact."""
    seed = copy.deepcopy(SEED)
    seed["records"] = {}
    return seed


def key_set_for(server: SandboxServer, uid: int, **kwargs: Any) -> ApiKeySet:
    api_key, secret = demo_key(uid)
    kwargs.setdefault("label", f"demo {uid}")
    return ApiKeySetFactory.create(
        base_url=server.base_url, api_key=api_key, secret=secret, uid=uid, **kwargs
    )


def client_of(server: SandboxServer, uid: int) -> Client:
    api_key, secret = demo_key(uid)
    return Client(api_key, secret, base_url=server.base_url)


def make_request(
    *,
    key_set: ApiKeySet,
    user: User,
    kind: str,
    amount: str,
    asset: str = "USDT",
    status: str = Status.SUCCEEDED,
    submitted_ago: timedelta = timedelta(0),
    exchange_id: str = "",
    **fields: Any,
) -> TransferRequest:
    """A request as execution leaves it (the workflow's own services are not under test here)."""
    now = timezone.now()
    client_id = uuid.uuid4().hex
    payload = {"kind": kind, "asset": asset, "amount": amount, "client_id": client_id, **fields}
    return TransferRequest.objects.create(
        client_id=client_id,
        key_set=key_set,
        kind=kind,
        payload=payload,
        payload_sha256="0" * 64,
        asset=asset,
        amount=Decimal(amount),
        status=status,
        required_approvals=1,
        policy_version=1,
        requested_by=user,
        expires_at=now + timedelta(days=1),
        submitted_at=now - submitted_ago,
        exchange_id=exchange_id,
    )
