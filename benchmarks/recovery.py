"""Recovery times after infrastructure faults, with the production thresholds (issue 17).

Runs the fault tests that kill workers and stop a throw-away PostgreSQL — real workers, a real broker,
beat sweeping every 5 s as the migration schedules it, TRANSFER_UNSENT_CLAIM_SECONDS=20,
TRANSFER_STUCK_AFTER_SECONDS=20, read timeout 10 s — and prints each recovery time they measure
(fault cleared → every request in its final state). Needs PostgreSQL (DATABASE_URL) for the database
outages and Redis (REDIS_URL) for the broker; the tests themselves assert exactly-once and no 100410.

    DATABASE_URL=postgres://bingxadmin:bingxadmin@127.0.0.1:5432/bench_recovery \\
    REDIS_URL=redis://127.0.0.1:6379/14 .venv/bin/python benchmarks/recovery.py
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TESTS = [
    "tests/worker/test_worker_database_outage.py",
    "tests/worker/test_worker_killed_claims.py",
]


def main() -> int:
    env = {**os.environ, "RESILIENCE_THRESHOLDS": "production"}
    cmd = [str(ROOT / "bin" / "test"), *TESTS, "-q", "-s", "-p", "no:cacheprovider"]
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    figures = re.findall(r"^(recovery .*|at the kill: .*)$", done.stdout, flags=re.MULTILINE)
    print("Recovery with production thresholds (sweep 5 s, unsent claim 20 s, stuck 20 s):")
    for line in figures:
        print(f"  {line}")
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-2000:]
    print(f"tests: {summary}")
    for line in re.findall(r"^(FAILED .*|E  .*)$", done.stdout, flags=re.MULTILINE)[:40]:
        print(f"  {line}")
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
