"""Rate-limit use: N approved transfers on one key set, executed by 2 worker processes against the
sandbox at a scaled limit. Prints achieved rate ÷ allowed rate (target ≥ 0.9) and the number of
100410 answers the sandbox gave (target 0).

    .venv/bin/python benchmarks/ratelimit_use.py        # Redis if REDIS_URL answers, else filesystem
    .venv/bin/python benchmarks/ratelimit_use.py --broker filesystem --count 200 --scale 5

Endpoint: main-account inner transfer (BingX: 2/s per UID); at --scale 5 both the sandbox and the
shared limiter allow 10 calls per second. The achieved rate is measured on the exchange's side, from
the first to the last call in the sandbox journal.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from execution_harness import INNER_APPLY, Harness, inner_request, redis_available, wait


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument(
        "--scale", type=float, default=5.0, help="multiplies BingX's 2/s (sandbox and limiter)"
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--broker", choices=["auto", "redis", "filesystem"], default="auto")
    args = parser.parse_args()
    broker = args.broker
    if broker == "auto":
        broker = "redis" if redis_available(os.environ.get("REDIS_URL", "")) else "filesystem"

    workdir = Path(tempfile.mkdtemp(prefix="bench-ratelimit-"))
    harness = Harness(workdir=workdir, broker=broker, scale=args.scale)
    harness.setup_django()

    from bingx.sandbox import SandboxServer
    from exchange.ratelimit import limit_for
    from tests.factories import KeySetGrantFactory, UserFactory
    from transfers.models import Status, TransferRequest
    from transfers.tasks import transfer_execute_task

    sandbox = SandboxServer(seed=str(harness_seed()), port=0, rate_limit_scale=args.scale)
    sandbox.start()
    try:
        key_set = harness.key_set(base_url=sandbox.base_url)
        requester = UserFactory.create(username="bench-requester")
        approver = UserFactory.create(username="bench-approver")
        # The approval counts only while its approver holds approve (execution re-checks it).
        KeySetGrantFactory.create(key_set=key_set, user=approver, can_approve=True)
        ids = [
            inner_request(
                key_set=key_set, amount="1", status=Status.APPROVED, requester=requester, approver=approver
            ).pk
            for _ in range(args.count)
        ]
        harness.start_workers(args.workers)
        started = time.monotonic()
        for pk in ids:
            transfer_execute_task.delay(pk)
        final = (Status.SUCCEEDED, Status.FAILED)
        wait(
            lambda: TransferRequest.objects.filter(pk__in=ids, status__in=final).count() == len(ids),
            timeout=args.count / (2 * args.scale) * 3 + 120,
            what="all transfers to finish",
        )
        elapsed = time.monotonic() - started
        calls = [c for c in sandbox.app.journal.list(INNER_APPLY)]
        applied = [c for c in calls if c["applied"]]
        limited = [c for c in calls if c["code"] == 100410]
        times = sorted(c["time_ms"] for c in calls)
        span_s = (times[-1] - times[0]) / 1000 if len(times) > 1 else float("nan")
        achieved = (len(times) - 1) / span_s
        allowed = float(limit_for(INNER_APPLY, scale=args.scale) or 0)
        succeeded = TransferRequest.objects.filter(pk__in=ids, status=Status.SUCCEEDED).count()
        print(f"broker: {broker}; database: {harness.database_url.split(':')[0]}; workers: {args.workers}")
        counts = f"calls to the exchange: {len(calls)}; applied: {len(applied)}"
        print(f"transfers: {args.count}; succeeded: {succeeded}; {counts}")
        print(
            f"allowed rate: {allowed:.1f}/s (BingX 2/s x scale {args.scale:g}); achieved: {achieved:.2f}/s "
            f"over {span_s:.1f} s"
        )
        print(f"achieved / allowed: {achieved / allowed:.3f}")
        print(f"100410 answers: {len(limited)}")
        print(f"wall time from first enqueue to all final: {elapsed:.1f} s")
    finally:
        harness.stop_workers()
        sandbox.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def harness_seed() -> Path:
    from execution_harness import SEED_PATH

    return SEED_PATH


if __name__ == "__main__":
    main()
