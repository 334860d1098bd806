"""The same rules over HTTP, with forged requests: the pages answer exactly as the services do."""

import re
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.audit_verify import audit_verify_run
from accounts.models import AuditEvent
from tests.stepup_support import stepup_data
from tests.transfers.workflow_support import PASSWORD, SUB1_UID, grant, member, new_request
from transfers.models import (
    AllowedRecipient,
    Approval,
    PolicyChangeRequest,
    PolicyRule,
    Status,
    TransferRequest,
)


def client_for_user(user) -> Client:
    c = Client(enforce_csrf_checks=True)
    c.force_login(user)
    return c


def csrf_post(c: Client, url: str, data: dict[str, Any]) -> Any:
    """POST as a browser would: fetch a page for the CSRF cookie, send its token."""
    c.get(reverse("transfers:dashboard"))
    token = c.cookies["csrftoken"].value
    return c.post(url, {**data, "csrfmiddlewaretoken": token})


def csv_text(response) -> str:
    """The history export is streamed (StreamingHttpResponse): read every chunk."""
    assert response.streaming
    return b"".join(response.streaming_content).decode()


def approve_url(req) -> str:
    return reverse("transfers:request_approve", args=[req.pk])


def test_anonymous_users_are_sent_to_login(pending):
    response = Client().get(reverse("transfers:request_detail", args=[pending.pk]))
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_approve_with_totp_over_http(pending, bob, executed, django_capture_on_commit_callbacks):
    c = client_for_user(bob)
    with django_capture_on_commit_callbacks(execute=True):
        response = csrf_post(c, approve_url(pending), {**stepup_data(bob), "comment": "fine"})
    assert response.status_code == 302
    pending.refresh_from_db()
    assert pending.status == Status.APPROVED
    assert executed == [pending.pk]
    assert Approval.objects.get(request=pending).ip == "127.0.0.1"


def test_requester_approving_own_request_is_refused(pending, alice):
    c = client_for_user(alice)
    response = csrf_post(c, approve_url(pending), stepup_data(alice))
    assert response.status_code == 302
    page = c.get(response["Location"]).content.decode()
    assert "own request" in page
    assert pending.approvals.count() == 0


def test_user_without_view_grant_gets_404(pending):
    outsider = member("olga", "approver")
    c = client_for_user(outsider)
    assert c.get(reverse("transfers:request_detail", args=[pending.pk])).status_code == 404
    assert csrf_post(c, approve_url(pending), stepup_data(outsider)).status_code == 404
    assert pending.approvals.count() == 0


def test_viewer_without_approve_grant_gets_403(pending, key_set):
    viewer = member("vic", "viewer")
    grant(key_set, viewer)
    c = client_for_user(viewer)
    assert c.get(reverse("transfers:request_detail", args=[pending.pk])).status_code == 200
    assert csrf_post(c, approve_url(pending), stepup_data(viewer)).status_code == 403
    assert (
        csrf_post(c, reverse("transfers:request_reject", args=[pending.pk]), stepup_data(viewer)).status_code
        == 403
    )


def test_get_on_approve_reject_cancel_is_405(pending, bob):
    c = client_for_user(bob)
    for name in ("request_approve", "request_reject", "request_cancel"):
        assert c.get(reverse(f"transfers:{name}", args=[pending.pk])).status_code == 405
    pending.refresh_from_db()
    assert pending.status == Status.PENDING


def test_post_without_csrf_token_is_403(pending, bob):
    c = client_for_user(bob)
    assert c.post(approve_url(pending), stepup_data(bob)).status_code == 403
    assert pending.approvals.count() == 0


@pytest.mark.parametrize("data", [{}, {"stepup_code": ""}, {"stepup_code": "000000"}, {"password": PASSWORD}])
def test_missing_or_wrong_second_factor_is_refused(pending, bob, data):
    stepup_data(bob)
    response = csrf_post(client_for_user(bob), approve_url(pending), data)
    assert response.status_code == 400
    assert "Nothing was changed" in response.content.decode()
    assert pending.approvals.count() == 0


def test_totp_approval_is_marked_on_the_detail_page_and_in_history(pending, bob):
    c = client_for_user(bob)
    csrf_post(c, approve_url(pending), stepup_data(bob))
    detail = c.get(reverse("transfers:request_detail", args=[pending.pk])).content.decode()
    assert 'second-factor totp"' in detail
    assert ">TOTP</span>" in detail
    history = c.get(reverse("transfers:history")).content.decode()
    assert 'second-factor totp"' in history


def test_tampered_payload_hash_is_refused_over_http(pending, bob):
    TransferRequest.objects.filter(pk=pending.pk).update(payload={**pending.payload, "amount": "250000"})
    c = client_for_user(bob)
    response = csrf_post(c, approve_url(pending), stepup_data(bob))
    assert "no longer matches its SHA-256" in c.get(response["Location"]).content.decode()
    pending.refresh_from_db()
    assert pending.status == Status.STALE
    assert pending.approvals.count() == 0


def test_reject_over_http(pending, bob):
    response = csrf_post(
        client_for_user(bob),
        reverse("transfers:request_reject", args=[pending.pk]),
        {**stepup_data(bob), "comment": "no"},
    )
    assert response.status_code == 302
    pending.refresh_from_db()
    assert pending.status == Status.REJECTED


def test_second_decision_by_same_person_over_http(alice, bob, key_set):
    PolicyRule.objects.create(position=1, name="two", required_approvals=2)
    req = new_request(requester=alice, key_set=key_set)
    c = client_for_user(bob)
    csrf_post(c, approve_url(req), stepup_data(bob))
    response = csrf_post(c, approve_url(req), stepup_data(bob))
    assert "already decided" in c.get(response["Location"]).content.decode()
    assert req.approvals.count() == 1


def test_cancel_only_by_requester(pending, alice, bob):
    url = reverse("transfers:request_cancel", args=[pending.pk])
    assert csrf_post(client_for_user(bob), url, {}).status_code == 403
    assert csrf_post(client_for_user(alice), url, {}).status_code == 302
    pending.refresh_from_db()
    assert pending.status == Status.CANCELLED


def test_detail_shows_payload_hash_quorum_and_no_buttons_for_requester(pending, alice, bob):
    page = client_for_user(alice).get(reverse("transfers:request_detail", args=[pending.pk])).content.decode()
    assert pending.payload_sha256 in page
    assert "0 of 1" in page
    assert 'id="approve"' not in page
    assert "someone else must approve" in page
    page = client_for_user(bob).get(reverse("transfers:request_detail", args=[pending.pk])).content.decode()
    assert 'id="approve"' in page
    assert 'id="reject"' in page


def test_status_partial_asks_for_refresh_when_status_moved(pending, alice, bob):
    c = client_for_user(alice)
    url = reverse("transfers:request_status", args=[pending.pk])
    response = c.get(url, {"shown": "pending"})
    assert response.status_code == 200
    assert "HX-Refresh" not in response
    assert 'data-every="500"' in response.content.decode()
    from transfers.services.decisions import transfer_request_approve

    transfer_request_approve(request_id=pending.pk, approver=bob, stepup=stepup_data(bob))
    response = c.get(url, {"shown": "pending"})
    assert response["HX-Refresh"] == "true"


def test_new_request_form_submits_and_redirects(alice, key_set):
    c = client_for_user(alice)
    page = c.get(reverse("transfers:request_new") + "?kind=inner")
    assert page.status_code == 200
    assert "Treasury main" in page.content.decode()
    response = csrf_post(
        c,
        reverse("transfers:request_new"),
        {
            "kind": "inner",
            "key_set": key_set.pk,
            "wallet_type": 1,
            "recipient_type": 1,
            "recipient_account": str(SUB1_UID),
            "asset": "usdt",
            "amount": "12.5",
        },
    )
    assert response.status_code == 302
    req = TransferRequest.objects.get()
    assert response["Location"] == reverse("transfers:request_detail", args=[req.pk])
    assert req.payload["amount"] == "12.5"
    assert req.asset == "USDT"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"amount": "0"}, "greater than zero"),
        ({"amount": "1.123456789"}, "8 decimal places"),
        ({"asset": "U$D"}, "asset symbol"),
        ({"recipient_account": "abc"}, "digits only"),
        ({"recipient_account": "10000009"}, "not in the address book"),
    ],
)
def test_new_request_form_errors_change_nothing(alice, key_set, data, message):
    base = {
        "kind": "inner",
        "key_set": key_set.pk,
        "wallet_type": 1,
        "recipient_type": 1,
        "recipient_account": str(SUB1_UID),
        "asset": "USDT",
        "amount": "1",
    }
    response = csrf_post(client_for_user(alice), reverse("transfers:request_new"), {**base, **data})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert TransferRequest.objects.count() == 0


def test_form_offers_only_key_sets_with_grant_and_permission(alice, key_set, sub_key_set):
    from tests.transfers.workflow_support import make_main_key_set

    no_perm = make_main_key_set(label="Read only main", uid=40000001, permissions=[1, 2])
    grant(no_perm, alice, request=True)
    no_grant = make_main_key_set(label="Not mine", uid=40000002)
    c = client_for_user(alice)
    inner = c.get(reverse("transfers:request_new") + "?kind=inner").content.decode()
    assert ">Treasury main [sandbox]</option>" in inner
    assert ">Read only main [sandbox]</option>" not in inner
    assert "Not mine" not in inner  # not even in the recipient suggestions
    assert ">Sub one [sandbox]</option>" not in inner  # inner transfers pay from a main account
    sub = c.get(reverse("transfers:request_new") + "?kind=sub_inner").content.decode()
    assert ">Sub one [sandbox]</option>" in sub
    assert ">Treasury main [sandbox]</option>" not in sub
    assert no_grant.pk  # exists, just not offered


def test_requesting_on_a_key_set_not_offered_is_refused(alice, key_set):
    from tests.transfers.workflow_support import make_main_key_set

    other = make_main_key_set(label="Not mine", uid=40000002)
    response = csrf_post(
        client_for_user(alice),
        reverse("transfers:request_new"),
        {
            "kind": "wallet",
            "key_set": other.pk,
            "from_wallet": "fund",
            "to_wallet": "spot",
            "asset": "USDT",
            "amount": "1",
        },
    )
    assert response.status_code == 400
    assert TransferRequest.objects.count() == 0


def test_available_widget_shows_exchange_errors_as_a_message(alice, key_set):
    response = client_for_user(alice).get(
        reverse("transfers:request_available"),
        {
            "kind": "wallet",
            "key_set": key_set.pk,
            "from_wallet": "fund",
            "to_wallet": "spot",
            "asset": "USDT",
        },
    )
    assert response.status_code == 200
    assert "Could not reach BingX" in response.content.decode()


def test_queue_lists_only_what_i_may_decide(alice, bob, key_set, pending):
    mine_as_bob = client_for_user(bob).get(reverse("transfers:queue")).content.decode()
    assert f"#{pending.pk}" in mine_as_bob
    as_alice = client_for_user(alice).get(reverse("transfers:queue")).content.decode()
    assert f"#{pending.pk}<" not in as_alice
    filtered = client_for_user(bob).get(reverse("transfers:queue"), {"kind": "wallet"}).content.decode()
    assert f"#{pending.pk}<" not in filtered


def test_dashboard_sections(alice, bob, pending):
    page = client_for_user(bob).get(reverse("transfers:dashboard")).content.decode()
    assert "Waiting for me (1)" in page
    assert "Needs attention" in page
    page = client_for_user(alice).get(reverse("transfers:dashboard")).content.decode()
    assert "Waiting for me (0)" in page
    assert f"#{pending.pk}" in page  # under what I requested


def test_history_filters_and_csv(alice, bob, key_set):
    a = new_request(requester=alice, key_set=key_set, amount="1")
    b = new_request(
        requester=alice,
        key_set=key_set,
        amount="2",
        kind="wallet",
        fields={"from_wallet": "fund", "to_wallet": "spot"},
    )
    c = client_for_user(bob)
    page = c.get(reverse("transfers:history"), {"kind": "wallet"}).content.decode()
    assert f"#{b.pk}<" in page
    assert f"#{a.pk}<" not in page
    csv_response = c.get(reverse("transfers:history"), {"format": "csv"})
    assert csv_response["Content-Type"].startswith("text/csv")
    lines = csv_text(csv_response).strip().splitlines()
    assert lines[0].startswith('"id","created_at","status"')
    assert len(lines) == 3
    today = timezone.now().date()
    tomorrow = today + timedelta(days=1)
    assert (
        len(
            csv_text(
                c.get(reverse("transfers:history"), {"format": "csv", "date_from": tomorrow.isoformat()})
            )
            .strip()
            .splitlines()
        )
        == 1
    )


def test_history_csv_neutralises_formulas(alice, key_set):
    from transfers.services.requests import transfer_request_create

    transfer_request_create(
        requester=alice,
        key_set_id=key_set.pk,
        kind="inner",
        asset="USDT",
        amount="1",
        fields={"recipient_type": 1, "recipient_account": str(SUB1_UID), "wallet_type": 1},
        note="=HYPERLINK(1)",
    )
    body = csv_text(client_for_user(alice).get(reverse("transfers:history"), {"format": "csv"}))
    assert "'=HYPERLINK(1)" in body


@pytest.mark.parametrize(
    ("note", "cell"),
    [
        ("x;=1+1", '"x;=1+1"'),
        ("=1+1", '"\'=1+1"'),
        ("+1", '"\'+1"'),
        ("-1", '"\'-1"'),
        ("@SUM(A1)", '"\'@SUM(A1)"'),
        ('say "hi"', '"say ""hi"""'),
    ],
)
def test_history_csv_quotes_every_cell(alice, key_set, note, cell):
    from transfers.services.requests import transfer_request_create

    transfer_request_create(
        requester=alice,
        key_set_id=key_set.pk,
        kind="inner",
        asset="USDT",
        amount="1",
        fields={"recipient_type": 1, "recipient_account": str(SUB1_UID), "wallet_type": 1},
        note=note,
    )
    response = client_for_user(alice).get(reverse("transfers:history"), {"format": "csv"})
    assert "no-store" in response["Cache-Control"]
    lines = csv_text(response).strip().splitlines()
    assert len(lines) == 2
    assert lines[1].endswith("," + cell)
    # Every cell, numbers included, is quoted: a semicolon-locale spreadsheet cannot split one.
    assert re.fullmatch(r'"(?:[^"]|"")*"(?:,"(?:[^"]|"")*")*', lines[1])
    assert lines[1].startswith(f'"=""{TransferRequest.objects.latest("pk").pk}""","')  # id as text


def test_history_shows_only_visible_key_sets(alice, key_set, pending):
    outsider = member("olga", "approver")
    body = csv_text(client_for_user(outsider).get(reverse("transfers:history"), {"format": "csv"}))
    assert len(body.strip().splitlines()) == 1


def test_audit_log_shows_each_person_what_they_may_see(pending, alice, admin1):
    mallory = member("mallory", "requester")  # no grant on the pending request's key set
    assert (
        "transfer.request"
        not in client_for_user(mallory).get(reverse("transfers:audit_log")).content.decode()
    )
    assert "transfer.request" in client_for_user(admin1).get(reverse("transfers:audit_log")).content.decode()
    assert client_for_user(member("vic", "viewer")).get(reverse("transfers:audit_log")).status_code == 200
    root = member("root", is_superuser=True)
    audit_verify_run(full=True)  # beat's task; the page only shows its result (and ?verify=1 enqueues one)
    page = client_for_user(root).get(reverse("transfers:audit_log")).content.decode()
    assert "Chain intact" in page
    assert "transfer.request" in page


def test_address_book_four_eyes_over_http(admin1, admin2, alice):
    c1, c2 = client_for_user(admin1), client_for_user(admin2)
    csrf_post(
        c1, reverse("transfers:recipients"), {"label": "Partner", "recipient_type": 1, "account": "10000009"}
    )
    entry = AllowedRecipient.objects.get()
    assert entry.status == "pending"
    csrf_post(c1, reverse("transfers:recipient_approve", args=[entry.pk]), {})
    entry.refresh_from_db()
    assert entry.status == "pending"  # the requester cannot approve their own entry
    csrf_post(c2, reverse("transfers:recipient_approve", args=[entry.pk]), stepup_data(admin2))
    entry.refresh_from_db()
    assert entry.status == "active"
    assert (
        csrf_post(
            client_for_user(alice),
            reverse("transfers:recipients"),
            {"label": "x", "recipient_type": 1, "account": "1"},
        ).status_code
        == 403
    )
    assert (
        csrf_post(
            client_for_user(alice), reverse("transfers:recipient_remove", args=[entry.pk]), {}
        ).status_code
        == 403
    )


def test_policy_pages_for_admins_only(admin1, admin2, alice, pending):
    assert client_for_user(alice).get(reverse("transfers:policy")).status_code == 200
    assert client_for_user(alice).get(reverse("transfers:policy_rule_new")).status_code == 403
    c = client_for_user(admin1)
    response = csrf_post(
        c,
        reverse("transfers:policy_rule_new"),
        {"position": 10, "name": "big", "required_approvals": 2, "min_amount": "1000", "is_active": "on"},
    )
    assert response.status_code == 302
    assert not PolicyRule.objects.exists()  # proposed only: a second administrator applies it
    change = PolicyChangeRequest.objects.get()
    assert csrf_post(c, reverse("transfers:policy_change_approve", args=[change.pk]), {}).status_code == 302
    assert not PolicyRule.objects.exists()  # the proposer's own approval is refused
    c2 = client_for_user(admin2)
    assert (
        csrf_post(
            c2, reverse("transfers:policy_change_approve", args=[change.pk]), stepup_data(admin2)
        ).status_code
        == 302
    )
    rule = PolicyRule.objects.get()
    assert rule.required_approvals == 2
    pending.refresh_from_db()
    assert pending.status == Status.PENDING  # a rule from 1000 up cannot affect a 25 USDT request
    assert AuditEvent.objects.filter(verb="policy.rule_save").count() == 1


def test_history_csv_has_approvers_failure_reason_and_ids_as_text(alice, bob, carol, key_set):
    import csv
    import io

    from transfers.models import PolicyRule, TransferRequest
    from transfers.services.decisions import transfer_request_approve

    PolicyRule.objects.create(position=1, name="two", required_approvals=2)
    req = new_request(requester=alice, key_set=key_set)
    transfer_request_approve(request_id=req.pk, approver=bob, stepup=stepup_data(bob))
    transfer_request_approve(request_id=req.pk, approver=carol, stepup=stepup_data(carol))
    TransferRequest.objects.filter(pk=req.pk).update(
        status="failed",
        exchange_id="1234567890123456789012",
        failure_code="100202",
        failure_message="Insufficient assets",
    )
    rows = list(
        csv.DictReader(
            io.StringIO(csv_text(client_for_user(alice).get(reverse("transfers:history"), {"format": "csv"})))
        )
    )
    assert len(rows) == 1
    row = rows[0]
    assert row["approved_by"] == "bob; carol"
    assert row["rejected_by"] == ""
    assert row["failure_reason"] == (
        "The source wallet did not hold enough USDT for this transfer; nothing moved. "
        "(BingX code 100202; Insufficient assets)"
    )
    # a 22-digit id stays exact in a spreadsheet: ="…" is shown as that text
    assert row["exchange_id"] == '="1234567890123456789012"'
    assert row["id"] == f'="{req.pk}"'
