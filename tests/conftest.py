"""Shared fixtures. In CI (CI=true) a test that cannot get its real service fails instead of skipping.

The in-process sandbox exchange and its demo key sets are here because the transfers, worker and
runtime tests all use them (tests/sandbox and tests/accounts have narrower ones of the same name).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from accounts.models import ApiKeySet
from bingx import Client
from bingx.sandbox import SandboxServer, variants
from tests.transfers.execution_support import MAIN_UID, SEED_PATH, SUB1_UID, Sandbox, make_key_set
from transfers import dispatch

# Playwright's sync API runs an event loop in the test thread; the ORM must still work there.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def skip_or_fail(reason: str) -> None:
    """Skip locally; in CI a missing service is a failure, never a silent skip."""
    if IN_CI:
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def _own_rate_limiter_keys(settings: Any) -> None:
    """Each test its own shared-limiter keys (Redis in CI): a 100410 with BingX's 5-minute penalty,
    or a call a test cut off mid-flight, must not hold an endpoint shut for the tests after it."""
    settings.RATE_LIMIT_KEY_PREFIX = f"test-{uuid.uuid4().hex[:12]}:bingx:rl:"


@pytest.fixture(autouse=True)
def _force_login_includes_second_factor(monkeypatch: pytest.MonkeyPatch) -> None:
    """force_login stands for a completed login: password and second factor (tests/stepup_support.py)."""
    from django.test import Client

    from accounts.second_factor import SESSION_KEY

    original = Client.force_login

    def force_login(self: Client, user: Any, backend: str | None = None) -> None:
        original(self, user, backend)
        session = self.session
        session[SESSION_KEY] = "test"
        session.save()

    monkeypatch.setattr(Client, "force_login", force_login)


@pytest.fixture
def require_postgres() -> None:
    if connection.vendor != "postgresql":
        skip_or_fail("needs PostgreSQL: set DATABASE_URL=postgres://…")


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get("REDIS_URL", "")
    if not url:
        skip_or_fail("needs Redis: set REDIS_URL=redis://…")
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        skip_or_fail(f"Redis at {url} is not answering: {exc}")
    return url


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
    if not shutil.which(path):
        skip_or_fail(f"needs Debian's Chromium at {path} (apt-get install chromium)")
    return path


# --- the sandbox exchange over HTTP, with demo key sets -------------------------------------------


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    server = SandboxServer(seed=SEED_PATH, port=0, variants=variants.from_env())  # CI's variant runs
    server.start()
    Client.reset_time_offsets()
    try:
        yield Sandbox(server)
    finally:
        server.stop()
        Client.reset_time_offsets()


@pytest.fixture
def limiter_dir(settings: Any, tmp_path: Path) -> Path:
    """A private file-backed rate limiter, so tests never wait on each other's tokens."""
    settings.RATE_LIMIT_URL = ""
    settings.VAR_DIR = tmp_path
    return tmp_path


@pytest.fixture
def enqueued(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int, float]]:
    """Record follow-up tasks instead of sending them: ("execute" | "reconcile", request id, countdown)."""
    calls: list[tuple[str, int, float]] = []

    def execute(*, request_id: int, countdown: float = 0, reservation: str | None = None) -> None:
        calls.append(("execute", request_id, countdown))

    def reconcile_(*, request_id: int, countdown: float = dispatch.RECONCILE_DELAY_S) -> None:
        calls.append(("reconcile", request_id, countdown))

    def execute_many(*, requests: Any) -> None:
        for req in requests:
            execute(request_id=req.pk)

    monkeypatch.setattr(dispatch, "transfer_execute_enqueue", execute)
    monkeypatch.setattr(dispatch, "transfer_execute_enqueue_many", execute_many)
    monkeypatch.setattr(dispatch, "transfer_reconcile_enqueue", reconcile_)
    return calls


@pytest.fixture
def main_key_set(db: None, sandbox: Sandbox) -> ApiKeySet:
    return make_key_set(sandbox=sandbox, uid=MAIN_UID, label="demo main")


@pytest.fixture
def sub1_key_set(db: None, sandbox: Sandbox, main_key_set: ApiKeySet) -> ApiKeySet:
    return make_key_set(sandbox=sandbox, uid=SUB1_UID, label="demo sub 1", parent=main_key_set)


@pytest.fixture
def smtp_inbox(settings: Any) -> Iterator[Any]:
    """A real SMTP server for this test; Django's SMTP backend sends to it (tests/smtp_support.py)."""
    from tests.smtp_support import smtp_start

    controller, inbox = smtp_start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = controller.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    try:
        yield inbox
    finally:
        controller.stop()
