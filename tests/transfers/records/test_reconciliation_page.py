"""The reconciliation page: what each person may see, filters, and the "sync now" POST."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import ApiKeySet, AuditEvent, User
from bingx.sandbox import SandboxServer
from bingxadmin.celery import app as celery_app
from tests.factories import KeySetGrantFactory, UserFactory
from tests.transfers.execution_support import EXTERNAL_UID, MAIN_UID
from tests.transfers.records.records_support import (
    ASSET_PATH,
    client_of,
    key_set_for,
    make_request,
)
from transfers import dispatch
from transfers.models import Status, SyncCursor, TransferKind, TransferRecord
from transfers.records.reconciliation import reconciliation_get
from transfers.records.sync import records_sync

pytestmark = [pytest.mark.django_db]

SEED_WALLET_TRANSFER = "1051461075661819338792"  # demo seed: main fund → USDTMPerp, 250 USDT


@pytest.fixture
def main_ks(demo_sandbox: SandboxServer) -> ApiKeySet:
    return key_set_for(demo_sandbox, MAIN_UID, label="Treasury main")


@pytest.fixture
def external_ks(demo_sandbox: SandboxServer) -> ApiKeySet:
    return key_set_for(demo_sandbox, EXTERNAL_UID, label="Other desk")


@pytest.fixture
def viewer(main_ks: ApiKeySet) -> User:
    user = UserFactory.create(username="viewer")
    KeySetGrantFactory.create(key_set=main_ks, user=user, can_view=True)
    return user


@pytest.fixture
def outsider(db: None) -> User:
    return UserFactory.create(username="outsider")


@pytest.fixture
def eager_celery() -> Iterator[None]:
    """Tasks run in the calling process, so the enqueued sync can be observed end to end."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


def login(user: User, **kwargs: Any) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client


def test_anonymous_visitors_are_sent_to_login() -> None:
    response = Client().get(reverse("transfers:reconciliation"))
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_records_nobody_requested_show_as_outside_this_desk(
    demo_sandbox: SandboxServer,
    main_ks: ApiKeySet,
    external_ks: ApiKeySet,
    viewer: User,
) -> None:
    other = demo_sandbox.bulk_records(uid=EXTERNAL_UID, kind="asset", count=1)
    records_sync(key_set_id=main_ks.pk)
    records_sync(key_set_id=external_ks.pk)

    response = login(viewer).get(reverse("transfers:reconciliation"))

    assert response.status_code == 200
    page = response.content.decode()
    assert "Outside this desk" in page
    assert SEED_WALLET_TRANSFER in page
    assert "250 USDT" in page
    assert other["first_id"] not in page  # a key set the viewer has no grant on
    assert "Other desk" not in page
    # the legacy endpoint's copy of the same wallet transfer is not listed a second time
    assert page.count('class="outside-record"') == TransferRecord.objects.filter(key_set=main_ks).count() - 1
    # last sync per endpoint
    assert "Asset transfer records (new)" in page
    assert "Sub-account transfer history" in page


def test_matched_records_leave_the_list_and_lost_requests_appear(
    demo_sandbox: SandboxServer,
    main_ks: ApiKeySet,
    viewer: User,
    settings: Any,
) -> None:
    settings.TRANSFER_SETTLE_WINDOW_SECONDS = 60
    ours = make_request(
        key_set=main_ks,
        user=viewer,
        kind=TransferKind.WALLET,
        amount="42",
        from_wallet="fund",
        to_wallet="spot",
    )
    lost = make_request(
        key_set=main_ks,
        user=viewer,
        kind=TransferKind.INNER,
        amount="77",
        submitted_ago=timedelta(minutes=10),
        recipient_type=1,
        recipient_account=str(EXTERNAL_UID),
        wallet_type=1,
    )
    with client_of(demo_sandbox, MAIN_UID) as client:
        made = client.transfer(from_account="fund", to_account="spot", asset="USDT", amount="42")
    records_sync(key_set_id=main_ks.pk)
    assert TransferRecord.objects.get(exchange_id=made.id).matched_request == ours

    page = login(viewer).get(reverse("transfers:reconciliation")).content.decode()

    assert made.id not in page
    assert SEED_WALLET_TRANSFER in page
    assert "Requests without an exchange record" in page
    assert lost.client_id in page
    assert ours.client_id not in page
    lost.refresh_from_db()
    assert lost.needs_attention
    assert lost.status == Status.SUCCEEDED


def test_filters_by_key_set_and_source(main_ks: ApiKeySet, external_ks: ApiKeySet, viewer: User) -> None:
    records_sync(key_set_id=main_ks.pk)
    client = login(viewer)

    family_only = client.get(reverse("transfers:reconciliation"), {"source": "family"}).content.decode()
    assert "1051323892566796963878" in family_only  # the seed's family top-up
    assert SEED_WALLET_TRANSFER not in family_only

    assert client.get(reverse("transfers:reconciliation"), {"key_set": main_ks.pk}).status_code == 200
    assert client.get(reverse("transfers:reconciliation"), {"key_set": external_ks.pk}).status_code == 403
    assert client.get(reverse("transfers:reconciliation"), {"source": "bogus"}).status_code == 400
    assert client.get(reverse("transfers:reconciliation"), {"key_set": "x"}).status_code == 400


def test_without_any_grant_nothing_is_visible(main_ks: ApiKeySet, outsider: User) -> None:
    records_sync(key_set_id=main_ks.pk)

    response = login(outsider).get(reverse("transfers:reconciliation"))

    assert response.status_code == 200
    page = response.content.decode()
    assert SEED_WALLET_TRANSFER not in page
    assert "Treasury main" not in page
    assert "Sync now" not in page


def test_forged_sync_post_without_grant_is_refused(
    main_ks: ApiKeySet, outsider: User, django_capture_on_commit_callbacks: Any
) -> None:
    client = login(outsider)
    with django_capture_on_commit_callbacks() as callbacks:
        named = client.post(reverse("transfers:reconciliation_sync"), {"key_set": main_ks.pk})
        everything = client.post(reverse("transfers:reconciliation_sync"))

    assert named.status_code == 403
    assert everything.status_code == 403
    assert callbacks == []
    assert not AuditEvent.objects.filter(verb="records.sync_requested").exists()
    assert not TransferRecord.objects.exists()


def test_sync_now_needs_post_and_a_csrf_token(main_ks: ApiKeySet, viewer: User) -> None:
    assert login(viewer).get(reverse("transfers:reconciliation_sync")).status_code == 405
    strict = login(viewer, enforce_csrf_checks=True)
    assert strict.post(reverse("transfers:reconciliation_sync"), {"key_set": main_ks.pk}).status_code == 403
    assert not AuditEvent.objects.filter(verb="records.sync_requested").exists()


def test_sync_now_with_a_view_grant_syncs_the_key_set(
    main_ks: ApiKeySet,
    external_ks: ApiKeySet,
    viewer: User,
    eager_celery: None,
    django_capture_on_commit_callbacks: Any,
) -> None:
    client = login(viewer)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(reverse("transfers:reconciliation_sync"))

    assert response.status_code == 302
    syncs = [c for c in callbacks if getattr(c, "__name__", "") != "_seal_after_commit"]  # the audit sealer
    assert len(syncs) == 1  # only the key set the viewer may see
    assert TransferRecord.objects.filter(key_set=main_ks).exists()
    assert not TransferRecord.objects.filter(key_set=external_ks).exists()
    event = AuditEvent.objects.get(verb="records.sync_requested")
    assert (event.actor, event.object_id) == (viewer, str(main_ks.pk))

    page = client.get(response["Location"]).content.decode()
    assert "Records sync queued for Treasury main" in page
    assert SEED_WALLET_TRANSFER in page


def test_an_endpoint_left_behind_by_a_rate_limit_does_not_look_synced(
    demo_sandbox: SandboxServer, main_ks: ApiKeySet, viewer: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dispatch, "records_sync_enqueue", lambda **kwargs: None)
    records_sync(key_set_id=main_ks.pk)
    earlier = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    SyncCursor.objects.filter(key_set=main_ks).update(last_synced_at=earlier)
    unblocked = demo_sandbox.app.state.now_ms() + 300_000
    demo_sandbox.add_fault(
        ASSET_PATH,
        "error_code",
        code=100410,
        msg=f"code:100410:The endpoint trigger frequency limit rule is currently in the disabled period "
        f"and will be unblocked after {unblocked}",
    )

    report = records_sync(key_set_id=main_ks.pk)

    assert report.sources["asset"].deferred
    rows = {row.source: row for row in reconciliation_get(user=viewer).sync_status}  # the page's rows
    assert rows["asset"].last_synced_at == earlier  # held back by its unread scopes
    inner_synced = rows["inner"].last_synced_at
    assert inner_synced is not None
    assert inner_synced > earlier
    page = login(viewer).get(reverse("transfers:reconciliation")).content.decode()
    assert "2026-01-02 03:04:05 UTC" in page
