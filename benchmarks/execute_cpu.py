"""CPU and queries per executed batch leg, in one process without Celery: the execution path alone.

    DATABASE_URL=postgres://bingxadmin:bingxadmin@127.0.0.1:5432/h12_exec_cpu \\
    REDIS_URL=redis://127.0.0.1:6379/12 .venv/bin/python benchmarks/execute_cpu.py [--legs 200] [--uids 20]

A batch of `--legs` inner transfers over `--uids` main accounts is submitted and approved through the
services (its legs' Celery messages are dropped: nothing consumes them here), then every leg is
executed one after another by `transfer_execute` in this process, its on-commit follow-ups included
(webhook and balance-refresh enqueues go to the real broker). The sandbox exchange runs as its own
process with its rate limits off and the desk's limiter is scaled up, so no leg waits for a slot:
what is measured is this process's CPU (time.process_time) and the queries per leg — the part of the
workers' CPU per transfer (benchmarks/batch_execution.py) that the project's code decides, without
Celery's own message handling. The database named in DATABASE_URL is created and dropped (PostgreSQL;
without DATABASE_URL a temporary SQLite file).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from execution_harness import ROOT, Harness, wait
from execution_slots import bench_key_set, bench_seed, drop_database, run_services


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--legs", type=int, default=200)
    parser.add_argument("--uids", type=int, default=20)
    args = parser.parse_args()
    os.environ["BINGX_RATE_LIMIT_SCALE"] = "1000"  # before Django reads its settings
    broker, database_url, admin, dbname = run_services()
    workdir = Path(tempfile.mkdtemp(prefix="bench-cpu-"))
    harness = Harness(workdir=workdir, broker=broker, scale=1000.0, database_url=database_url)
    sandbox: subprocess.Popen[bytes] | None = None
    try:
        seed = bench_seed(args.uids)
        seed_path = workdir / "seed.json"
        seed_path.write_text(json.dumps(seed))
        port = free_port()
        sandbox = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bingx.sandbox",
                "--no-rate-limits",
                "--port",
                str(port),
                "--seed",
                str(seed_path),
            ],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base_url = f"http://127.0.0.1:{port}"
        harness.setup_django()

        def sandbox_up() -> bool:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return True
            except OSError:
                return False

        wait(sandbox_up, timeout=30, what="sandbox")
        from batch_execution import batch_approve, batch_people, batch_submit
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        from transfers import dispatch
        from transfers.execution.execute import transfer_execute
        from transfers.models import Status, TransferRequest

        mains = [a for a in seed["accounts"] if a["is_master"]]
        key_sets = [bench_key_set(base_url=base_url, account=a) for a in mains]
        requester, approvers = batch_people(key_sets=key_sets)
        order = [(u, n) for n in range(args.legs // len(key_sets)) for u in range(len(key_sets))]
        dispatch.transfer_execute_enqueue_many = lambda **kwargs: None
        batch_id = batch_submit(key_sets=key_sets, mains=mains, order=order, requester=requester)
        batch_approve(batch_id=batch_id, approvers=approvers)
        ids = list(
            TransferRequest.objects.filter(batch_id=batch_id)
            .order_by("leg_index")
            .values_list("pk", flat=True)
        )
        warm = len(key_sets)  # one leg per key set first: caches and connections as a running worker has them
        from django.conf import settings

        from accounts.audit import audit_seal_coalesce

        audit_seal_coalesce(interval_s=settings.AUDIT_SEAL_WORKER_INTERVAL_S)  # as a worker seals
        for pk in ids[:warm]:
            transfer_execute(request_id=pk)
        profile = None
        if os.environ.get("BENCH_PROFILE"):  # a file: cProfile of the measured legs
            import cProfile

            profile = cProfile.Profile(time.process_time)  # CPU time: waits on the network do not count
        cpu0, wall0 = time.process_time(), time.monotonic()
        with CaptureQueriesContext(connection) as queries:
            if profile is not None:
                profile.enable()
            for pk in ids[warm:]:
                transfer_execute(request_id=pk)
            if profile is not None:
                profile.disable()
        cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
        if profile is not None:
            profile.dump_stats(os.environ["BENCH_PROFILE"])
        measured = len(ids) - warm
        succeeded = TransferRequest.objects.filter(pk__in=ids, status=Status.SUCCEEDED).count()
        print(
            f"database: {harness.database_url.split(':')[0]}; broker: {broker}; "
            f"legs: {len(ids)} ({warm} warm-up)"
        )
        print(f"succeeded: {succeeded} of {len(ids)}")
        print(
            f"per executed leg: CPU {cpu / measured * 1000:.1f} ms; wall {wall / measured * 1000:.1f} ms; "
            f"queries {len(queries) / measured:.1f}"
        )
        if os.environ.get("BENCH_DETAIL"):
            from collections import Counter

            shapes = Counter(q["sql"][:90] for q in queries.captured_queries)
            for sql, n in shapes.most_common(30):
                print(f"  {n / measured:5.2f}  {sql}")
    finally:
        if sandbox is not None:
            sandbox.terminate()
            sandbox.wait(timeout=10)
        if dbname:
            from django.db import connections

            connections.close_all()
            drop_database(admin, dbname)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
