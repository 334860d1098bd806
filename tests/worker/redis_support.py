"""A throw-away redis-server the test can restart (never the shared one), and Celery workers run the way
bin/run runs them: under bin/respawn, which restarts a worker that exits with back-off.

`redis_server` starts `redis-server` on a free port without persistence (`--save '' --appendonly no`)
in the test's temporary folder; `restart()` SIGKILLs it and starts it again on the same port, empty.
When the binary is missing the test is skipped locally and fails in CI (CI=true).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import skip_or_fail
from tests.transfers.execution_support import wait_for
from tests.worker.conftest import READY_TIMEOUT_S, ROOT

REDIS_SERVER = os.environ.get("REDIS_SERVER_BIN", "/usr/bin/redis-server")
RESPAWN = ROOT / "bin" / "respawn"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """One redis-server process on its own port and folder; no RDB snapshots, no AOF."""

    def __init__(self, binary: str, directory: Path) -> None:
        self.binary = binary
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = _free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> RedisServer:
        cmd = [
            self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", str(self.dir), "--logfile", str(self.dir / "redis.log"),
        ]  # fmt: skip
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(self.ping, timeout=15, interval=0.05, what=f"redis-server on port {self.port}")
        return self

    def ping(self) -> bool:
        import redis

        try:
            return bool(redis.Redis(port=self.port, socket_connect_timeout=0.5).ping())
        except redis.RedisError:
            return False

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def restart(self, down_s: float = 1.0) -> float:
        """SIGKILL, stay down `down_s`, start again empty on the same port; returns when it answers
        (the monotonic time it was back)."""
        self.kill()
        time.sleep(down_s)
        self.start()
        return time.monotonic()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    binary = REDIS_SERVER if os.access(REDIS_SERVER, os.X_OK) else shutil.which("redis-server")
    if not binary:
        skip_or_fail("needs redis-server (apt-get install redis-server) for a throw-away Redis")
    server = RedisServer(str(binary), tmp_path / f"redis-{uuid.uuid4().hex[:6]}").start()
    try:
        yield server
    finally:
        server.kill()


class SupervisedWorker:
    """`bin/respawn -- celery -A bingxadmin worker …` as one process group (the wrapper) whose worker
    child is restarted whenever it exits; the log holds the wrapper's lines and the worker's."""

    def __init__(self, *, name: str, env: dict[str, str], log_path: Path, pool: str = "solo") -> None:
        self.pool = pool
        self.name = name
        self.env = env
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "celery", "-A", "bingxadmin", "worker",
            "-Q", "exchange,default,records",
            "-c", "1" if self.pool == "solo" else "2", f"--pool={self.pool}",
            "-n", f"{self.name}-{uuid.uuid4().hex[:6]}@%h",
            "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel=INFO",
        ]  # fmt: skip

    ready_mark = " ready."

    def start(self) -> SupervisedWorker:
        cmd = [
            sys.executable, str(RESPAWN), "--name", self.name, "--min-backoff", "0.5", "--max-backoff", "5",
            "--", *self.command(),
        ]  # fmt: skip
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                cmd, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        wait_for(
            lambda: self.ready_mark in self.log() or not self.supervisor_alive,
            timeout=READY_TIMEOUT_S,
            what=f"{self.name} to be ready",
        )
        assert self.supervisor_alive, f"respawn for {self.name} exited:\n{self.log()}"
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    @property
    def supervisor_alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def child_pids(self) -> list[int]:
        return [
            int(p) for p in re.findall(rf"respawn\[{re.escape(self.name)}\]: started pid (\d+)", self.log())
        ]

    @property
    def restarts(self) -> int:
        return len(re.findall(rf"respawn\[{re.escape(self.name)}\]: pid \d+ exited", self.log()))

    @property
    def worker_alive(self) -> bool:
        pids = self.child_pids()
        if not pids or not self.supervisor_alive:
            return False
        try:
            os.kill(pids[-1], 0)
        except ProcessLookupError:
            return False
        return True

    def stop(self) -> None:
        if not self.supervisor_alive:
            return
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGQUIT)  # forwarded to the worker: cold shutdown
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)


class SupervisedBeat(SupervisedWorker):
    """`bin/respawn -- celery -A bingxadmin beat` (the database scheduler), as bin/run runs it. Beat
    embedded in a prefork worker (`worker -B`) sent nothing on this machine, so it runs on its own."""

    ready_mark = "beat: Starting..."

    def command(self) -> list[str]:
        schedule = str(self.log_path.with_suffix(".schedule"))
        return [sys.executable, "-m", "celery", "-A", "bingxadmin", "beat", "-s", schedule, "--loglevel=INFO"]
