"""A batch approved at once: 400 inner transfers over 20 (or 40) UIDs, grouped by UID, executed by 2
worker processes at BingX's real per-UID limits against the strict sandbox.

    DATABASE_URL=postgres://bingxadmin:bingxadmin@127.0.0.1:5432/h12_exec_bench \\
    REDIS_URL=redis://127.0.0.1:6379/12 .venv/bin/python benchmarks/batch_execution.py --uids 20
    … batch_execution.py --uids 40 --count 400

The database named in DATABASE_URL is created for the run and dropped after it (PostgreSQL; it must
not exist; without DATABASE_URL a temporary SQLite file). The sandbox gets `--uids` funded main
accounts; every leg is an inner transfer (BingX: 2/s per UID) to the next main account. The
sandbox limits strictly (sliding 1 s windows, 5-minute penalty after a 100410), and so does the
desk's shared limiter at scale 1. `--shape batch` (default): one batch request whose legs are grouped
by UID (all of the first UID's, then the second's, …), submitted and approved through the services
by two approvers; the approval's commit enqueues every leg, as in production (measurement starts
before the approval). `--shape requests`: single approved requests enqueued directly in that order.

Reported:
* achieved ÷ bound: executed calls per second on the exchange's side (first to last arrival in the
  sandbox journal) ÷ (UIDs x 2/s); goal ≥ 0.9;
* 100410 answers, and the most arrivals per UID inside any 1 s (the sandbox's own window, judged
  from the journal's arrival times; ≤ 2 means none over the limit);
* CPU ms per executed transfer: the worker processes' user + system time (/proc/<pid>/stat over the
  process group) from the first enqueue to the last final status ÷ transfers; and the whole
  machine's busy CPU over the same time ÷ transfers (PostgreSQL, Redis, the sandbox, this script).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

from execution_harness import INNER_APPLY, ROOT, Harness, wait
from execution_slots import approved_inner_request, bench_key_set, bench_seed, drop_database, run_services

CLK_TCK = os.sysconf("SC_CLK_TCK")
EXECUTE_TASK = "transfers.tasks.transfer_execute_task"


def _processes() -> list[tuple[int, str, float]]:
    """(process group, command name, user + system CPU seconds) of every live process (/proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            raw = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = raw[raw.rindex(")") + 2 :].split()
        cpu = (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime
        found.append((int(fields[2]), raw[raw.index("(") + 1 : raw.rindex(")")], cpu))
    return found


def group_cpu_s(pgids: list[int]) -> float:
    """CPU seconds of every live process in the given process groups (workers)."""
    return sum(cpu for pgrp, _, cpu in _processes() if pgrp in pgids)


def named_cpu_s(names: tuple[str, ...]) -> float:
    """CPU seconds of every live process whose command name is one of `names`."""
    return sum(cpu for _, name, cpu in _processes() if name in names)


def machine_busy_s() -> float:
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / CLK_TCK


def max_per_window(times: list[int], window_ms: int = 1000) -> int:
    times = sorted(times)
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while t - times[lo] >= window_ms:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def start_workers(harness: Harness, *, count: int, pool: str, slots: int = 1) -> None:
    """`count` worker processes with `slots` execution slots each (prefork: that many child processes)."""
    for n in range(count):
        log = (harness.workdir / f"worker{n + 1}.log").open("ab")
        profile = os.environ.get("BENCH_PROFILE")  # a folder: workers run under cProfile (use --pool solo)
        wrap = ["-m", "cProfile", "-o", f"{profile}/worker{n + 1}.prof"] if profile else []
        cmd = [
            sys.executable, *wrap, "-m", "celery", "-A", "bingxadmin", "worker",
            "-Q", "exchange,default,records", "-c", str(slots), f"--pool={pool}",
            "-n", f"batch{n + 1}-{uuid.uuid4().hex[:6]}@%h",
            "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel=INFO",
        ]  # fmt: skip
        harness.workers.append(
            subprocess.Popen(
                cmd, cwd=ROOT, env=harness.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        )
    logs = [harness.workdir / f"worker{n + 1}.log" for n in range(count)]
    wait(lambda: all(" ready." in p.read_text(errors="replace") for p in logs), timeout=120, what="workers")


def batch_people(*, key_sets: list[Any]) -> tuple[Any, list[Any]]:
    """A requester and two approvers holding their grants on every key set."""
    from tests.factories import KeySetGrantFactory, UserFactory

    requester = UserFactory.create(username="bench-requester")
    approvers = [UserFactory.create(username=f"bench-approver{n}") for n in (1, 2)]
    for key_set in key_sets:
        KeySetGrantFactory.create(key_set=key_set, user=requester, can_request=True)
        for approver in approvers:
            KeySetGrantFactory.create(key_set=key_set, user=approver, can_approve=True)
    return requester, approvers


def batch_submit(
    *, key_sets: list[Any], mains: list[dict[str, Any]], order: list[tuple[int, int]], requester: Any
) -> int:
    """One batch request (inner transfers, each UID to the next main account) through the service."""
    from transfers.batch_csv import LegInput
    from transfers.services.batches import transfer_batch_create

    legs = [
        LegInput(
            line=line,
            kind="inner",
            key_set=key_sets[u].label,
            asset="USDT",
            amount="1",
            fields={
                "recipient_type": 1,
                "recipient_account": str(mains[(u + 1) % len(mains)]["uid"]),
                "wallet_type": 1,
            },
        )
        for line, (u, _) in enumerate(order, start=2)
    ]
    return int(transfer_batch_create(requester=requester, legs=legs, note="benchmark").pk)


def batch_approve(*, batch_id: int, approvers: list[Any]) -> None:
    from tests.stepup_support import stepup_data
    from transfers.models import BatchStatus, TransferBatch
    from transfers.services.batch_decisions import transfer_batch_approve

    for approver in approvers:
        if TransferBatch.objects.get(pk=batch_id).status != BatchStatus.PENDING:
            break
        transfer_batch_approve(batch_id=batch_id, approver=approver, stepup=stepup_data(approver))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=400)
    parser.add_argument("--uids", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--slots", type=int, default=1, help="execution slots per worker (prefork children)")
    parser.add_argument("--order", choices=["grouped", "interleaved"], default="grouped")
    parser.add_argument(
        "--shape",
        choices=["batch", "requests"],
        default="batch",
        help="batch: one batch request with --count legs, submitted and approved through the services "
        "(its approval enqueues every leg); requests: --count single approved requests enqueued directly",
    )
    parser.add_argument(
        "--pool",
        choices=["prefork", "solo"],
        default="prefork",
        help="prefork: each worker one child process (as production runs them); solo: the task runs in "
        "the worker's main process, and countdown tasks in its timer thread",
    )
    args = parser.parse_args()
    broker, database_url, admin, dbname = run_services()

    workdir = Path(tempfile.mkdtemp(prefix="bench-batch-"))
    harness = Harness(workdir=workdir, broker=broker, scale=1.0, database_url=database_url)
    sandbox = None
    try:
        harness.setup_django()
        from bingx.sandbox import SandboxServer
        from exchange.ratelimit import limit_for
        from transfers import dispatch
        from transfers.models import Status, TransferRequest

        seed = bench_seed(args.uids)
        sandbox = SandboxServer(seed=seed, port=0, rate_limit_scale=1.0)
        sandbox.start()
        sandbox.set_rate_limit(enabled=True, scale=1.0, window="sliding", penalty_ms=300_000)
        mains = [a for a in seed["accounts"] if a["is_master"]]
        key_sets = [bench_key_set(base_url=sandbox.base_url, account=a) for a in mains]
        requester, approvers = batch_people(key_sets=key_sets)
        per_uid = args.count // len(key_sets)
        order = (
            [(u, n) for u in range(len(key_sets)) for n in range(per_uid)]
            if args.order == "grouped"
            else [(u, n) for n in range(per_uid) for u in range(len(key_sets))]
        )
        batch_id = 0
        if args.shape == "batch":
            batch_id = batch_submit(key_sets=key_sets, mains=mains, order=order, requester=requester)
            ids = list(
                TransferRequest.objects.filter(batch_id=batch_id)
                .order_by("leg_index")
                .values_list("pk", flat=True)
            )
        else:
            ids = [
                approved_inner_request(
                    key_set=key_sets[u],
                    recipient_uid=mains[(u + 1) % len(mains)]["uid"],
                    requester=requester,
                    approver=approvers[0],
                )
                for u, _ in order
            ]
        start_workers(
            harness, count=args.workers, pool=args.pool, slots=1 if args.pool == "solo" else args.slots
        )
        pgids = [p.pid for p in harness.workers]
        time.sleep(2)  # the workers' start-up sweep and connections, outside the measurement
        cpu0, busy0, started = group_cpu_s(pgids), machine_busy_s(), time.monotonic()
        pg0, redis0, own0 = named_cpu_s(("postgres",)), named_cpu_s(("redis-server",)), time.process_time()
        if batch_id:
            # The approvals as people give them; the deciding one enqueues every leg on commit
            # (booking each leg's rate-limit slot in this process, as the web process does).
            approve_started = time.process_time()
            batch_approve(batch_id=batch_id, approvers=approvers)
            approve_cpu = time.process_time() - approve_started
        else:
            for pk in ids:  # as the approval's on-commit hook enqueues it (booking its rate-limit slot)
                dispatch.transfer_execute_enqueue(request_id=pk)
        final = (Status.SUCCEEDED, Status.FAILED, Status.UNKNOWN)
        bound = len(key_sets) * float(limit_for(INNER_APPLY, scale=1.0) or 0)
        wait(
            lambda: TransferRequest.objects.filter(pk__in=ids, status__in=final).count() == len(ids),
            timeout=len(ids) / bound * 4 + 180,
            what="all transfers to finish",
            interval=0.1,
        )
        elapsed = time.monotonic() - started
        cpu, busy = group_cpu_s(pgids) - cpu0, machine_busy_s() - busy0
        pg, redis_cpu = named_cpu_s(("postgres",)) - pg0, named_cpu_s(("redis-server",)) - redis0
        own = time.process_time() - own0

        calls = sandbox.app.journal.list(INNER_APPLY)
        limited = [c for c in calls if c["code"] == 100410]
        applied = [c for c in calls if c["applied"]]
        arrivals: dict[object, list[int]] = defaultdict(list)
        for c in calls:
            arrivals[c["uid"]].append(int(c["time_ms"]))
        worst = max((max_per_window(t) for t in arrivals.values()), default=0)
        times = sorted(int(c["time_ms"]) for c in applied)
        span_s = (times[-1] - times[0]) / 1000 if len(times) > 1 else float("nan")
        achieved = (len(times) - 1) / span_s
        succeeded = TransferRequest.objects.filter(pk__in=ids, status=Status.SUCCEEDED).count()
        print(
            f"broker: {broker}; database: {harness.database_url.split(':')[0]}; workers: {args.workers} "
            f"({args.pool}, {args.slots} slot(s) each); cpus: {os.cpu_count()}; order: {args.order}; "
            f"shape: {args.shape}"
        )
        if batch_id:
            print(
                f"approving the batch (and enqueueing its {len(ids)} legs): {approve_cpu * 1000:.0f} ms CPU"
            )
        print(
            f"UIDs: {len(key_sets)}; transfers: {len(ids)}; succeeded: {succeeded}; "
            f"calls: {len(calls)}; applied: {len(applied)}"
        )
        print(
            f"bound: {bound:.0f}/s; achieved: {achieved:.2f}/s over {span_s:.1f} s; "
            f"achieved / bound: {achieved / bound:.3f}"
        )
        print(f"100410 answers: {len(limited)}; most arrivals per UID in any 1 s: {worst}")
        per_second = [0] * (int((times[-1] - times[0]) // 1000) + 1) if times else []
        for t in times:
            per_second[(t - times[0]) // 1000] += 1
        print(f"applied calls in each second from the first: {' '.join(map(str, per_second))}")
        late = sorted((min(t) - times[0]) / 1000 for t in arrivals.values())
        print(
            f"each UID's first call after the batch's first: median {late[len(late) // 2]:.2f} s, "
            f"last {late[-1]:.2f} s"
        )
        if os.environ.get("BENCH_DETAIL"):  # each UID's arrivals, s after the batch's first
            for uid, stamps in sorted(arrivals.items(), key=lambda item: str(item[0])):
                print(f"  {uid}: {' '.join(f'{(x - times[0]) / 1000:.1f}' for x in sorted(stamps))}")
        print(f"wall time, first enqueue to all final: {elapsed:.1f} s")
        logs = [log.read_text(errors="replace") for log in harness.workdir.glob("worker*.log")]
        runs = sum(text.count(f"Task {EXECUTE_TASK}[") for text in logs) // 2  # received + succeeded
        print(f"execute task runs per transfer: {runs / len(ids):.2f}")
        print(
            f"CPU per executed transfer: workers {cpu / len(ids) * 1000:.1f} ms; "
            f"whole machine {busy / len(ids) * 1000:.1f} ms"
        )
        per = 1000 / len(ids)
        print(
            f"  of which PostgreSQL {pg * per:.1f} ms; Redis {redis_cpu * per:.1f} ms; this process (the "
            f"sandbox exchange, the approval{'' if batch_id else ' enqueue'}, polling) {own * per:.1f} ms"
        )
    finally:
        harness.stop_workers()
        if sandbox is not None:
            sandbox.stop()
        if dbname:
            from django.db import connections

            connections.close_all()
            drop_database(admin, dbname)
        if not os.environ.get("BENCH_KEEP"):
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
