"""Menus show only what a person can use (issue 13, part 8): every link answers 200, and pages a
person has no use for are not offered."""

from __future__ import annotations

import re

import pytest

from tests.transfers.test_pages import client_for_user
from tests.transfers.workflow_support import grant, member

pytestmark = pytest.mark.django_db


def nav_of(user) -> dict[str, int]:
    client = client_for_user(user)
    html = client.get("/").content.decode()
    nav = html[html.index("<nav") : html.index("</nav>")]
    return {
        re.sub(r"<[^>]+>|\s*\(\d+\)", "", text).strip(): client.get(href).status_code
        for href, text in re.findall(r'<a href="([^"]+)"[^>]*>(.*?)</a>', nav)
    }


def test_requester_gets_new_transfer_but_no_approvals_or_audit_log(key_set):
    rita = member("rita", "requester")
    grant(key_set, rita, request=True)
    nav = nav_of(rita)
    assert "New transfer" in nav
    assert "Approvals" not in nav
    assert "Audit log" not in nav
    assert set(nav.values()) == {200}  # nothing offered answers 403


def test_approver_gets_approvals_and_audit_log_but_no_request_form(key_set):
    abe = member("abe", "approver")
    grant(key_set, abe, approve=True)
    nav = nav_of(abe)
    assert "Approvals" in nav
    assert "Audit log" in nav
    assert "New transfer" not in nav
    assert set(nav.values()) == {200}


def test_viewer_without_grants_sees_neither_form_nor_queue(db):
    vic = member("vic", "viewer")
    nav = nav_of(vic)
    assert {"New transfer", "Approvals", "Audit log", "People", "Rules"}.isdisjoint(nav)
    assert set(nav.values()) == {200}


def test_auditor_and_administrator_see_the_audit_log(db):
    for user in (member("audrey", "auditor"), member("adam", "administrator")):
        nav = nav_of(user)
        assert "Audit log" in nav
        assert set(nav.values()) == {200}


def test_the_request_form_is_not_offered_to_people_who_cannot_submit_it(key_set):
    from django.urls import reverse

    from tests.transfers.test_pages import csrf_post

    vic = member("vic", "viewer")
    grant(key_set, vic)  # view only
    client = client_for_user(vic)
    page = client.get(reverse("transfers:request_new")).content.decode()
    assert 'id="cannot-request"' in page
    assert "<form" not in page.split("<main")[1]
    response = csrf_post(client, reverse("transfers:request_new"), {"kind": "wallet", "key_set": key_set.pk})
    assert response.status_code == 403


def test_a_key_set_whose_verification_failed_offers_no_activate_button(admin1, admin2):
    from django.urls import reverse

    from accounts.models import KeySetStatus
    from tests.factories import ApiKeySetFactory

    ks = ApiKeySetFactory(
        label="Bad key",
        status=KeySetStatus.PENDING_ACTIVATION,
        created_by=admin1,
        secret_changed_by=admin1,
        verification={"ok": False, "error": "wrong key or secret"},
    )
    page = client_for_user(admin2).get(reverse("accounts:keyset_detail", args=[ks.pk])).content.decode()
    assert 'id="cannot-activate"' in page
    assert reverse("accounts:keyset_activate", args=[ks.pk]) not in page
