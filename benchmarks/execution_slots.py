"""Worker slots at saturation: executed transfers/s with 2 and with 8 worker slots, in the same run.

    DATABASE_URL=postgres://bingxadmin:bingxadmin@127.0.0.1:5432/bench_slots \\
    REDIS_URL=redis://127.0.0.1:6379/14 .venv/bin/python benchmarks/execution_slots.py
    … execution_slots.py --count 300 --uids 24 --slots 2,8 --repeat 2 --pool prefork --scale 20

The database named in DATABASE_URL is created for the run and dropped after it (PostgreSQL; it must
not exist). The sandbox exchange gets `--uids` main accounts (each with a sub-account); every request
is an inner transfer to the next main account (one of the team's own), round-robin over the UIDs,
approved just before its round. Rate limits (sandbox and the desk's shared limiter) are BingX's x
`--scale`, so the exchange is not the bottleneck. Each round: one `celery worker -c <slots>` process,
`--warmup` untimed transfers, then all `--count` requests enqueued at once (saturation), timed from
the first enqueue until every one is final. Slot counts alternate (2, 8, 8, 2 with --repeat 2) so
neither gets the quieter half of a shared machine. While a round runs, pg_stat_activity is sampled
every 50 ms: backends waiting on a lock (wait_event_type 'Lock' or 'LWLock'), backends idle in
transaction, and the most frequent wait events.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from execution_harness import ROOT, SEED_PATH, Harness, redis_available, wait

BASE_UID = 20000001


def bench_seed(uids: int) -> dict[str, Any]:
    """The demo seed's prices and precision, with `uids` funded main accounts and a sub-account each."""
    demo = json.loads(SEED_PATH.read_text())
    accounts: list[dict[str, Any]] = []
    for n in range(uids):
        main_uid, sub_uid = BASE_UID + 2 * n, BASE_UID + 2 * n + 1
        accounts.append(
            {
                "uid": main_uid,
                "email": f"bench{n}@example.com",
                "phone": f"55502{n:05d}",
                "calling_code": "1",
                "is_master": True,
                "master_uid": None,
                "wallets": {"fund": {"USDT": "10000000"}, "spot": {"USDT": "0"}},
                "api_keys": [
                    {
                        "api_key": f"bench-key-{main_uid}-{uuid.uuid4().hex}",
                        "secret": f"bench-secret-{main_uid}-{uuid.uuid4().hex}{uuid.uuid4().hex}",
                        "permissions": [1, 2, 4, 5],
                        "ip_whitelist": [],
                        "note": "benchmark main account key",
                    }
                ],
            }
        )
        accounts.append(
            {
                "uid": sub_uid,
                "email": f"bench{n}-sub@example.com",
                "phone": f"55503{n:05d}",
                "calling_code": "1",
                "is_master": False,
                "master_uid": main_uid,
                "wallets": {"fund": {"USDT": "0"}, "spot": {"USDT": "0"}},
                "api_keys": [],
            }
        )
    return {
        "prices": demo["prices"],
        "precision": demo["precision"],
        "accounts": accounts,
        "authorised_subs": [],
        "records": {},
    }


def bench_key_set(*, base_url: str, account: dict[str, Any]) -> Any:
    from accounts.crypto import PURPOSE_API_KEY, PURPOSE_SECRET, secret_encrypt
    from accounts.models import AccountKind, ApiKeySet, Environment, KeySetStatus

    key = account["api_keys"][0]
    obj = ApiKeySet(
        label=f"bench {account['uid']}",
        environment=Environment.SANDBOX,
        base_url=base_url,
        account_kind=AccountKind.MAIN,
        uid=account["uid"],
        status=KeySetStatus.ACTIVE,
        api_key_last4=key["api_key"][-4:],
        permissions=list(key["permissions"]),
    )
    obj.api_key_encrypted = secret_encrypt(
        plaintext=key["api_key"], key_set_uuid=obj.uuid, purpose=PURPOSE_API_KEY
    )
    obj.secret_encrypted = secret_encrypt(
        plaintext=key["secret"], key_set_uuid=obj.uuid, purpose=PURPOSE_SECRET
    )
    obj.save()
    return obj


def approved_inner_request(*, key_set: Any, recipient_uid: int, requester: Any, approver: Any) -> int:
    """An approved inner transfer main → another main account, as the workflow stores it (cf. the harness)."""
    from datetime import timedelta
    from decimal import Decimal

    from django.utils import timezone

    from tests.stepup_support import totp_approval_fields
    from transfers.models import Approval, Decision, Status, TransferKind, TransferRequest
    from transfers.payload import new_client_id, payload_build, payload_sha256
    from transfers.policy import policy_version_current

    client_id = new_client_id()
    payload = payload_build(
        kind=TransferKind.INNER,
        key_set=key_set,
        asset="USDT",
        amount=Decimal("1"),
        client_id=client_id,
        recipient_type=1,
        recipient_account=str(recipient_uid),
        calling_code="",
        wallet_type=1,
    )
    req = TransferRequest.objects.create(
        client_id=client_id,
        key_set=key_set,
        kind=TransferKind.INNER,
        payload=payload,
        payload_sha256=payload_sha256(payload),
        asset="USDT",
        amount=Decimal("1"),
        status=Status.APPROVED,
        required_approvals=1,
        policy_version=policy_version_current(),
        requested_by=requester,
        expires_at=timezone.now() + timedelta(hours=24),
        decided_at=timezone.now(),
    )
    Approval.objects.create(
        request=req,
        approver=approver,
        decision=Decision.APPROVE,
        payload_sha256=req.payload_sha256,
        **totp_approval_fields(request_id=req.pk, approver=approver, payload_sha256=req.payload_sha256),
    )
    return int(req.pk)


class LockSampler(threading.Thread):
    """Samples pg_stat_activity of one database every `interval` s on its own connection."""

    def __init__(self, *, dsn: str, dbname: str, interval: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.dsn, self.dbname, self.interval = dsn, dbname, interval
        self.stop_event = threading.Event()
        self.samples = 0
        self.lock_waits = 0
        self.idle_in_tx = 0
        self.events: collections.Counter[str] = collections.Counter()

    def run(self) -> None:
        import psycopg

        with psycopg.connect(self.dsn, autocommit=True) as conn:
            while not self.stop_event.is_set():
                rows = conn.execute(
                    "SELECT state, wait_event_type, wait_event FROM pg_stat_activity "
                    "WHERE datname = %s AND pid <> pg_backend_pid()",
                    [self.dbname],
                ).fetchall()
                self.samples += 1
                for state, wait_type, wait_event in rows:
                    if wait_type in ("Lock", "LWLock"):
                        self.lock_waits += 1
                    if state == "idle in transaction":
                        self.idle_in_tx += 1
                    if wait_type and wait_type not in ("Client", "Activity"):
                        self.events[f"{wait_type}:{wait_event}"] += 1
                time.sleep(self.interval)

    def stop(self) -> None:
        self.stop_event.set()
        self.join(timeout=5)


def start_worker(harness: Harness, *, slots: int, pool: str) -> subprocess.Popen[bytes]:
    log_path = harness.workdir / f"worker-c{slots}.log"
    cmd = [
        sys.executable, "-m", "celery", "-A", "bingxadmin", "worker",
        "-Q", "exchange,default,records", "-c", str(slots), f"--pool={pool}",
        "-n", f"slots{slots}-{uuid.uuid4().hex[:6]}@%h",
        "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel=WARNING",
    ]  # fmt: skip
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env=harness.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    harness.workers.append(proc)
    # --loglevel=WARNING hides " ready."; a worker that answers a ping is ready.
    from bingxadmin.celery import app

    wait(
        lambda: any(
            r for r in (app.control.ping(timeout=0.5) or []) if any(f"slots{slots}-" in k for k in r)
        ),
        timeout=120,
        what=f"worker with {slots} slots",
        interval=0.2,
    )
    return proc


def run_round(
    *,
    harness: Harness,
    slots: int,
    pool: str,
    ids: list[int],
    warmup: list[int],
    sampler_dsn: str,
    dbname: str,
) -> dict[str, Any]:
    from transfers.models import Status, TransferRequest
    from transfers.tasks import transfer_execute_task

    final = (Status.SUCCEEDED, Status.FAILED, Status.UNKNOWN)
    start_worker(harness, slots=slots, pool=pool)
    for pk in warmup:  # every child forked, connected and through its first call before the clock starts
        transfer_execute_task.delay(pk)
    wait(
        lambda: TransferRequest.objects.filter(pk__in=warmup, status__in=final).count() == len(warmup),
        timeout=len(warmup) * 2 + 60,
        what="the warm-up transfers",
    )
    sampler = LockSampler(dsn=sampler_dsn, dbname=dbname)
    sampler.start()
    started = time.monotonic()
    for pk in ids:
        transfer_execute_task.delay(pk)
    wait(
        lambda: TransferRequest.objects.filter(pk__in=ids, status__in=final).count() == len(ids),
        timeout=len(ids) * 2 + 120,
        what=f"{len(ids)} transfers with {slots} slots",
        interval=0.05,
    )
    elapsed = time.monotonic() - started
    sampler.stop()
    harness.stop_workers()
    harness.workers.clear()
    succeeded = TransferRequest.objects.filter(pk__in=ids, status=Status.SUCCEEDED).count()
    failure = (
        TransferRequest.objects.filter(pk__in=ids).exclude(status=Status.SUCCEEDED)
        .values_list("status", "failure_code", "failure_message").first()
    )  # fmt: skip
    if failure:
        print(f"{slots} slots: {len(ids) - succeeded} not succeeded, e.g. {failure}", file=sys.stderr)
    return {
        "slots": slots,
        "elapsed": elapsed,
        "succeeded": succeeded,
        "rate": len(ids) / elapsed,
        "sampler": sampler,
    }


def run_services() -> tuple[str, str, str, str]:
    """A benchmark run's broker and database: ("redis" when REDIS_URL answers, else "filesystem";
    DATABASE_URL; and, for PostgreSQL, the maintenance DSN and the name of the database created for
    the run, else "", "")."""
    broker = "redis" if redis_available(os.environ.get("REDIS_URL", "")) else "filesystem"
    database_url = os.environ.get("DATABASE_URL", "")
    admin = dbname = ""
    if database_url.startswith("postgres"):
        admin, dbname = create_database(database_url)
    return broker, database_url, admin, dbname


def create_database(url: str) -> tuple[str, str]:
    """Create the database named in `url`; returns (maintenance DSN, name)."""
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urlunsplit(("postgresql", parts.netloc, "/postgres", "", ""))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')  # the caller's own name, from its own environment
    return admin, name


def drop_database(admin: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=300, help="transfers per slot count")
    parser.add_argument("--uids", type=int, default=24, help="main accounts (>= 20: the limiter is per UID)")
    parser.add_argument("--slots", default="2,8", help="worker slot counts, run in this order")
    parser.add_argument(
        "--repeat", type=int, default=2, help="rounds per slot count; every second pass runs in reverse order"
    )
    parser.add_argument("--warmup", type=int, default=16, help="untimed transfers before each round")
    parser.add_argument("--pool", choices=["prefork", "threads"], default="prefork")
    parser.add_argument("--scale", type=float, default=20.0, help="multiplies BingX's rate limits")
    args = parser.parse_args()
    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url.startswith(("postgres://", "postgresql://")):
        raise SystemExit(
            "DATABASE_URL must name a PostgreSQL database of your own (it is created and dropped)"
        )
    if not redis_available(os.environ.get("REDIS_URL", "")):
        raise SystemExit("REDIS_URL must answer (the broker and the shared rate limiter)")
    slot_counts = [int(s) for s in args.slots.split(",")]
    order = [n for rep in range(args.repeat) for n in (slot_counts if rep % 2 == 0 else slot_counts[::-1])]

    admin_dsn, dbname = create_database(database_url)
    workdir = Path(tempfile.mkdtemp(prefix="bench-slots-"))
    harness = Harness(workdir=workdir, broker="redis", scale=args.scale, database_url=database_url)
    sandbox = None
    try:
        harness.setup_django()
        from bingx.sandbox import SandboxServer
        from tests.factories import KeySetGrantFactory, UserFactory

        seed = bench_seed(args.uids)
        sandbox = SandboxServer(seed=seed, port=0, rate_limit_scale=args.scale)
        sandbox.start()
        mains = [a for a in seed["accounts"] if a["is_master"]]
        key_sets = [bench_key_set(base_url=sandbox.base_url, account=a) for a in mains]
        requester = UserFactory.create(username="bench-requester")
        approver = UserFactory.create(username="bench-approver")
        for key_set in key_sets:
            KeySetGrantFactory.create(key_set=key_set, user=approver, can_approve=True)

        def batch(size: int) -> list[int]:
            return [
                approved_inner_request(
                    key_set=key_sets[n % len(key_sets)],
                    recipient_uid=mains[(n + 1) % len(mains)]["uid"],
                    requester=requester,
                    approver=approver,
                )
                for n in range(size)
            ]

        load_before = os.getloadavg()[0]
        sampler_dsn = urlunsplit(urlsplit(admin_dsn)._replace(path=f"/{dbname}"))
        results = []
        for slots in order:
            # Each round's requests are created just before it: a worker finishing a transfer may go on
            # with other approved requests of the same key set, so none may wait in the database.
            warmup, ids = batch(args.warmup), batch(args.count)
            results.append(
                run_round(
                    harness=harness,
                    slots=slots,
                    pool=args.pool,
                    ids=ids,
                    warmup=warmup,
                    sampler_dsn=sampler_dsn,
                    dbname=dbname,
                )
            )
        from accounts.audit_seal import audit_seal_pending
        from accounts.audit_verify import audit_verify_chain
        from accounts.models import AuditEvent

        audit_seal_pending()
        verdict = audit_verify_chain()
        print(
            f"database: postgresql; broker: redis; pool: {args.pool}; cpus: {os.cpu_count()}; "
            f"UIDs: {args.uids}; rate-limit scale: {args.scale:g}; transfers per round: {args.count} "
            f"(+{args.warmup} warm-up); load average 1 min: {load_before:.1f} before, "
            f"{os.getloadavg()[0]:.1f} after"
        )
        for r in results:
            s: LockSampler = r["sampler"]
            line = (
                f"{r['slots']} slots: {r['rate']:.1f} executed transfers/s "
                f"({r['succeeded']}/{args.count} succeeded in {r['elapsed']:.1f} s)"
            )
            top = ", ".join(f"{k} {v}" for k, v in s.events.most_common(4)) or "none"
            line += (
                f"; pg_stat_activity samples {s.samples}: lock waits {s.lock_waits}, "
                f"idle in transaction {s.idle_in_tx}; top waits: {top}"
            )
            print(line)
        medians = {n: statistics.median(r["rate"] for r in results if r["slots"] == n) for n in slot_counts}
        print("median: " + "; ".join(f"{n} slots {rate:.1f}/s" for n, rate in medians.items()))
        if len(slot_counts) >= 2:
            first, last = slot_counts[0], slot_counts[-1]
            print(f"ratio {last} / {first} slots: {medians[last] / medians[first]:.2f}")
        print(f"audit chain: {AuditEvent.objects.count()} events, intact: {verdict.ok}")
    finally:
        harness.stop_workers()
        if sandbox is not None:
            sandbox.stop()
        from django.db import connections

        connections.close_all()
        drop_database(admin_dsn, dbname)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
