"""The shared limiter keeps BingX's limit on *arrivals*: calls that reach the exchange late (a slow
connection, a busy worker between token and send) still never put limit+1 calls inside one of the
strict sandbox's sliding 1 s windows. Real client, real sandbox over HTTP, file-backed limiter."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from accounts.models import ApiKeySet
from bingx.endpoints import TRANSFER_RECORDS
from exchange.clients import client_for
from tests.transfers.execution_support import Sandbox

pytestmark = [pytest.mark.django_db(transaction=True)]

SEND_DELAY_S = 0.3  # between the token and the request leaving the machine


def _slow_to_send(client: Any) -> None:
    take_token = client.before_request

    def before_request(method: str, path: str) -> None:
        take_token(method, path)
        time.sleep(SEND_DELAY_S)

    client.before_request = before_request


def test_late_arrivals_never_crowd_a_sliding_window(
    sandbox: Sandbox, main_key_set: ApiKeySet, limiter_dir: Any, settings: Any
) -> None:
    settings.BINGX_RATE_LIMIT_SCALE = 1.0
    assert TRANSFER_RECORDS.per_uid_limit == 2
    slow = [client_for(key_set=main_key_set) for _ in range(2)]
    for client in slow:
        _slow_to_send(client)
    errors: list[BaseException] = []

    def read(client: Any) -> None:
        try:
            client.transfer_records(from_account="fund", to_account="spot")
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=read, args=(c,)) for c in slow]
    for thread in threads:
        thread.start()
    time.sleep(0.05)  # both tokens are granted; both calls are still on their way
    sandbox.server.clear_journal()
    client_for(key_set=main_key_set).transfer_records(from_account="fund", to_account="spot")
    for thread in threads:
        thread.join()

    assert errors == []
    calls = sorted(sandbox.server.journal(path=TRANSFER_RECORDS.path), key=lambda c: c["time_ms"])
    assert [c["code"] for c in calls] == [0, 0, 0]
    # The third arrived a full window after the late ones, not a window after their tokens.
    assert calls[2]["time_ms"] - calls[0]["time_ms"] >= 1000
