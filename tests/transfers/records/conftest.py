"""Fixtures of the records tests: a sandbox without history (or the demo seed), the family's key sets."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from accounts.models import AccountKind, ApiKeySet, User
from bingx import Client
from bingx.sandbox import SandboxServer
from tests.factories import UserFactory
from tests.transfers.execution_support import MAIN_UID, SEED_PATH, SUB1_UID, SUB2_UID
from tests.transfers.records.records_support import (
    empty_seed,
    key_set_for,
)


@pytest.fixture
def fast_limiter(settings: Any, tmp_path: Path) -> None:
    """The shared limiter stays on (its code path is exercised) but scaled far above the sandbox's
    needs, with its own state directory so parallel runs do not slow each other down."""
    settings.BINGX_RATE_LIMIT_SCALE = 1000
    settings.VAR_DIR = tmp_path
    settings.RATE_LIMIT_URL = ""


@pytest.fixture
def sandbox(fast_limiter: None) -> Iterator[SandboxServer]:
    with SandboxServer(seed=empty_seed(), rate_limits_enabled=False) as server:
        yield server
    Client.reset_time_offsets()


@pytest.fixture
def demo_sandbox(fast_limiter: None) -> Iterator[SandboxServer]:
    """The demo seed as shipped, historical records included."""
    with SandboxServer(seed=SEED_PATH, rate_limits_enabled=False) as server:
        yield server
    Client.reset_time_offsets()


@pytest.fixture
def main_ks(db: None, sandbox: SandboxServer) -> ApiKeySet:
    return key_set_for(sandbox, MAIN_UID)


@pytest.fixture
def sub1_ks(main_ks: ApiKeySet, sandbox: SandboxServer) -> ApiKeySet:
    return key_set_for(sandbox, SUB1_UID, account_kind=AccountKind.SUB, parent=main_ks)


@pytest.fixture
def sub2_ks(main_ks: ApiKeySet, sandbox: SandboxServer) -> ApiKeySet:
    return key_set_for(sandbox, SUB2_UID, account_kind=AccountKind.SUB, parent=main_ks)


@pytest.fixture
def requester(db: None) -> User:
    return UserFactory.create(username="requester")
