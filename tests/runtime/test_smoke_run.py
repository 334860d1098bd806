"""The README's run command, for real: `bin/run` in a temporary var dir on free ports (fresh SQLite,
generated keys, the demo seed), then the two-person flow over HTTP against the sandbox process, then
Ctrl-C (SIGINT to honcho) and no process left behind.

Embedded default (SQLite + filesystem broker) always; the same with Redis as broker and rate-limit
store when REDIS_URL is set (CI). Slow by nature (about a minute on two cores): it starts gunicorn,
a Celery worker, beat and the sandbox, each importing Django.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyotp
import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
SEED = json.loads((ROOT / "bingx" / "sandbox" / "seeds" / "demo.json").read_text())
WALLET_TRANSFER = "/openApi/api/asset/v1/transfer"
MAIN_UID = 10000001
START_TIMEOUT_S = 240  # bootstrap check, migrate, collectstatic, demo seed, four processes
EXECUTE_TIMEOUT_S = 60
STOP_TIMEOUT_S = 20

pytestmark = [pytest.mark.slow, pytest.mark.worker, pytest.mark.timeout(600)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def descendants(pid: int) -> set[int]:
    """Every process below `pid` (from /proc), so the test can prove none survives."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is gone for our purposes
        return " Z " not in Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1][:4]
    except OSError:
        return False


@dataclass
class Desk:
    process: subprocess.Popen[bytes]
    var_dir: Path
    log_path: Path
    url: str
    sandbox_url: str
    pids: set[int] = field(default_factory=set)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def logins(self) -> dict[str, str]:
        found = {}
        for line in (self.var_dir / "demo-logins.txt").read_text().splitlines():
            parts = line.split()
            if len(parts) >= 2 and not line.startswith("#"):
                found[parts[0]] = parts[1]
        return found

    def totp_secrets(self) -> dict[str, str]:
        found = {}
        for line in (self.var_dir / "demo-logins.txt").read_text().splitlines():
            parts = line.split()
            if len(parts) >= 3 and not line.startswith("#"):
                found[parts[0]] = parts[2]
        return found

    def stop(self) -> int:
        """Ctrl-C: SIGINT to honcho only (it runs in its own session, as in a terminal)."""
        self.pids |= descendants(self.process.pid)
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            return -999


HEALTH_TOKEN = "smoke-health-token"


def clean_env(**extra: str) -> dict[str, str]:
    """What a newcomer's shell has: no test settings, no DJANGO_* leaking in from this pytest process."""
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "USER", "TERM")}
    env.update(extra)
    return env


@pytest.fixture(params=["embedded", "redis"])
def desk(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Desk]:
    env_extra = {}
    if request.param == "redis":
        url = request.getfixturevalue("redis_url")
        # A fresh desk starts with empty queues: messages other tests left in this Redis database
        # (for their key sets, their sandboxes) are not this desk's work. The suite runs serially.
        # The rate limiter's keys stay: a store found empty waits out a whole window, by design.
        import redis

        store = redis.Redis.from_url(url)
        stale = [key for key in store.scan_iter() if not key.startswith(b"bingxadmin:rl:")]
        if stale:
            store.delete(*stale)
        env_extra["REDIS_URL"] = url
    var_dir = tmp_path / "var"
    port, sandbox_port = free_port(), free_port()
    log_path = tmp_path / "run.log"
    env = clean_env(
        BINGXADMIN_VAR_DIR=str(var_dir),
        PORT=str(port),
        SANDBOX_PORT=str(sandbox_port),
        TMPDIR=str(tmp_path),
        HEALTH_TOKEN=HEALTH_TOKEN,
        **env_extra,
    )
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [str(ROOT / "bin" / "run")],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    running = Desk(process, var_dir, log_path, f"http://127.0.0.1:{port}", f"http://127.0.0.1:{sandbox_port}")
    try:
        yield running
    finally:
        if process.poll() is None:
            running.stop()
        if process.poll() is None:  # never leave a stack behind, even when the test failed
            for pid in {process.pid, *running.pids}:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, signal.SIGKILL)
        print(running.log()[-8000:])  # shown by pytest when the test fails


def wait_healthy(desk: Desk) -> dict[str, Any]:
    deadline = time.monotonic() + START_TIMEOUT_S
    last: Any = None
    while time.monotonic() < deadline:
        if desk.process.poll() is not None:
            pytest.fail(f"bin/run exited with {desk.process.returncode}:\n{desk.log()[-5000:]}")
        try:
            response = requests.get(
                f"{desk.url}/health", headers={"Authorization": f"Bearer {HEALTH_TOKEN}"}, timeout=5
            )
            last = response.json()
            if response.status_code == 200 and last["status"] == "ok":
                return last
        except (requests.RequestException, ValueError) as exc:
            last = exc
        time.sleep(1)
    pytest.fail(f"/health never became ok within {START_TIMEOUT_S} s (last: {last}):\n{desk.log()[-5000:]}")


def login(desk: Desk, username: str, password: str, secret: str) -> requests.Session:
    session = requests.Session()
    session.get(f"{desk.url}/login/", timeout=10).raise_for_status()
    response = session.post(
        f"{desk.url}/login/",
        data={
            "username": username,
            "password": password,
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
        },
        timeout=10,
        allow_redirects=False,
    )
    assert response.status_code == 302, f"login as {username} failed: {response.status_code}"
    # The second step: the demo user's authenticator-app code (its secret is in the logins file).
    second = session.post(
        f"{desk.url}/account/second-factor/",
        data={"stepup_code": pyotp.TOTP(secret).now(), "csrfmiddlewaretoken": session.cookies["csrftoken"]},
        timeout=10,
        allow_redirects=False,
    )
    assert second.status_code == 302, f"second factor of {username} failed: {second.status_code}"
    return session


def next_code(secret: str) -> str:
    """The next 30-second step's code: the current one was spent on the login (a code works once)."""
    return pyotp.TOTP(secret).at(time.time() + 30)


def csrf_post(session: requests.Session, url: str, data: dict[str, Any]) -> requests.Response:
    return session.post(
        url,
        data={**data, "csrfmiddlewaretoken": session.cookies["csrftoken"]},
        headers={"Referer": url},
        timeout=30,
        allow_redirects=False,
    )


def sandbox_wallet(desk: Desk, uid: int, wallet: str, asset: str) -> Decimal:
    state = requests.get(f"{desk.sandbox_url}/_sandbox/state?records=false", timeout=10).json()
    account = next(a for a in state["accounts"] if a["uid"] == uid)
    return Decimal(account["wallets"].get(wallet, {}).get(asset, "0"))


def db_request(desk: Desk, pk: int) -> tuple[str, str]:
    with sqlite3.connect(desk.var_dir / "db.sqlite3", timeout=30) as db:
        row = db.execute(
            "SELECT status, exchange_id FROM transfers_transferrequest WHERE id = ?", (pk,)
        ).fetchone()
    return str(row[0]), str(row[1])


def test_run_command_two_person_flow_over_http_then_ctrl_c(desk: Desk):
    started = time.monotonic()
    health = wait_healthy(desk)
    assert health["database"]["ok"]
    assert health["broker"]["ok"]
    assert health["workers"]["workers"]
    boot_s = time.monotonic() - started
    out = desk.log()
    logins = desk.logins()
    for name in ("admin", "admin2", "alice", "bob", "victor"):
        assert f"{name} " in out  # the run command printed every login with its password
        assert logins[name] in out
    assert desk.url in out

    fund_before = sandbox_wallet(desk, MAIN_UID, "fund", "USDT")
    spot_before = sandbox_wallet(desk, MAIN_UID, "spot", "USDT")

    # alice asks for 12.5 USDT from the main account's funding wallet to its spot wallet.
    secrets = desk.totp_secrets()
    alice = login(desk, "alice", logins["alice"], secrets["alice"])
    form_url = f"{desk.url}/transfers/new/?kind=wallet"
    page = alice.get(form_url, timeout=10)
    assert page.status_code == 200
    match = re.search(r'<option value="(\d+)"[^>]*>\s*Demo main 10000001', page.text)
    assert match, "the main demo key set is not offered to alice"
    created = csrf_post(
        alice,
        f"{desk.url}/transfers/new/",
        {
            "kind": "wallet",
            "key_set": match.group(1),
            "asset": "USDT",
            "amount": "12.5",
            "from_wallet": "fund",
            "to_wallet": "spot",
            "note": "smoke test",
        },
    )
    assert created.status_code == 302, created.text[:3000]
    pk = int(re.search(r"/transfers/(\d+)/", created.headers["Location"]).group(1))  # type: ignore[union-attr]
    detail_url = f"{desk.url}/transfers/{pk}/"
    assert 'data-status="pending"' in alice.get(detail_url, timeout=10).text

    # alice cannot approve her own request, even with her second factor.
    csrf_post(alice, f"{desk.url}/transfers/{pk}/approve/", {"stepup_code": next_code(secrets["alice"])})
    assert db_request(desk, pk)[0] == "pending"

    # bob, in his own session, approves with his second factor (step-up); the worker executes it.
    bob = login(desk, "bob", logins["bob"], secrets["bob"])
    assert bob.get(detail_url, timeout=10).status_code == 200
    wrong = csrf_post(bob, f"{desk.url}/transfers/{pk}/approve/", {"password": logins["bob"]})
    assert wrong.status_code in (200, 302, 400)
    assert db_request(desk, pk)[0] == "pending"
    approved = csrf_post(
        bob,
        f"{desk.url}/transfers/{pk}/approve/",
        {"stepup_code": next_code(secrets["bob"]), "comment": "ok"},
    )
    assert approved.status_code == 302, approved.text[:3000]
    approved_at = time.monotonic()

    status = ""
    deadline = time.monotonic() + EXECUTE_TIMEOUT_S
    while time.monotonic() < deadline:
        found = re.search(r'data-status="(\w+)"', bob.get(detail_url, timeout=10).text)
        status = found.group(1) if found else ""
        if status in ("succeeded", "failed", "unknown"):
            break
        time.sleep(0.5)
    assert status == "succeeded", f"request ended {status!r}:\n{desk.log()[-5000:]}"
    execute_s = time.monotonic() - approved_at
    db_status, exchange_id = db_request(desk, pk)
    assert db_status == "succeeded"
    assert exchange_id

    # The exchange saw exactly one transfer, and the money moved once.
    calls = requests.get(f"{desk.sandbox_url}/_sandbox/journal", params={"path": WALLET_TRANSFER}, timeout=10)
    applied = [c for c in calls.json()["calls"] if c.get("applied")]
    assert len(applied) == 1, calls.json()
    assert sandbox_wallet(desk, MAIN_UID, "fund", "USDT") == fund_before - Decimal("12.5")
    assert sandbox_wallet(desk, MAIN_UID, "spot", "USDT") == spot_before + Decimal("12.5")

    # Ctrl-C: everything stops, nothing is left running.
    pids = descendants(desk.process.pid)
    assert len(pids) >= 4  # sandbox, gunicorn (+ workers), celery worker (+ pool), beat
    stop_started = time.monotonic()
    rc = desk.stop()
    stop_s = time.monotonic() - stop_started
    assert rc != -999, "honcho did not exit after SIGINT"
    time.sleep(0.5)
    survivors = [pid for pid in pids | desk.pids if alive(pid)]
    assert survivors == [], f"still running after Ctrl-C: {survivors}"

    log = desk.log()
    for account in SEED["accounts"]:
        for key in account["api_keys"]:
            assert key["secret"] not in log
            assert key["api_key"] not in log
    assert "Traceback" not in log, log[-5000:]
    # REMAP_SIGTERM=SIGQUIT: the worker takes Celery's cold-shutdown path (unacked messages go back to
    # the broker). Its first line is printed as the path starts; "Cold shutdown" only after billiard's
    # pool children exited (each sleeps 1 s in its exit), which a loaded machine can push past the grace.
    assert "worker: Hitting Ctrl+C again will terminate all running tasks!" in log
    # honcho SIGKILLs whatever still runs 5 s after SIGTERM; on a busy machine that can be the worker's
    # last second of teardown (after its messages were restored). Everything else stops by itself.
    killed = re.findall(r"sending SIGKILL to ([\w.]+)", log)
    assert set(killed) <= {"worker.1"}, killed
    print(
        f"smoke: ready in {boot_s:.1f} s, executed {execute_s:.1f} s after approval, "
        f"stopped in {stop_s:.1f} s{' (worker SIGKILLed in teardown)' if killed else ''}"
    )
