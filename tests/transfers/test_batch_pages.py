"""Batch pages over HTTP, with forged requests: the pages answer exactly as the services do."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from tests.stepup_support import stepup_data
from tests.transfers.test_batches import GOOD, csv_batch, submit
from tests.transfers.test_pages import client_for_user, csrf_post
from tests.transfers.workflow_support import SUB1_UID, grant, member
from transfers.models import Approval, BatchStatus, Status, TransferBatch, TransferRequest


def test_submit_a_batch_from_pasted_csv(alice, key_set):
    c = client_for_user(alice)
    response = csrf_post(c, reverse("transfers:batch_new"), {"csv_text": GOOD, "note": "payday"})
    assert response.status_code == 302
    batch = TransferBatch.objects.get()
    assert response["Location"] == reverse("transfers:batch_detail", args=[batch.pk])
    assert batch.legs.count() == 3
    assert batch.note == "payday"


def test_submit_a_batch_from_an_uploaded_file(alice, key_set):
    c = client_for_user(alice)
    upload = SimpleUploadedFile("legs.csv", GOOD.encode(), content_type="text/csv")
    response = csrf_post(c, reverse("transfers:batch_new"), {"csv_file": upload})
    assert response.status_code == 302
    assert TransferBatch.objects.get().legs.count() == 3


def test_a_bad_line_is_shown_with_its_number_and_nothing_is_saved(alice, key_set):
    c = client_for_user(alice)
    text = csv_batch(
        f"inner,Treasury main,USDT,10,1,{SUB1_UID},1,,", "wallet,Treasury main,USDT,0,,,,fund,spot"
    )
    response = csrf_post(c, reverse("transfers:batch_new"), {"csv_text": text})
    assert response.status_code == 400
    assert "Line 3: The amount must be greater than zero." in response.content.decode()
    assert TransferBatch.objects.count() == 0
    assert TransferRequest.objects.count() == 0


def test_the_new_batch_page_documents_the_header(alice, key_set):
    response = client_for_user(alice).get(reverse("transfers:batch_new"))
    assert response.status_code == 200
    assert "kind,key_set,asset,amount," in response.content.decode()


def test_batch_detail_shows_legs_totals_and_hash(alice, bob, key_set):
    batch = submit(alice, GOOD)
    response = client_for_user(bob).get(reverse("transfers:batch_detail", args=[batch.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    assert batch.payload_sha256 in html
    assert 'id="approve"' in html
    assert html.count('data-leg="') == 3
    assert '<th>USDT</th><td class="num">30</td>' in html  # 10 + 15 + 5


def test_approve_batch_over_http_executes_every_leg(
    alice, bob, key_set, enqueued, django_capture_on_commit_callbacks
):
    batch = submit(alice, GOOD)
    c = client_for_user(bob)
    with django_capture_on_commit_callbacks(execute=True):
        response = csrf_post(c, reverse("transfers:batch_approve", args=[batch.pk]), stepup_data(bob))
    assert response.status_code == 302
    batch.refresh_from_db()
    assert batch.status == BatchStatus.APPROVED
    assert sorted(pk for what, pk, _ in enqueued if what == "execute") == sorted(
        batch.legs.values_list("pk", flat=True)
    )


def test_forged_self_approval_is_refused(alice, key_set):
    batch = submit(alice, GOOD)
    c = client_for_user(alice)
    response = csrf_post(c, reverse("transfers:batch_approve", args=[batch.pk]), stepup_data(alice))
    assert response.status_code == 302
    assert Approval.objects.count() == 0
    batch.refresh_from_db()
    assert batch.status == BatchStatus.PENDING
    page = c.get(reverse("transfers:batch_detail", args=[batch.pk])).content.decode()
    assert "own batch" in page
    assert 'id="approve"' not in page


def test_forged_approval_without_the_grant_is_forbidden(alice, key_set):
    batch = submit(alice, GOOD)
    viewer = member("viewer1", "viewer")
    grant(key_set, viewer)  # view only
    response = csrf_post(
        client_for_user(viewer), reverse("transfers:batch_approve", args=[batch.pk]), stepup_data(viewer)
    )
    assert response.status_code == 403
    assert Approval.objects.count() == 0


def test_a_batch_on_a_key_set_one_cannot_see_is_404(alice, key_set, stranger):
    batch = submit(alice, GOOD)
    c = client_for_user(stranger)
    for name in ("batch_detail", "batch_state", "batch_progress"):
        assert c.get(reverse(f"transfers:{name}", args=[batch.pk])).status_code == 404
    response = csrf_post(c, reverse("transfers:batch_approve", args=[batch.pk]), stepup_data(stranger))
    assert response.status_code == 404
    assert Approval.objects.count() == 0


def test_forged_single_leg_approval_is_refused(alice, bob, key_set):
    batch = submit(alice, GOOD)
    leg = batch.legs.get(leg_index=0)
    c = client_for_user(bob)
    response = csrf_post(c, reverse("transfers:request_approve", args=[leg.pk]), stepup_data(bob))
    assert response.status_code == 302
    assert Approval.objects.count() == 0
    leg.refresh_from_db()
    assert leg.status == Status.PENDING
    page = c.get(reverse("transfers:request_detail", args=[leg.pk])).content.decode()
    assert "decided with the batch" in page
    assert reverse("transfers:batch_detail", args=[batch.pk]) in page


def test_forged_cancel_by_someone_else_is_forbidden(alice, bob, key_set):
    batch = submit(alice, GOOD)
    response = csrf_post(client_for_user(bob), reverse("transfers:batch_cancel", args=[batch.pk]), {})
    assert response.status_code == 403
    batch.refresh_from_db()
    assert batch.status == BatchStatus.PENDING


def test_queue_lists_the_batch_not_its_legs_and_history_links_legs(alice, bob, key_set):
    batch = submit(alice, GOOD)
    c = client_for_user(bob)
    queue = c.get(reverse("transfers:queue")).content.decode()
    assert f"batch #{batch.pk}</a>" in queue
    assert reverse("transfers:batch_detail", args=[batch.pk]) in queue
    assert "Nothing waits for your decision." in queue  # the legs are not listed one by one
    history = c.get(reverse("transfers:history")).content.decode()
    assert history.count(reverse("transfers:batch_detail", args=[batch.pk])) == 3


@pytest.mark.parametrize("moved", [False, True])
def test_state_endpoint_asks_for_a_rerender_when_a_leg_moves(alice, bob, key_set, moved):
    batch = submit(alice, GOOD)
    c = client_for_user(bob)
    url = reverse("transfers:batch_state", args=[batch.pk])
    first = c.get(url).json()
    assert first["waiting"] == 3
    token = "pending:0:0:0:0:3:0"
    if moved:
        TransferRequest.objects.filter(pk=batch.legs.get(leg_index=0).pk).update(status=Status.FAILED)
    response = c.get(url, {"shown": token})
    assert ("HX-Trigger" in response) is moved
    assert "HX-Refresh" not in response


def many_legs(n: int) -> str:
    return csv_batch(*[f"wallet,Treasury main,USDT,{i + 1},,,,fund,spot" for i in range(n)])


@pytest.mark.parametrize("name", ["batch_state", "batch_detail", "batch_progress"])
def test_batch_pages_run_as_many_queries_for_3_legs_as_for_60(alice, bob, key_set, name):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    c = client_for_user(bob)
    counts = []
    for n in (3, 60):
        batch = submit(alice, many_legs(n))
        url = reverse(f"transfers:{name}", args=[batch.pk])
        c.get(url)  # session and permission caches warm
        with CaptureQueriesContext(connection) as queries:
            assert c.get(url).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1], counts


def test_retry_of_failed_legs_is_a_new_batch_prefilled_with_them(alice, bob, key_set, enqueued):
    from transfers.services.batch_decisions import transfer_batch_approve

    batch = submit(alice, GOOD)
    transfer_batch_approve(batch_id=batch.pk, approver=bob, stepup=stepup_data(bob))
    failed = batch.legs.get(leg_index=1)
    TransferRequest.objects.filter(pk=failed.pk).update(status=Status.FAILED)
    c = client_for_user(alice)
    detail = c.get(reverse("transfers:batch_detail", args=[batch.pk])).content.decode()
    assert f"?retry={batch.pk}" in detail
    page = c.get(reverse("transfers:batch_new"), {"retry": batch.pk})
    text = page.context["form"].initial["csv_text"]
    assert text.splitlines()[1].startswith("inner,Treasury main,USDT,15,")
    response = csrf_post(c, reverse("transfers:batch_new"), {"csv_text": text})
    assert response.status_code == 302
    retry = TransferBatch.objects.exclude(pk=batch.pk).get()
    (leg,) = retry.legs.all()
    assert leg.status == Status.PENDING
    assert leg.amount == failed.amount
    assert leg.client_id != failed.client_id  # a new request, approved afresh
    other = member("other", "approver")
    assert client_for_user(other).get(reverse("transfers:batch_new"), {"retry": batch.pk}).status_code == 404
