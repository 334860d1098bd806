"""The database fails after an approval committed, when the session is saved: the approver must not
be told it failed (finding: HTTP 400 for a recorded approval), and the page shows the truth."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import connection
from django.urls import reverse

from tests.stepup_support import stepup_data
from tests.transfers.test_pages import approve_url, client_for_user, csrf_post
from transfers.models import Approval, Status


@pytest.fixture
def session_writes_fail() -> Iterator[callable]:  # type: ignore[valid-type]
    """A real database error on every write to the session table, switched on by the test."""
    statements = {
        "sqlite": (
            [
                "CREATE TRIGGER session_down_u BEFORE UPDATE ON django_session "
                "BEGIN SELECT RAISE(ABORT, 'database unavailable'); END",
                "CREATE TRIGGER session_down_i BEFORE INSERT ON django_session "
                "BEGIN SELECT RAISE(ABORT, 'database unavailable'); END",
            ],
            ["DROP TRIGGER IF EXISTS session_down_u", "DROP TRIGGER IF EXISTS session_down_i"],
        ),
        "postgresql": (
            [
                "CREATE FUNCTION session_down() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'database unavailable'; END $$",
                "CREATE TRIGGER session_down BEFORE INSERT OR UPDATE ON django_session "
                "FOR EACH ROW EXECUTE FUNCTION session_down()",
            ],
            [
                "DROP TRIGGER IF EXISTS session_down ON django_session",
                "DROP FUNCTION IF EXISTS session_down()",
            ],
        ),
    }[connection.vendor]

    def run(sql: list[str]) -> None:
        with connection.cursor() as cursor:
            for statement in sql:
                cursor.execute(statement)

    yield lambda: run(statements[0])
    run(statements[1])


@pytest.mark.django_db(transaction=True)
def test_an_approval_recorded_before_the_session_save_fails_is_not_reported_as_failed(
    pending, bob, executed, session_writes_fail, django_capture_on_commit_callbacks
):
    c = client_for_user(bob)
    c.get(reverse("transfers:dashboard"))  # CSRF cookie and a saved session first
    session_writes_fail()
    with django_capture_on_commit_callbacks(execute=True):
        response = csrf_post(c, approve_url(pending), {**stepup_data(bob), "comment": "fine"})
    # The view's own answer (back to the request page), not 400 "session was deleted".
    assert response.status_code == 302
    assert response["Location"] == reverse("transfers:request_detail", args=[pending.pk])
    pending.refresh_from_db()
    assert pending.status == Status.APPROVED
    assert Approval.objects.filter(request=pending, approver=bob).exists()


@pytest.mark.django_db(transaction=True)
def test_reloading_the_page_shows_the_recorded_approval(
    pending, bob, executed, session_writes_fail, django_capture_on_commit_callbacks
):
    c = client_for_user(bob)
    c.get(reverse("transfers:dashboard"))
    session_writes_fail()
    with django_capture_on_commit_callbacks(execute=True):
        csrf_post(c, approve_url(pending), {**stepup_data(bob), "comment": "fine"})
    page = c.get(reverse("transfers:request_detail", args=[pending.pk]))
    assert page.status_code == 200
    assert "Approved" in page.content.decode()
