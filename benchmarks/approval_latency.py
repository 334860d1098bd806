"""Latency from the final approval's commit to the exchange receiving the transfer call.

    .venv/bin/python benchmarks/approval_latency.py     # filesystem, then Redis if REDIS_URL answers
    .venv/bin/python benchmarks/approval_latency.py --broker redis --count 50

Each run: N pending inner-transfer requests; an approver approves them one by one through the real
service (`transfer_request_approve`, which enqueues execution on commit), 0.6 s apart so the shared
limiter (BingX: 2/s) never makes a call wait. The commit time is taken by an on-commit callback
registered before the approval's own; the arrival time is the sandbox journal's `time_ms` for the call
carrying the request's transferClientId. Two worker processes consume the queue. Prints p50 and p95
(target p95 < 1 s with Redis).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from execution_harness import (
    INNER_APPLY,
    SEED_PATH,
    Harness,
    inner_request,
    percentile,
    redis_available,
    wait,
)

SPACING_S = 0.6


def run(broker: str, count: int) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="bench-latency-"))
    harness = Harness(workdir=workdir, broker=broker, scale=1.0)
    harness.setup_django()

    from django.db import transaction

    from bingx.sandbox import SandboxServer
    from tests.factories import DEFAULT_PASSWORD, KeySetGrantFactory, UserFactory
    from tests.stepup_support import stepup_data
    from transfers.models import Status, TransferRequest
    from transfers.services.decisions import transfer_request_approve

    sandbox = SandboxServer(seed=str(SEED_PATH), port=0)
    sandbox.start()
    try:
        key_set = harness.key_set(base_url=sandbox.base_url)
        requester = UserFactory.create(username="bench-requester")
        approver = UserFactory.create(username="bench-approver")
        approver.set_password(DEFAULT_PASSWORD)
        approver.save()
        KeySetGrantFactory.create(key_set=key_set, user=approver, can_view=True, can_approve=True)
        pending = [
            inner_request(
                key_set=key_set, amount="1", status=Status.PENDING, requester=requester, approver=None
            )
            for _ in range(count)
        ]
        harness.start_workers(2)
        time.sleep(2)  # let both workers settle into polling
        committed: dict[str, float] = {}

        def stamp(client_id: str) -> Callable[[], None]:
            return lambda: committed.__setitem__(client_id, time.time())

        for req in pending:
            with transaction.atomic():
                transaction.on_commit(stamp(req.client_id))
                transfer_request_approve(request_id=req.pk, approver=approver, stepup=stepup_data(approver))
            time.sleep(SPACING_S)
        ids = [r.pk for r in pending]
        wait(
            lambda: TransferRequest.objects.filter(pk__in=ids, status=Status.SUCCEEDED).count() == len(ids),
            timeout=120,
            what="all transfers to succeed",
        )
        arrived = {
            c["params"].get("transferClientId"): c["time_ms"] / 1000
            for c in sandbox.app.journal.list(INNER_APPLY)
        }
        latencies = [arrived[cid] - at for cid, at in committed.items()]
        db = harness.database_url.split(":")[0]
        print(f"broker: {broker}; database: {db}; approvals: {len(latencies)}")
        print(
            f"commit → exchange: p50 {percentile(latencies, 50) * 1000:.0f} ms, "
            f"p95 {percentile(latencies, 95) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms"
        )
    finally:
        harness.stop_workers()
        sandbox.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=50)
    parser.add_argument("--broker", choices=["both", "redis", "filesystem"], default="both")
    args = parser.parse_args()
    if args.broker != "both":
        run(args.broker, args.count)
        return
    # Settings are read once per process: each broker gets a fresh interpreter.
    brokers = ["filesystem"] + (["redis"] if redis_available(os.environ.get("REDIS_URL", "")) else [])
    for broker in brokers:
        cmd = [sys.executable, __file__, "--broker", broker, "--count", str(args.count)]
        subprocess.run(cmd, check=True)


if __name__ == "__main__":
    main()
