"""Fixtures for key-set tests: one user per role, key sets, and the sandbox exchange over HTTP."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from accounts.models import ApiKeySet, User
from accounts.roles import roles_ensure
from bingx import Client
from bingx.sandbox import SandboxServer
from tests.factories import ApiKeySetFactory, KeySetGrantFactory, UserFactory

SEED_PATH = Path(__file__).resolve().parents[2] / "bingx" / "sandbox" / "seeds" / "demo.json"
SEED: dict[str, Any] = json.loads(SEED_PATH.read_text())
MAIN_UID, SUB1_UID, SUB2_UID, EXTERNAL_UID = 10000001, 10000002, 10000003, 10000009


def demo_key(uid: int) -> tuple[str, str]:
    account = next(a for a in SEED["accounts"] if a["uid"] == uid)
    key = account["api_keys"][0]
    return key["api_key"], key["secret"]


def _member(username: str, *roles: str, **extra: Any) -> User:
    user = UserFactory(username=username, is_staff=True, **extra)
    roles_ensure()  # a transaction test may have flushed the migrated role groups
    for role in roles:
        user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def admin1(db: None) -> User:
    return _member("admin1", "administrator")


@pytest.fixture
def admin2(db: None) -> User:
    return _member("admin2", "administrator")


@pytest.fixture
def superuser(db: None) -> User:
    return _member("root", is_superuser=True)


@pytest.fixture
def approver(db: None) -> User:
    return _member("approver", "approver")


@pytest.fixture
def requester(db: None) -> User:
    return _member("requester", "requester")


@pytest.fixture
def viewer(db: None) -> User:
    return _member("viewer", "viewer")


@pytest.fixture
def outsider(db: None) -> User:
    return UserFactory(username="outsider")


@pytest.fixture
def key_set(admin1: User) -> ApiKeySet:
    return ApiKeySetFactory(label="Treasury main", created_by=admin1, secret_changed_by=admin1)


@pytest.fixture
def granted(key_set: ApiKeySet, approver: User, requester: User, viewer: User) -> ApiKeySet:
    """The key set shared with the approver, requester and viewer, each with their capability."""
    KeySetGrantFactory(key_set=key_set, user=approver, can_view=True, can_approve=True)
    KeySetGrantFactory(key_set=key_set, user=requester, can_view=True, can_request=True)
    KeySetGrantFactory(key_set=key_set, user=viewer, can_view=True)
    return key_set


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(seed=SEED_PATH, rate_limits_enabled=False) as server:
        yield server
    Client.reset_time_offsets()


def pending_request(key_set: ApiKeySet, user: User, status: str = "pending") -> Any:
    """A transfer request on the key set, made directly (the transfers services are not under test)."""
    from transfers.models import TransferKind, TransferRequest

    return TransferRequest.objects.create(
        client_id=uuid.uuid4().hex[:32],
        key_set=key_set,
        kind=TransferKind.WALLET,
        payload={"amount": "10"},
        payload_sha256="0" * 64,
        asset="USDT",
        amount=Decimal(10),
        required_approvals=1,
        policy_version=1,
        requested_by=user,
        expires_at=timezone.now() + dt.timedelta(hours=1),
        status=status,
    )


def sandbox_key_set(server: SandboxServer, uid: int, **kwargs: Any) -> ApiKeySet:
    api_key, secret = demo_key(uid)
    kwargs.setdefault("label", f"demo {uid}")
    kwargs.setdefault("api_key", api_key)
    kwargs.setdefault("secret", secret)
    return ApiKeySetFactory(base_url=server.base_url, **kwargs)
