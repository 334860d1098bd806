"""Shared set-up for the execution benchmarks: a throw-away database, the sandbox exchange, a broker
(Redis with a private key prefix, or kombu's filesystem transport in a temp folder) and real
`celery worker` processes. Not a benchmark itself."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SEED_PATH = ROOT / "bingx" / "sandbox" / "seeds" / "demo.json"

from bingx import endpoints  # noqa: E402  (after the path insert above)

INNER_APPLY = endpoints.INNER_TRANSFER_APPLY.path
MAIN_UID, SUB1_UID = 10000001, 10000002


def redis_available(url: str) -> bool:
    if not url:
        return False
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=2).ping())
    except redis.RedisError:
        return False


class Harness:
    """Environment first (settings read it once at django.setup()), then Django, then workers."""

    def __init__(self, *, workdir: Path, broker: str, scale: float, database_url: str = "") -> None:
        self.workdir = workdir
        self.broker = broker  # "redis" | "filesystem"
        self.redis_url = os.environ.get("REDIS_URL", "") if broker == "redis" else ""
        self.prefix = f"bench-{uuid.uuid4().hex[:10]}:"
        self.scale = scale
        self.database_url = database_url or f"sqlite:///{workdir / 'bench.sqlite3'}"
        self.workers: list[subprocess.Popen[bytes]] = []
        env = {
            "DJANGO_SETTINGS_MODULE": "tests.worker.worker_settings",
            "BINGXADMIN_VAR_DIR": str(workdir / "var"),
            "DATABASE_URL": self.database_url,
            "CELERY_BROKER_URL": self.redis_url or "filesystem://",
            "REDIS_URL": self.redis_url,
            "RATE_LIMIT_URL": self.redis_url,
            "TEST_BROKER_KEYPREFIX": self.prefix if self.redis_url else "",
            "BINGX_RATE_LIMIT_SCALE": str(scale),
            "DJANGO_LOG_FORMAT": "text",
            "PYTHONUNBUFFERED": "1",
        }
        os.environ.update(env)
        os.environ.pop("DJANGO_ENV_FILE", None)
        self.env = dict(os.environ)

    def setup_django(self) -> None:
        import django

        django.setup()
        import logging

        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        logging.getLogger("bingx").setLevel(logging.WARNING)

    def start_workers(self, count: int = 2) -> None:
        for n in range(count):
            log = (self.workdir / f"worker{n + 1}.log").open("ab")
            cmd = [
                sys.executable, "-m", "celery", "-A", "bingxadmin", "worker",
                "-Q", "exchange,default,records", "-c", "1", "--pool=solo",
                "-n", f"bench{n + 1}-{uuid.uuid4().hex[:6]}@%h",
                "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel=INFO",
            ]  # fmt: skip
            self.workers.append(
                subprocess.Popen(
                    cmd, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
                )
            )
        logs = [self.workdir / f"worker{n + 1}.log" for n in range(count)]
        wait(
            lambda: all(" ready." in p.read_text(errors="replace") for p in logs), timeout=120, what="workers"
        )

    def stop_workers(self) -> None:
        for proc in self.workers:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGQUIT)
        for proc in self.workers:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        if self.redis_url:
            import redis

            client = redis.Redis.from_url(self.redis_url)
            for key in client.scan_iter(f"{self.prefix}*"):
                client.delete(key)

    def key_set(self, *, base_url: str, uid: int = MAIN_UID) -> Any:
        from accounts.crypto import PURPOSE_API_KEY, PURPOSE_SECRET, secret_encrypt
        from accounts.models import AccountKind, ApiKeySet, Environment, KeySetStatus

        seed = json.loads(SEED_PATH.read_text())
        key = next(a for a in seed["accounts"] if a["uid"] == uid)["api_keys"][0]
        obj = ApiKeySet(
            label=f"bench {uid} {uuid.uuid4().hex[:6]}",
            environment=Environment.SANDBOX,
            base_url=base_url,
            account_kind=AccountKind.MAIN,
            uid=uid,
            status=KeySetStatus.ACTIVE,
            api_key_last4=key["api_key"][-4:],
        )
        obj.api_key_encrypted = secret_encrypt(
            plaintext=key["api_key"], key_set_uuid=obj.uuid, purpose=PURPOSE_API_KEY
        )
        obj.secret_encrypted = secret_encrypt(
            plaintext=key["secret"], key_set_uuid=obj.uuid, purpose=PURPOSE_SECRET
        )
        obj.save()
        # The seed's sub-accounts of this main account, as discovery records them: the transfers the
        # benchmarks make (to sub-account 1) are re-checked against them before they are sent.
        from accounts.models import SubAccount

        for sub in seed["accounts"]:
            if sub.get("master_uid") == uid:
                SubAccount.objects.create(
                    main_key_set=obj, sub_uid=sub["uid"], name=f"bench sub {sub['uid']}"
                )
        return obj


def inner_request(*, key_set: Any, amount: str, status: str, requester: Any, approver: Any | None) -> Any:
    """A request for an inner transfer main → sub-account 1, as the workflow stores it."""
    from datetime import timedelta
    from decimal import Decimal

    from django.utils import timezone

    from transfers.approval_proof import approval_seal
    from transfers.models import Approval, Decision, TransferKind, TransferRequest
    from transfers.payload import new_client_id, payload_build, payload_sha256
    from transfers.policy import policy_version_current

    client_id = new_client_id()
    payload = payload_build(
        kind=TransferKind.INNER,
        key_set=key_set,
        asset="USDT",
        amount=Decimal(amount),
        client_id=client_id,
        recipient_type=1,
        recipient_account=str(SUB1_UID),
        calling_code="",
        wallet_type=1,
    )
    now = timezone.now()
    req = TransferRequest.objects.create(
        client_id=client_id,
        key_set=key_set,
        kind=TransferKind.INNER,
        payload=payload,
        payload_sha256=payload_sha256(payload),
        asset="USDT",
        amount=Decimal(amount),
        status=status,
        required_approvals=1,
        policy_version=policy_version_current(),
        requested_by=requester,
        expires_at=now + timedelta(hours=24),
    )
    if approver is not None:
        Approval.objects.create(
            request=req,
            approver=approver,
            decision=Decision.APPROVE,
            payload_sha256=req.payload_sha256,
            stepup_method="totp",
            stepup_seal=approval_seal(
                request_id=req.pk,
                decision=Decision.APPROVE,
                payload_sha256=req.payload_sha256,
                approver_id=approver.pk,
                method="totp",
                assertion={},
            ),
        )
    return req


def wait(predicate: Callable[[], Any], *, timeout: float, what: str, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(interval)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = q / 100 * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)
