"""Real Celery worker processes for the fault tests.

Each test gets: the in-process sandbox exchange (HTTP on an ephemeral port), a broker of its own
(Redis with a per-test key prefix when REDIS_URL is set, as in CI; otherwise kombu's filesystem
transport in a temporary folder), and `celery -A bingxadmin worker` subprocesses pointed at the
same test database (PostgreSQL's `test_<name>`, or the SQLite test database file). Worker logs go
to files printed when a test fails. Thresholds are small through the environment, as in production.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from bingxadmin.celery import app as celery_app
from tests.transfers.execution_support import Sandbox, wait_for

ROOT = Path(__file__).resolve().parents[2]
SETTLE_WINDOW_S = 4
SWEEP_AFTER_S = 2
STUCK_AFTER_S = 3
UNSENT_CLAIM_S = 3
READ_TIMEOUT_S = 2
SWEEP_EVERY_S = 1
# benchmarks/recovery.py runs the fault tests with the production thresholds and beat's production
# sweep period, to measure recovery times as they are in production.
if os.environ.get("RESILIENCE_THRESHOLDS") == "production":
    SETTLE_WINDOW_S, SWEEP_AFTER_S, STUCK_AFTER_S, UNSENT_CLAIM_S, READ_TIMEOUT_S = 120, 30, 20, 20, 10
    SWEEP_EVERY_S = 5
READY_TIMEOUT_S = 90


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    rep = yield
    setattr(item, f"rep_{rep.when}", rep)
    return rep


def database_url() -> str:
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    if connection.vendor == "postgresql":
        host, port = s["HOST"] or "127.0.0.1", s["PORT"] or 5432
        return f"postgres://{s['USER']}:{s['PASSWORD']}@{host}:{port}/{s['NAME']}"
    raise RuntimeError(f"worker tests do not support {connection.vendor}")


def _reset_producer_pools() -> None:
    # The web side's connection pools were built for the old broker settings.
    celery_app.__dict__["_pool"] = None
    amqp = celery_app.__dict__.get("amqp")
    if amqp is not None:
        amqp._producer_pool = None


class Broker:
    def __init__(self, tmp_path: Path) -> None:
        self.var_dir = tmp_path / "var"
        self.redis_url = os.environ.get("REDIS_URL", "")
        self.prefix = f"test-{uuid.uuid4().hex[:12]}:"
        if self.redis_url:
            self.url = self.redis_url
            self.options: dict[str, Any] = {
                "visibility_timeout": 10,
                "unacked_restore_interval": 2,
                "unacked_restore_throttle": 1,
                "global_keyprefix": self.prefix,
            }
        else:
            celery_dir = self.var_dir / "celery"
            folders = {d: celery_dir / d for d in ("queue", "processed", "control")}
            for folder in folders.values():
                folder.mkdir(parents=True, exist_ok=True)
            self.url = "filesystem://"
            self.options = {
                "data_folder_in": str(folders["queue"]),
                "data_folder_out": str(folders["queue"]),
                "processed_folder": str(folders["processed"]),
                "store_processed": False,
                "control_folder": str(folders["control"]),
                "polling_interval": 0.1,
            }

    def configure_web_side(self, url: str | None = None, options: dict[str, Any] | None = None) -> None:
        """Point this process's task publishing (what the web app does on approval) at a broker."""
        celery_app.conf.update(
            broker_url=url or self.url,
            broker_transport_options=options if options is not None else self.options,
        )
        _reset_producer_pools()

    def worker_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_ENV_FILE", "DATABASE_URL")}
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "tests.worker.worker_settings",
                "DATABASE_URL": database_url(),
                "BINGXADMIN_VAR_DIR": str(self.var_dir),
                "CELERY_BROKER_URL": self.url,
                "TEST_BROKER_KEYPREFIX": self.prefix if self.redis_url else "",
                "CELERY_VISIBILITY_TIMEOUT": "10",
                "RATE_LIMIT_URL": self.redis_url,
                "TRANSFER_SETTLE_WINDOW_SECONDS": str(SETTLE_WINDOW_S),
                "TRANSFER_SWEEP_AFTER_SECONDS": str(SWEEP_AFTER_S),
                "TRANSFER_STUCK_AFTER_SECONDS": str(STUCK_AFTER_S),
                "TRANSFER_UNSENT_CLAIM_SECONDS": str(UNSENT_CLAIM_S),
                "BINGX_TIMEOUT_READ": str(READ_TIMEOUT_S),
                "DJANGO_LOG_FORMAT": "text",
                "PYTHONUNBUFFERED": "1",
            }
        )
        return env


class Worker:
    """One `celery worker` process group consuming the exchange and default queues."""

    def __init__(
        self,
        *,
        name: str,
        env: dict[str, str],
        log_path: Path,
        pool: str = "solo",
        beat: bool = False,
        host: str | None = None,
    ) -> None:
        self.beat = beat
        self.host = host  # a node name on another "machine" (two hosts sharing one broker)
        self.name = name
        self.env = env
        self.log_path = log_path
        self.pool = pool
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Worker:
        mark = len(self.log())
        cmd = [
            sys.executable, "-m", "celery", "-A", "bingxadmin", "worker",
            "-Q", "exchange,default,records", "-c", "1", f"--pool={self.pool}",
            "-n", f"{self.name}-{uuid.uuid4().hex[:6]}@{self.host or '%h'}",
            "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel=INFO",
        ]  # fmt: skip
        if self.beat:  # embedded beat with the database scheduler (the admin-editable schedules)
            cmd += ["-B", "-s", str(self.log_path.with_suffix(".beat"))]
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                cmd, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        wait_for(
            lambda: " ready." in self.log()[mark:] or self.proc is None or self.proc.poll() is not None,
            timeout=READY_TIMEOUT_S,
            what=f"worker {self.name} to be ready",
        )
        if self.proc.poll() is not None:
            raise AssertionError(f"worker {self.name} exited with {self.proc.returncode}:\n{self.log()}")
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL the whole process group: no cleanup, no message restored."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        # Cold shutdown is quick; the test is over, nothing in flight matters any more.
        os.killpg(self.proc.pid, signal.SIGQUIT)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill()


@pytest.fixture
def thresholds(settings: Any) -> None:
    """The web side (and the sweeper run here) use the same small thresholds as the workers."""
    settings.TRANSFER_SETTLE_WINDOW_SECONDS = SETTLE_WINDOW_S
    settings.TRANSFER_SWEEP_AFTER_SECONDS = SWEEP_AFTER_S
    settings.TRANSFER_STUCK_AFTER_SECONDS = STUCK_AFTER_S
    settings.TRANSFER_UNSENT_CLAIM_SECONDS = UNSENT_CLAIM_S


@pytest.fixture
def broker(tmp_path: Path, transactional_db: None, thresholds: None) -> Iterator[Broker]:
    saved = (celery_app.conf.broker_url, celery_app.conf.broker_transport_options)
    b = Broker(tmp_path)
    b.configure_web_side()
    try:
        yield b
    finally:
        celery_app.conf.update(broker_url=saved[0], broker_transport_options=saved[1])
        _reset_producer_pools()


@pytest.fixture
def start_worker(
    request: pytest.FixtureRequest, broker: Broker, sandbox: Sandbox, tmp_path: Path
) -> Iterator[Callable[..., Worker]]:
    """`start_worker(name="w1", pool="solo")` → a running worker; all are stopped after the test and
    their logs printed when it failed."""
    workers: list[Worker] = []

    def start(name: str = "w1", pool: str = "solo", beat: bool = False, host: str | None = None) -> Worker:
        log_path = tmp_path / f"{name}.log"
        worker = Worker(
            name=name, env=broker.worker_env(), log_path=log_path, pool=pool, beat=beat, host=host
        )
        workers.append(worker)
        return worker.start()

    yield start
    for worker in workers:
        worker.stop()
    failed = any(
        getattr(request.node, f"rep_{when}", None) and getattr(request.node, f"rep_{when}").failed
        for when in ("setup", "call")
    )
    if failed:
        seen: set[Path] = set()
        for worker in workers:
            if worker.log_path not in seen:
                seen.add(worker.log_path)
                print(f"\n----- worker log {worker.log_path.name} -----\n{worker.log()[-20000:]}")


def final_status(req: Any, *, timeout: float = 120) -> str:
    """Wait until the request reaches SUCCEEDED or FAILED (polling the database, never sleeping blind)."""
    from transfers.models import Status, TransferRequest

    def done() -> str | None:
        status = TransferRequest.objects.values_list("status", flat=True).get(pk=req.pk)
        return status if status in (Status.SUCCEEDED, Status.FAILED) else None

    return str(wait_for(done, timeout=timeout, what=f"request {req.pk} to finish"))


@pytest.fixture
def shared_limiter(settings: Any, broker: Broker) -> None:
    """This process uses the workers' rate-limiter store (worker_settings.py), e.g. to block a token."""
    settings.RATE_LIMIT_URL = broker.redis_url
    settings.VAR_DIR = broker.var_dir
    if broker.redis_url:
        settings.RATE_LIMIT_KEY_PREFIX = f"{broker.prefix}bingx:rl:"


def sweep_every_second() -> None:
    """Beat (a worker started with beat=True) runs the sweeper every second (every 5 s, as the
    migration schedules it, under RESILIENCE_THRESHOLDS=production); transactional tests flush the
    migration's schedules, so the test creates its own."""
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    every, _ = IntervalSchedule.objects.get_or_create(every=SWEEP_EVERY_S, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.update_or_create(
        name="sweep (test)", defaults={"task": "transfers.tasks.transfers_sweep_task", "interval": every}
    )
