"""Lists that work (issue 13, part 8): sortable columns (whitelisted), substring filters, whole-row
links, the queue's approvals-so-far, note and duplicate flag."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from tests.stepup_support import stepup_data
from tests.transfers.test_pages import client_for_user
from tests.transfers.workflow_support import new_request
from transfers.models import PolicyRule, TransferRequest
from transfers.services.decisions import transfer_request_approve

pytestmark = pytest.mark.django_db


def row_ids(html: str, table_id: str) -> list[int]:
    section = html[html.index(f'id="{table_id}"') :]
    return [int(n) for n in re.findall(r'<tr class="row-link" data-href="/transfers/(\d+)/"', section)]


def test_history_sorts_by_a_whitelisted_column_and_ignores_others(alice, bob, key_set):
    a = new_request(requester=alice, key_set=key_set, amount="300")
    b = new_request(requester=alice, key_set=key_set, amount="25")
    c = new_request(requester=alice, key_set=key_set, amount="1000")
    client = client_for_user(bob)
    get = lambda **q: client.get(reverse("transfers:history"), q).content.decode()  # noqa: E731
    assert row_ids(get(sort="amount"), "history") == [b.pk, a.pk, c.pk]
    assert row_ids(get(sort="-amount"), "history") == [c.pk, a.pk, b.pk]
    newest_first = [c.pk, b.pk, a.pk]
    assert row_ids(get(), "history") == newest_first
    for bad in ("requested_by__password", "--amount", "amount;drop", "payload"):
        assert row_ids(get(sort=bad), "history") == newest_first  # not whitelisted: the default order
    html = get(sort="amount")
    assert 'aria-sort="ascending"><a class="sort" href="?sort=-amount">Amount ▲</a>' in html


def test_history_requester_filter_is_a_substring_of_username_or_name(alice, bob, key_set):
    get_user_model().objects.filter(pk=alice.pk).update(first_name="Alice", last_name="Liddell")
    req = new_request(requester=alice, key_set=key_set)
    client = client_for_user(bob)
    for text in ("ali", "LIC", "liddell", "Alice"):
        html = client.get(reverse("transfers:history"), {"requester": text}).content.decode()
        assert row_ids(html, "history") == [req.pk], text
    html = client.get(reverse("transfers:history"), {"requester": "bob"}).content.decode()
    assert row_ids(html, "history") == []


def test_queue_shows_approvals_so_far_note_and_flags_duplicates(alice, bob, carol, key_set):
    PolicyRule.objects.create(position=1, name="two", required_approvals=2)
    first = new_request(requester=alice, key_set=key_set, amount="25")
    TransferRequest.objects.filter(pk=first.pk).update(note="rent for March")
    second = new_request(requester=alice, key_set=key_set, amount="25")  # identical, minutes later
    other = new_request(requester=alice, key_set=key_set, amount="26")
    transfer_request_approve(request_id=first.pk, approver=carol, stepup=stepup_data(carol))
    html = client_for_user(bob).get(reverse("transfers:queue")).content.decode()
    rows = {
        pk: html[html.index(f'id="row-{pk}"') :].split("</tr>")[0] for pk in (first.pk, second.pk, other.pk)
    }
    assert '<td class="num approvals">1 of 2</td>' in rows[first.pk]
    assert '<td class="num approvals">0 of 2</td>' in rows[second.pk]
    assert "rent for March" in rows[first.pk]
    assert "duplicate?" in rows[first.pk]
    assert "duplicate?" in rows[second.pk]
    assert "duplicate?" not in rows[other.pk]


def test_whole_rows_link_to_the_request(alice, bob, key_set):
    req = new_request(requester=alice, key_set=key_set)
    html = client_for_user(bob).get(reverse("transfers:queue")).content.decode()
    assert f'<tr class="row-link" data-href="/transfers/{req.pk}/" id="row-{req.pk}">' in html
    assert "js/row_links.js" in html


def test_history_shows_approvals_so_far_in_default_and_approvals_order(alice, bob, carol, key_set):
    """History counts each shown row's approvals from its decisions (a rejection is not one), and
    sorts by that count when asked."""
    from transfers.services.decisions import transfer_request_reject

    PolicyRule.objects.create(position=1, name="two", required_approvals=2)
    approved_once = new_request(requester=alice, key_set=key_set, amount="25")
    rejected = new_request(requester=alice, key_set=key_set, amount="26")
    untouched = new_request(requester=alice, key_set=key_set, amount="27")
    transfer_request_approve(request_id=approved_once.pk, approver=carol, stepup=stepup_data(carol))
    transfer_request_reject(
        request_id=rejected.pk, approver=carol, stepup=stepup_data(carol), comment="wrong wallet"
    )
    client = client_for_user(bob)
    for sort in ("", "approvals", "-approvals"):
        html = client.get(reverse("transfers:history"), {"sort": sort} if sort else {}).content.decode()
        cells = {
            pk: html[html.index(f'id="row-{pk}"') :].split("</tr>")[0]
            for pk in (approved_once.pk, rejected.pk, untouched.pk)
        }
        assert '<td class="num approvals">1 of 2</td>' in cells[approved_once.pk], sort
        assert '<td class="num approvals">0 of 2</td>' in cells[rejected.pk], sort
        assert '<td class="num approvals">0 of 2</td>' in cells[untouched.pk], sort
        if sort == "-approvals":
            assert row_ids(html, "history")[0] == approved_once.pk
