"""Helpers for the approval-workflow tests (services, pages, emails, concurrency); the fixtures built on
them (people, key sets, a pending request) are in tests/transfers/conftest.py."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib.auth.models import Group

from accounts.models import AccountKind, ApiKeySet, SubAccount, User
from accounts.roles import roles_ensure
from tests.factories import DEFAULT_PASSWORD, ApiKeySetFactory, KeySetGrantFactory, UserFactory
from transfers.models import TransferBatch, TransferKind, TransferRequest
from transfers.services.requests import transfer_request_create

MAIN_UID, SUB1_UID, SUB2_UID, EXTERNAL_UID = 10000001, 10000002, 10000003, 10000009
PASSWORD = DEFAULT_PASSWORD
UNREACHABLE_URL = "http://127.0.0.1:9"  # nothing listens: exchange reads fail fast and show a message


def member(username: str, *roles: str, **extra: Any) -> User:
    user = UserFactory(username=username, **extra)
    roles_ensure()  # a transaction test before this one flushed the migrated groups and their permissions
    for role in roles:
        user.groups.add(Group.objects.get(name=role))
    return user


def make_main_key_set(**extra: Any) -> ApiKeySet:
    values: dict[str, Any] = {
        "label": "Treasury main",
        "uid": MAIN_UID,
        "permissions": [1, 2, 4, 5],
        "base_url": UNREACHABLE_URL,
        "account_kind": AccountKind.MAIN,
    }
    values.update(extra)
    ks = ApiKeySetFactory(**values)
    SubAccount.objects.get_or_create(main_key_set=ks, sub_uid=SUB1_UID, defaults={"name": "sub one"})
    SubAccount.objects.get_or_create(main_key_set=ks, sub_uid=SUB2_UID, defaults={"name": "sub two"})
    return ks


def grant(key_set: ApiKeySet, user: User, *, request: bool = False, approve: bool = False) -> None:
    KeySetGrantFactory(key_set=key_set, user=user, can_view=True, can_request=request, can_approve=approve)


def inner_fields(account: int | str = SUB1_UID, **extra: Any) -> dict[str, Any]:
    return {"recipient_type": 1, "recipient_account": str(account), "wallet_type": 1, **extra}


def two_leg_batch(*, requester: User, key_set: ApiKeySet) -> TransferBatch:
    """A pending batch on `key_set`: a wallet move and an inner transfer (the pages' browser tests)."""
    from transfers.batch_csv import LegInput
    from transfers.services.batches import transfer_batch_create

    return transfer_batch_create(
        requester=requester,
        legs=[
            LegInput(2, "wallet", key_set.label, "USDT", "5", {"from_wallet": "fund", "to_wallet": "spot"}),
            LegInput(3, "inner", key_set.label, "USDT", "2", inner_fields()),
        ],
    )


def new_request(
    *,
    requester: User,
    key_set: ApiKeySet,
    kind: str = TransferKind.INNER,
    asset: str = "USDT",
    amount: str = "25",
    fields: dict[str, Any] | None = None,
) -> TransferRequest:
    if fields is None:
        fields = inner_fields() if kind == TransferKind.INNER else {}
    return transfer_request_create(
        requester=requester,
        key_set_id=key_set.pk,
        kind=kind,
        asset=asset,
        amount=Decimal(amount),
        fields=fields,
    )
