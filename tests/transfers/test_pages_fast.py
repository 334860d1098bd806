"""Pages that stay fast (issue 12, docs/performance.md): query counts that do not grow with the data,
a paginated approvals queue, a streamed history export, the cheap status endpoint the live detail page
polls, legacy duplicates flagged at upsert and capped counts on the reconciliation page, and the
new-transfer forms' families read in one go."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import ApiKeySet, SubAccount, User
from tests.stepup_support import login_verified, stepup_data
from tests.transfers.workflow_support import grant, make_main_key_set, member
from transfers import recipients
from transfers.models import Approval, RecordSource, Status, TransferRecord, TransferRequest
from transfers.records.reconciliation import COUNT_CAP, PAGE_ROWS
from transfers.records.rows import Row
from transfers.records.sync import upsert_rows


def signed_in(user: User) -> Client:
    c = Client()
    login_verified(c, user)
    return c


def fill(*, key_set: ApiKeySet, requester: User, approver: User, n: int, start: int = 0) -> None:
    """n more requests on the key set (every status, some pending for the queue, decisions on the
    decided ones), 3n exchange records (with legacy duplicates and matched rows) and n sub-accounts."""
    template = TransferRequest.objects.order_by("pk").first()
    assert template is not None
    now = timezone.now()
    statuses = [Status.PENDING, Status.SUCCEEDED, Status.FAILED, Status.UNKNOWN, Status.REJECTED]
    rows = [
        TransferRequest(
            client_id=f"fill-{start + i}",
            key_set=key_set,
            kind=template.kind,
            payload=template.payload,
            payload_sha256=template.payload_sha256,
            asset="USDT",
            amount=Decimal("25"),
            status=statuses[i % len(statuses)],
            required_approvals=1,
            policy_version=template.policy_version,
            requested_by=requester,
            expires_at=now + dt.timedelta(hours=1),
            needs_attention=i % 4 == 0,
            submitted_at=now - dt.timedelta(hours=2),
        )
        for i in range(n)
    ]
    created = TransferRequest.objects.bulk_create(rows)
    Approval.objects.bulk_create(
        Approval(request=r, approver=approver, decision="approve", payload_sha256=r.payload_sha256)
        for r in created
        if r.status != Status.PENDING
    )
    records = []
    for i in range(n):
        at = now - dt.timedelta(minutes=start + i)
        common: dict[str, Any] = {
            "key_set": key_set,
            "asset": "USDT",
            "amount": Decimal(i + 1),
            "occurred_at": at,
        }
        records.append(TransferRecord(source=RecordSource.ASSET, exchange_id=f"a{start + i}", **common))
        records.append(
            TransferRecord(
                source=RecordSource.LEGACY_ASSET, exchange_id=f"l{start + i}", is_duplicate=True, **common
            )
        )
        records.append(
            TransferRecord(
                source=RecordSource.INNER, exchange_id=f"i{start + i}", matched_request=created[i], **common
            )
        )
    TransferRecord.objects.bulk_create(records)
    SubAccount.objects.bulk_create(
        SubAccount(main_key_set=key_set, sub_uid=20_000_000 + start + i, name=f"fill {start + i}")
        for i in range(n)
    )


def queries_of(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
        assert response.status_code == 200, url
    return len(captured)


def test_query_counts_do_not_grow_with_the_data(alice, bob, key_set, pending, django_assert_max_num_queries):
    """Each page, at two data sizes: the larger one runs no more queries than the smaller one."""
    pages = {
        "dashboard": (bob, reverse("transfers:dashboard")),
        "queue": (bob, reverse("transfers:queue")),
        "history": (bob, reverse("transfers:history")),
        "detail": (bob, reverse("transfers:request_detail", args=[pending.pk])),
        "state": (bob, reverse("transfers:request_state", args=[pending.pk]) + "?shown=pending:0"),
        "reconciliation": (bob, reverse("transfers:reconciliation")),
        "new inner": (alice, reverse("transfers:request_new") + "?kind=inner"),
        "history csv": (bob, reverse("transfers:history") + "?format=csv"),
    }
    clients = {user.pk: signed_in(user) for user in (alice, bob)}
    fill(key_set=key_set, requester=alice, approver=bob, n=5)
    small = {name: queries_of(clients[user.pk], url) for name, (user, url) in pages.items()}

    # Ten times the rows, plus more key sets to request on (each with its family).
    fill(key_set=key_set, requester=alice, approver=bob, n=120, start=1000)
    for k in range(4):
        extra = make_main_key_set(label=f"Extra {k}", uid=30_000_000 + k)
        grant(extra, alice, request=True, approve=True)
        grant(extra, bob, approve=True)
    for name, (user, url) in pages.items():
        with django_assert_max_num_queries(small[name]):
            clients[user.pk].get(url)


def test_approvals_queue_is_paginated(alice, bob, key_set, pending):
    fill(key_set=key_set, requester=alice, approver=bob, n=300)  # 60 more pending
    c = signed_in(bob)
    first = c.get(reverse("transfers:queue"))
    assert first.status_code == 200
    page = first.context["page"]
    assert page.paginator.count == 61
    assert len(page.object_list) == 50
    assert "page 1 of 2" in first.content.decode()
    second = c.get(reverse("transfers:queue"), {"page": 2})
    assert len(second.context["page"].object_list) == 11
    shown = {r.pk for r in page.object_list} | {r.pk for r in second.context["page"].object_list}
    assert len(shown) == 61  # every pending request once, none lost between pages


def test_queue_filters_survive_paging(alice, bob, key_set, pending):
    fill(key_set=key_set, requester=alice, approver=bob, n=300)
    body = signed_in(bob).get(reverse("transfers:queue"), {"asset": "usdt"}).content.decode()
    assert "asset=usdt&amp;page=2" in body


def test_history_csv_is_streamed_with_every_row(alice, bob, key_set, pending):
    fill(key_set=key_set, requester=alice, approver=bob, n=40)
    response = signed_in(bob).get(reverse("transfers:history"), {"format": "csv"})
    assert response.streaming
    assert response["Content-Type"].startswith("text/csv")
    assert "no-store" in response["Cache-Control"]
    lines = b"".join(response.streaming_content).decode().strip().splitlines()  # type: ignore[attr-defined]
    assert len(lines) == 1 + TransferRequest.objects.count()
    newest = TransferRequest.objects.order_by("-created_at", "-pk").first()
    assert newest is not None
    assert lines[1].startswith(f'"=""{newest.pk}""","')  # ids as text: ="…"
    assert f'"=""{pending.pk}"""' in "".join(lines)
    assert '"25"' in lines[1]  # the payload's exact amount as plain text


def test_status_endpoint_returns_only_the_status(alice, bob, pending):
    response = signed_in(alice).get(reverse("transfers:request_state", args=[pending.pk]))
    assert response.status_code == 200
    assert json.loads(response.content) == {
        "id": pending.pk,
        "status": "pending",
        "decisions": 0,
        "label": "Pending approval",  # what the open page shows at once (static/js/live_status.js)
        "final": False,
        "heading": "What would be executed",
    }
    assert "no-store" in response["Cache-Control"]


def test_status_endpoint_asks_for_a_reload_when_the_status_moved(alice, bob, pending):
    c = signed_in(alice)
    url = reverse("transfers:request_state", args=[pending.pk])
    unchanged = c.get(url, {"shown": "pending:0"})
    assert "HX-Refresh" not in unchanged
    assert "HX-Trigger" not in unchanged
    from transfers.services.decisions import transfer_request_approve

    transfer_request_approve(request_id=pending.pk, approver=bob, stepup=stepup_data(bob))
    moved = c.get(url, {"shown": "pending:0"})
    assert moved["HX-Refresh"] == "true"
    assert json.loads(moved.content)["status"] == Status.APPROVED


def test_status_endpoint_asks_for_the_status_area_when_only_decisions_changed(alice, pending):
    response = signed_in(alice).get(
        reverse("transfers:request_state", args=[pending.pk]), {"shown": "pending:3"}
    )
    assert response["HX-Trigger"] == "bx-status-moved"
    assert "HX-Refresh" not in response


def test_status_endpoint_enforces_the_detail_pages_permission(pending, key_set):
    outsider = member("olga", "approver")  # no grant on the key set
    c = signed_in(outsider)
    assert c.get(reverse("transfers:request_detail", args=[pending.pk])).status_code == 404
    assert c.get(reverse("transfers:request_state", args=[pending.pk])).status_code == 404
    viewer = member("vera", "viewer")
    grant(key_set, viewer)  # view only: may watch, like the detail page
    assert signed_in(viewer).get(reverse("transfers:request_state", args=[pending.pk])).status_code == 200
    anonymous = Client().get(reverse("transfers:request_state", args=[pending.pk]))
    assert anonymous.status_code == 302


def test_detail_page_polls_the_cheap_endpoint(alice, pending):
    body = signed_in(alice).get(reverse("transfers:request_detail", args=[pending.pk])).content.decode()
    state = reverse("transfers:request_state", args=[pending.pk])
    assert f'data-state-url="{state}" data-shown="pending:0" data-every="500"' in body
    assert "js/live_status.js" in body
    assert 'hx-trigger="bx-status-moved from:body"' in body


def _row(eid: str, *, at_ms: int, amount: str = "5") -> Row:
    return Row(
        exchange_id=eid,
        asset="USDT",
        amount=Decimal(amount),
        status="SUCCESS",
        from_account="fund",
        to_account="spot",
        direction="",
        counterparty="",
        transfer_client_id="",
        time_ms=at_ms,
        raw={},
    )


@pytest.mark.parametrize("legacy_first", [False, True])
def test_legacy_twin_is_flagged_at_upsert_whichever_arrives_first(key_set, legacy_first):
    at = 1_760_000_000_000
    steps = [
        (RecordSource.ASSET, [_row("new-1", at_ms=at), _row("new-2", at_ms=at + 1000, amount="7")]),
        (RecordSource.LEGACY_ASSET, [_row("old-1", at_ms=at), _row("old-3", at_ms=at + 2000)]),
    ]
    for source, rows in reversed(steps) if legacy_first else steps:
        upsert_rows(key_set_id=key_set.pk, source=source, rows=rows)
    flagged = set(TransferRecord.objects.filter(is_duplicate=True).values_list("exchange_id", flat=True))
    assert flagged == {"old-1"}  # old-3 has no twin on the new endpoint


def test_reconciliation_caps_the_outside_count(bob, key_set):
    now = timezone.now()
    TransferRecord.objects.bulk_create(
        TransferRecord(
            key_set=key_set,
            source=RecordSource.INNER,
            exchange_id=f"x{i}",
            asset="USDT",
            amount=Decimal(1),
            occurred_at=now - dt.timedelta(seconds=i),
        )
        for i in range(COUNT_CAP + 5)
    )
    body = signed_in(bob).get(reverse("transfers:reconciliation")).content.decode()
    assert f"(1 000+ in all, newest {PAGE_ROWS} shown)" in body


def test_reconciliation_shows_each_legacy_twin_once(bob, key_set):
    at = 1_760_000_000_000
    upsert_rows(key_set_id=key_set.pk, source=RecordSource.ASSET, rows=[_row("new-1", at_ms=at)])
    upsert_rows(key_set_id=key_set.pk, source=RecordSource.LEGACY_ASSET, rows=[_row("old-1", at_ms=at)])
    body = signed_in(bob).get(reverse("transfers:reconciliation")).content.decode()
    assert "(1 in all" in body
    assert "new-1" in body
    assert "old-1" not in body


def test_families_of_many_key_sets_match_the_one_key_set_answers(alice, key_set, sub_key_set):
    other = make_main_key_set(label="Other main", uid=30_000_001)
    key_sets = list(ApiKeySet.objects.select_related("parent").order_by("label"))
    many = recipients.own_uids_many(key_sets=key_sets)
    for ks in key_sets:
        assert many[ks.pk] == (recipients.family_uids(key_set=ks), recipients.own_uids(key_set=ks)), ks.label
    assert other.pk in many
