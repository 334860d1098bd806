"""Balance Refresh through a real Celery worker: the page returns at once, the worker reads the
sandbox exchange, and the page's poll sees the refresh finish (progress is a database row, so the
web process sees what the worker wrote without a shared cache)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.test import Client

from accounts.models import BalanceSnapshot
from tests.transfers.execution_support import MAIN_UID, Sandbox, make_key_set, wait_for
from tests.transfers.workflow_support import grant, member

pytestmark = [pytest.mark.worker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_refresh_runs_on_the_worker_and_the_page_follows_it(start_worker: Any, sandbox: Sandbox) -> None:
    start_worker()
    key_set = make_key_set(sandbox=sandbox, uid=MAIN_UID, label="demo main")
    viewer = member("vic", "viewer")
    grant(key_set, viewer)
    web = Client()
    web.force_login(viewer)
    assert web.get(f"/keys/{key_set.pk}/").status_code == 200  # warm: imports, templates

    started = time.monotonic()
    response = web.post(f"/keys/{key_set.pk}/refresh/")
    returned = time.monotonic() - started
    assert response.status_code == 302
    poll = f"/keys/{key_set.pk}/refresh/progress/"

    def finished() -> Any:
        answer = web.get(poll, HTTP_HX_REQUEST="true")
        return answer if answer.headers.get("HX-Refresh") == "true" else None

    answer = wait_for(finished, timeout=60, interval=0.25, what="the refresh to finish")
    done = time.monotonic() - started
    print(f"\nRefresh returned in {returned:.2f} s; the worker finished it {done:.2f} s after the click")
    assert returned < 3.0  # no exchange call in the page (was 30 s with the exchange frozen)
    assert "Refreshed" in answer.content.decode()
    assert BalanceSnapshot.objects.filter(key_set=key_set).exists()
    assert (
        "10,000" in web.get(f"/keys/{key_set.pk}/").content.decode()
        or "10000" in web.get(f"/keys/{key_set.pk}/").content.decode()
    )
