"""Audit chain figures: event write cost (one thread, then 8 threads), forks, and verification time.

    DATABASE_URL=postgres://…/bingxadmin_bench .venv/bin/python benchmarks/audit_chain.py
    .venv/bin/python benchmarks/audit_chain.py --events 2000 --threads 8 --per-thread 25 --verify 50000

Runs against a fresh test database (created and dropped, like the test runner: `test_<name>`).
Write cost: `audit_record` in its own transaction, commit included (and, for the sealed chain, the
on-commit sealer). Concurrency: N threads x M calls, then the number of events sharing a predecessor
("forks") and the verification result. Verification: `--verify` events inserted in bulk and sealed,
then the full walk timed outside any request (`audit_verify_chain`), then an incremental one.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bingxadmin.settings_test")


def _print_costs(label: str, costs: list[float]) -> None:
    costs = sorted(costs)
    print(
        f"{label}: {len(costs)} events, median {statistics.median(costs) * 1e3:.2f} ms, "
        f"p95 {costs[int(len(costs) * 0.95)] * 1e3:.2f} ms, {len(costs) / sum(costs):.0f} events/s"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1000, help="single-thread writes")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--per-thread", type=int, default=25)
    parser.add_argument("--verify", type=int, default=50_000, help="events to verify (0: skip)")
    args = parser.parse_args()

    import django

    django.setup()
    from django.db import connection, connections, transaction
    from django.test.utils import setup_databases, teardown_databases

    from accounts import audit
    from accounts.models import AuditEvent
    from tests.factories import UserFactory

    config = setup_databases(verbosity=0, interactive=False)
    try:
        print(f"database: {connection.vendor}; audit module: {audit.__doc__.splitlines()[0]}")
        actor = UserFactory.create(username="bench-auditor")
        seal = getattr(audit, "audit_seal_pending", None)

        # 1. single-thread write cost
        for _ in range(20):  # warm-up
            with transaction.atomic():
                audit.audit_record(actor=actor, verb="bench.warmup", obj=actor, after={"n": 0})
        costs = []
        for n in range(args.events):
            t0 = time.perf_counter()
            with transaction.atomic():
                audit.audit_record(actor=actor, verb="bench.write", obj=actor, after={"n": n})
            costs.append(time.perf_counter() - t0)
        _print_costs("write, 1 thread" + (" (INSERT + on-commit sealing)" if seal else ""), costs)
        if seal:  # the INSERT alone: the sealer left to run once afterwards
            original = audit._seal_after_commit
            audit._seal_after_commit = lambda: None
            costs = []
            for n in range(args.events):
                t0 = time.perf_counter()
                with transaction.atomic():
                    audit.audit_record(actor=actor, verb="bench.write", obj=actor, after={"n": n})
                costs.append(time.perf_counter() - t0)
            audit._seal_after_commit = original
            _print_costs("write, 1 thread (INSERT only, sealing deferred)", costs)
            t1 = time.perf_counter()
            sealed = seal()
            print(f"  then one sealer run: {sealed} events in {(time.perf_counter() - t1) * 1e3:.0f} ms")

        # 2. N threads x M calls
        errors: list[BaseException] = []
        barrier = threading.Barrier(args.threads)

        def worker() -> None:
            try:
                barrier.wait()
                for n in range(args.per_thread):
                    with transaction.atomic():
                        audit.audit_record(actor=actor, verb="bench.concurrent", obj=actor, after={"n": n})
            except BaseException as exc:
                errors.append(exc)
            finally:
                connections.close_all()

        threads = [threading.Thread(target=worker) for _ in range(args.threads)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - t0
        total = args.threads * args.per_thread
        if seal:
            t1 = time.perf_counter()
            seal()
            print(f"  sealing what was left after the threads: {(time.perf_counter() - t1) * 1e3:.1f} ms")
        sealed_rows = AuditEvent.objects.exclude(prev_hash="").exclude(verb="bench.bulk")
        prevs = list(sealed_rows.values_list("prev_hash", flat=True))
        forks = len(prevs) - len(set(prevs))
        report = audit.audit_verify_chain()
        print(
            f"write, {args.threads} threads x {args.per_thread}: {total / elapsed:.0f} events/s "
            f"({elapsed:.2f} s), errors {len(errors)}, events sharing a predecessor {forks}, "
            f"verify: {'intact' if report.ok else f'broken at seq={report.first_broken_seq}'}"
        )

        # 3. verification of a large chain, outside any request
        if args.verify:
            have = AuditEvent.objects.count()
            rows = [
                AuditEvent(
                    at=django.utils.timezone.now(),
                    actor=actor,
                    actor_label=actor.username,
                    verb="bench.bulk",
                    object_type="accounts.user",
                    object_id=str(actor.pk),
                    object_repr=str(actor),
                    after={"n": n, "note": "x" * 40},
                    ip="203.0.113.7",
                    **({} if seal else {"prev_hash": "", "hash": f"bulk-{n}"}),
                )
                for n in range(max(0, args.verify - have))
            ]
            AuditEvent.objects.bulk_create(rows, batch_size=2000)
            if seal:
                t1 = time.perf_counter()
                while seal(limit=5000):
                    pass
                print(f"sealing {len(rows)} bulk-inserted events: {time.perf_counter() - t1:.1f} s")
                from accounts.audit_checkpoints import audit_checkpoint_write
                from accounts.audit_verify import audit_verify_chain, audit_verify_run

                audit_checkpoint_write()
                t1 = time.perf_counter()
                report = audit_verify_chain(full=True)
                print(
                    f"verify (full) {report.checked} events: {time.perf_counter() - t1:.2f} s, "
                    f"{'intact' if report.ok else report.reason}"
                )
                audit_verify_run(full=True)
                for n in range(100):
                    with transaction.atomic():
                        audit.audit_record(actor=actor, verb="bench.after", obj=actor, after={"n": n})
                t1 = time.perf_counter()
                result = audit_verify_run(full=False)
                print(
                    f"verify (incremental, 100 new events since the last checkpoint): "
                    f"{time.perf_counter() - t1:.3f} s, {result.checked} walked, ok={result.ok}"
                )
            else:
                print(f"(old chain: {len(rows)} bulk rows are not chained; no verification timing)")
    finally:
        connections.close_all()
        teardown_databases(config, verbosity=0)


if __name__ == "__main__":
    main()
