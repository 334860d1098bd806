"""Matching in bulk (issue 12 part 4): a handful of queries whatever the number of requests, and no
lock on the family's key set row while it runs (new requests on it never wait for a matcher)."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext

from accounts.models import ApiKeySet, User
from bingx.sandbox import SandboxServer
from tests.transfers.execution_support import MAIN_UID
from tests.transfers.records.records_support import client_of, make_request
from transfers.models import Status, TransferKind, TransferRecord
from transfers.records import match
from transfers.records.match import records_match
from transfers.records.sync import records_sync


def _requests(*, key_set: ApiKeySet, user: User, count: int) -> None:
    kinds = [TransferKind.WALLET, TransferKind.INNER, TransferKind.FAMILY]
    for n in range(count):
        kind = kinds[n % len(kinds)]
        extra: dict[str, Any] = {}
        if kind == TransferKind.WALLET:
            extra = {"from_wallet": "fund", "to_wallet": "spot"}
        make_request(
            key_set=key_set,
            user=user,
            kind=kind,
            amount=f"{n + 1}.5",
            status=Status.SUCCEEDED,
            submitted_ago=timedelta(minutes=n),
            **extra,
        )


@pytest.mark.django_db
def test_matching_runs_the_same_few_queries_for_5_or_60_requests(
    sandbox: SandboxServer, main_ks: ApiKeySet, requester: User
) -> None:
    with client_of(sandbox, MAIN_UID) as client:  # records that belong to no request
        client.transfer(from_account="fund", to_account="spot", asset="USDT", amount=Decimal("0.25"))
    records_sync(key_set_id=main_ks.pk, sources=["asset"])
    _requests(key_set=main_ks, user=requester, count=5)
    with CaptureQueriesContext(connection) as few:
        assert records_match(key_set_id=main_ks.pk) == {}
    _requests(key_set=main_ks, user=requester, count=55)
    with CaptureQueriesContext(connection) as many:
        assert records_match(key_set_id=main_ks.pk) == {}
    # Before: 1 to 3 queries per open (request, source) pair, ~1 100 for a key set at scale.
    assert len(many) == len(few) <= 12, [q["sql"][:120] for q in many.captured_queries]


@pytest.mark.django_db(transaction=True)
def test_a_running_matcher_locks_no_key_set_row(
    sandbox: SandboxServer, main_ks: ApiKeySet, requester: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: set DATABASE_URL=postgres://… (SQLite has one writer at a time)")
    req = make_request(
        key_set=main_ks,
        user=requester,
        kind=TransferKind.WALLET,
        amount="7.5",
        status=Status.SUCCEEDED,
        from_wallet="fund",
        to_wallet="spot",
    )
    with client_of(sandbox, MAIN_UID) as client:
        client.transfer(from_account="fund", to_account="spot", asset="USDT", amount=Decimal("7.5"))
    inside, release = threading.Event(), threading.Event()
    original = match._Unmatched.find

    def find_slowly(self: Any, **kwargs: Any) -> Any:
        inside.set()
        release.wait(10)
        return original(self, **kwargs)

    monkeypatch.setattr(match._Unmatched, "find", find_slowly)
    outcome: list[Any] = []

    def sync() -> None:
        try:
            outcome.append(records_sync(key_set_id=main_ks.pk, sources=["asset"]))
        finally:
            connections.close_all()

    worker = threading.Thread(target=sync)
    worker.start()
    try:
        assert inside.wait(20), "the matcher never started"
        # What a new request on the key set does (its policy and limit checks lock the row): no wait.
        with transaction.atomic():
            locked = ApiKeySet.objects.select_for_update(nowait=True).filter(pk=main_ks.pk).first()
        assert locked is not None
    finally:
        release.set()
        worker.join(30)
    assert outcome
    assert outcome[0].sources["asset"].matched == 1
    assert TransferRecord.objects.filter(matched_request=req, source="asset").count() == 1
