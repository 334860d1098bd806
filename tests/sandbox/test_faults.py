"""Each fault mode: what the client observes, and whether the call was applied (per journal)."""

from __future__ import annotations

import time

import pytest
import requests

from bingx.sandbox import SandboxServer

from .conftest import MAIN, Client, wallet

TRANSFER = "/openApi/api/asset/v1/transfer"
PARAMS = {"fromAccount": "fund", "toAccount": "spot", "asset": "USDT", "amount": "10"}


def _arm(sandbox: SandboxServer, **body: object) -> None:
    r = requests.post(f"{sandbox.base_url}/_sandbox/faults", json={"path": TRANSFER, **body}, timeout=5)
    assert r.status_code == 200, r.text


def test_lose_response_after_apply(sandbox: SandboxServer, main: Client) -> None:
    _arm(sandbox, mode="lose_response_after_apply")
    with pytest.raises(requests.ConnectionError) as exc_info:
        main.post(TRANSFER, PARAMS)
    assert "RemoteDisconnected" in repr(exc_info.value) or "reset" in repr(exc_info.value).lower()
    assert wallet(sandbox, MAIN, "spot", "USDT") == "2510"
    call = sandbox.journal(path=TRANSFER)[-1]
    assert call["applied"] is True
    assert call["fault"] == "lose_response_after_apply"
    assert call["http_status"] is None
    assert call["transfer_id"]
    # The transfer is visible in the records, so a client can reconcile.
    rec = main.get("/openApi/api/v3/asset/transferRecord", {"transferId": call["transfer_id"]}).json()
    assert rec["total"] == 1
    # The fault was used up: the next call answers normally.
    assert main.post(TRANSFER, PARAMS).json()["code"] == 0


def test_timeout_before_apply(sandbox: SandboxServer, main: Client) -> None:
    _arm(sandbox, mode="timeout_before_apply", delay=0.6)
    with pytest.raises(requests.Timeout):
        main.request("POST", TRANSFER, PARAMS, timeout=0.2)
    time.sleep(0.6)
    assert wallet(sandbox, MAIN, "spot", "USDT") == "2500"
    call = sandbox.journal(path=TRANSFER)[-1]
    assert call["applied"] is False
    assert call["fault"] == "timeout_before_apply"


def test_timeout_before_apply_drops_after_delay(sandbox: SandboxServer, main: Client) -> None:
    _arm(sandbox, mode="timeout_before_apply", delay=0.1)
    with pytest.raises(requests.ConnectionError):
        main.post(TRANSFER, PARAMS)
    assert wallet(sandbox, MAIN, "spot", "USDT") == "2500"


def test_http_500(sandbox: SandboxServer, main: Client) -> None:
    _arm(sandbox, mode="http_500")
    r = main.post(TRANSFER, PARAMS)
    assert r.status_code == 500
    assert wallet(sandbox, MAIN, "spot", "USDT") == "2500"
    call = sandbox.journal(path=TRANSFER)[-1]
    assert call["applied"] is False
    assert call["http_status"] == 500


def test_http_504_after_apply(sandbox: SandboxServer, main: Client) -> None:
    _arm(sandbox, mode="http_504_after_apply", count=2)
    assert main.post(TRANSFER, PARAMS).status_code == 504
    assert main.post(TRANSFER, PARAMS).status_code == 504
    assert main.post(TRANSFER, PARAMS).status_code == 200
    assert wallet(sandbox, MAIN, "spot", "USDT") == "2530"
    calls = sandbox.journal(path=TRANSFER)
    assert [(c["applied"], c["http_status"], c["fault"]) for c in calls] == [
        (True, 504, "http_504_after_apply"),
        (True, 504, "http_504_after_apply"),
        (True, 200, None),
    ]


def test_error_code(sandbox: SandboxServer, main: Client) -> None:
    _arm(sandbox, mode="error_code", code=100500, msg="The current system is busy, please try again later")
    body = main.post(TRANSFER, PARAMS).json()
    assert body["code"] == 100500
    assert body["msg"].startswith("The current system is busy")
    assert isinstance(body["timestamp"], int)
    assert wallet(sandbox, MAIN, "spot", "USDT") == "2500"
    assert sandbox.journal(path=TRANSFER)[-1]["applied"] is False


def test_fault_listing_and_clearing(sandbox: SandboxServer) -> None:
    _arm(sandbox, mode="http_500", count=3)
    listed = requests.get(f"{sandbox.base_url}/_sandbox/faults", timeout=5).json()["faults"]
    assert listed == [
        {"path": TRANSFER, "mode": "http_500", "count": 3, "code": None, "msg": None, "delay": None}
    ]
    requests.delete(f"{sandbox.base_url}/_sandbox/faults", timeout=5)
    assert requests.get(f"{sandbox.base_url}/_sandbox/faults", timeout=5).json()["faults"] == []
    bad = requests.post(
        f"{sandbox.base_url}/_sandbox/faults", json={"path": TRANSFER, "mode": "nope"}, timeout=5
    )
    assert bad.status_code == 400
