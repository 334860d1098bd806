"""Control API contract: state (masked), reset, journal filters, accounts, persistence and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import requests

from bingx.sandbox import SandboxServer, make_app

from .conftest import MAIN, SEED, SEED_PATH, Client, client_for, wallet

TRANSFER = "/openApi/api/asset/v1/transfer"
PARAMS = {"fromAccount": "fund", "toAccount": "spot", "asset": "USDT", "amount": "10"}


def test_state_masks_secrets(sandbox: SandboxServer) -> None:
    state = requests.get(f"{sandbox.base_url}/_sandbox/state", timeout=5).json()
    keys = [k for a in state["accounts"] for k in a["api_keys"]]
    assert keys
    assert all(k["secret"] == "***" for k in keys)
    assert set(state["accounts"][0]["wallets"]) == {"fund", "spot", "stdFutures", "USDTMPerp", "coinMPerp"}
    assert "records" in state
    slim = requests.get(f"{sandbox.base_url}/_sandbox/state?records=false", timeout=5).json()
    assert "records" not in slim
    assert slim["record_counts"]["inner"] == 3


def test_reset_to_original_and_custom_seed(sandbox: SandboxServer, main: Client) -> None:
    main.post(TRANSFER, PARAMS)
    assert wallet(sandbox, MAIN, "spot", "USDT") == "2510"
    assert requests.post(f"{sandbox.base_url}/_sandbox/reset", timeout=5).json() == {"ok": True}
    assert wallet(sandbox, MAIN, "spot", "USDT") == "2500"
    assert sandbox.journal() == []
    custom = {"accounts": [{"uid": 1, "wallets": {"fund": {"USDT": "5"}}, "api_keys": []}]}
    requests.post(f"{sandbox.base_url}/_sandbox/reset", json=custom, timeout=5)
    assert [a["uid"] for a in sandbox.snapshot()["accounts"]] == [1]


def test_journal_filters_and_fields(sandbox: SandboxServer, main: Client) -> None:
    main.get("/openApi/account/v1/uid")
    main.post(TRANSFER, PARAMS)
    calls = requests.get(f"{sandbox.base_url}/_sandbox/journal", timeout=5).json()["calls"]
    assert len(calls) == 2
    c = calls[1]
    assert set(c) >= {
        "seq", "time_ms", "method", "path", "params", "uid", "api_key_last4",
        "http_status", "code", "applied", "transfer_id", "fault",
    }  # fmt: skip
    assert "signature" not in c["params"]
    assert c["params"]["amount"] == "10"
    assert c["uid"] == MAIN
    assert c["api_key_last4"] == (main.api_key or "")[-4:]
    only = requests.get(f"{sandbox.base_url}/_sandbox/journal", params={"path": TRANSFER}, timeout=5).json()[
        "calls"
    ]
    assert [x["path"] for x in only] == [TRANSFER]
    since = requests.get(
        f"{sandbox.base_url}/_sandbox/journal", params={"since_seq": calls[0]["seq"]}, timeout=5
    )
    assert [x["seq"] for x in since.json()["calls"]] == [calls[1]["seq"]]
    requests.delete(f"{sandbox.base_url}/_sandbox/journal", timeout=5)
    assert requests.get(f"{sandbox.base_url}/_sandbox/journal", timeout=5).json()["calls"] == []


def test_add_account_via_http(sandbox: SandboxServer) -> None:
    acct = {
        "uid": 40000001,
        "email": "new@example.com",
        "wallets": {"fund": {"USDT": "3"}},
        "api_keys": [{"api_key": "new-key", "secret": "new-secret", "permissions": [2]}],
    }
    r = requests.post(f"{sandbox.base_url}/_sandbox/accounts", json=acct, timeout=5)
    assert r.status_code == 200
    assert r.json()["api_keys"][0]["secret"] == "***"
    assert (
        Client(sandbox.base_url, "new-key", "new-secret").get("/openApi/account/v1/uid").json()["data"]["uid"]
        == 40000001
    )
    assert requests.post(f"{sandbox.base_url}/_sandbox/accounts", json=acct, timeout=5).status_code == 400


def test_state_persists_across_restarts(tmp_path: Path) -> None:
    state_file = tmp_path / "state.json"
    with SandboxServer(seed=SEED_PATH, state_path=state_file, rate_limits_enabled=False) as s:
        client_for(s, MAIN).post(TRANSFER, PARAMS)
    assert json.loads(state_file.read_text())["accounts"][0]["api_keys"][0]["secret"] != "***"
    with SandboxServer(seed=SEED_PATH, state_path=state_file) as s:
        assert wallet(s, MAIN, "spot", "USDT") == "2510"
        rows = client_for(s, MAIN).get("/openApi/api/v3/asset/transferRecord", {"toAccount": "spot"}).json()
        assert rows["total"] == 1


def test_make_app_is_a_wsgi_callable() -> None:
    app = make_app(SEED, strict=True)
    seen: list[str] = []
    out = app(
        {"REQUEST_METHOD": "GET", "PATH_INFO": "/openApi/swap/v2/server/time", "QUERY_STRING": ""},
        lambda status, headers, exc_info=None: seen.append(status),
    )
    assert seen == ["200 OK"]
    assert json.loads(b"".join(out))["code"] == 0


def test_cli_prints_url_and_serves(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bingx.sandbox",
            "--port",
            "0",
            "--seed",
            str(SEED_PATH),
            "--state",
            str(tmp_path / "s.json"),
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("BingX sandbox listening on http://127.0.0.1:")
        url = line.rsplit(" ", 1)[1]
        deadline = time.monotonic() + 5
        while True:
            try:
                assert requests.get(url + "/openApi/swap/v2/server/time", timeout=2).json()["code"] == 0
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        assert (tmp_path / "s.json").exists()
    finally:
        proc.terminate()
        proc.wait(5)
