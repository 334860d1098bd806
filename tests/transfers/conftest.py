"""Fixtures of the approval-workflow tests: people in their roles, key sets with grants, a pending request."""

from __future__ import annotations

import pytest

from accounts.models import AccountKind, ApiKeySet, User
from tests.factories import ApiKeySetFactory
from tests.transfers.workflow_support import (
    SUB1_UID,
    UNREACHABLE_URL,
    grant,
    make_main_key_set,
    member,
    new_request,
)
from transfers.models import TransferRequest
from transfers.tasks import transfer_execute_task


@pytest.fixture
def alice(db: None) -> User:
    return member("alice", "requester", "approver")


@pytest.fixture
def bob(db: None) -> User:
    return member("bob", "approver")


@pytest.fixture
def carol(db: None) -> User:
    return member("carol", "approver")


@pytest.fixture
def admin1(db: None) -> User:
    return member("admin1", "administrator", is_staff=True)


@pytest.fixture
def admin2(db: None) -> User:
    return member("admin2", "administrator", is_staff=True)


@pytest.fixture
def stranger(db: None) -> User:
    return member("stranger", "approver")


@pytest.fixture
def key_set(alice: User, bob: User, carol: User) -> ApiKeySet:
    """A main key set: alice may request and approve, bob and carol approve."""
    ks = make_main_key_set()
    grant(ks, alice, request=True, approve=True)
    grant(ks, bob, approve=True)
    grant(ks, carol, approve=True)
    return ks


@pytest.fixture
def sub_key_set(key_set: ApiKeySet, alice: User, bob: User) -> ApiKeySet:
    ks = ApiKeySetFactory(
        label="Sub one",
        uid=SUB1_UID,
        permissions=[2, 4, 7],
        base_url=UNREACHABLE_URL,
        account_kind=AccountKind.SUB,
        parent=key_set,
    )
    grant(ks, alice, request=True)
    grant(ks, bob, approve=True)
    return ks


@pytest.fixture
def pending(alice: User, key_set: ApiKeySet) -> TransferRequest:
    return new_request(requester=alice, key_set=key_set)


@pytest.fixture
def executed(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record execution enqueues instead of sending them to a broker."""
    calls: list[int] = []
    monkeypatch.setattr(transfer_execute_task, "delay", lambda pk, *rest: calls.append(pk))
    monkeypatch.setattr(transfer_execute_task, "apply_async", lambda args, **options: calls.append(args[0]))
    return calls
