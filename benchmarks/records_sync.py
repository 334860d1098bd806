"""Records sync throughput: N historical records ingested from the sandbox over HTTP, then a re-run.

    .venv/bin/python benchmarks/records_sync.py                # 100 000 records, temp SQLite DB
    .venv/bin/python benchmarks/records_sync.py --count 20000
    .venv/bin/python benchmarks/records_sync.py --count 20000 --limits bingx   # at BingX's limits
    DATABASE_URL=postgres://... .venv/bin/python benchmarks/records_sync.py --configured-db

The records are split evenly over four endpoints, each with its own paging: asset transfer records
(pageIndex/pageSize 100) and main inner records (offset/limit 1000) and family history (pageId/
pagingSize 100, read once per family member) for the main key set, and sub-account inner records
(offset/limit 1000) for a sub-account key set. The sandbox's rate limits are switched off over its
control API and the shared client-side limiter is scaled out of the way, so the figure is the cost of
paging, parsing and upserting. The second run reads the cursor overlap only and must insert nothing.

`--limits bingx` keeps the sandbox's strict limits on (sliding 1 s windows, BingX's 5-minute penalty)
and runs the shared limiter at BingX's values, with the asset records spread over all 20 wallet pairs
(20 scopes of one endpoint for one UID): it prints how many 100410 answers the desk's own traffic got
(target 0) and how many scopes were left for later (target 0).
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SEED_PATH = ROOT / "bingx" / "sandbox" / "seeds" / "demo.json"
MAIN_UID, SUB1_UID, SUB2_UID, EXTERNAL_UID = 10000001, 10000002, 10000003, 10000009


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=100_000, help="records to create (split over 4 kinds)")
    parser.add_argument(
        "--limits",
        choices=["off", "bingx"],
        default="off",
        help="off: sandbox limits off, limiter out of the way; bingx: both at BingX's values",
    )
    parser.add_argument(
        "--configured-db",
        action="store_true",
        help="use DATABASE_URL as configured instead of a throw-away SQLite file (tables must exist)",
    )
    return parser.parse_args()


def setup_django(workdir: Path, configured_db: bool, limits: str) -> None:
    """Environment first: settings read it once, at django.setup()."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bingxadmin.settings_test")
    os.environ["BINGXADMIN_VAR_DIR"] = str(workdir)
    # off: the limiter still runs, but never waits; bingx: BingX's own per-UID limits.
    os.environ["BINGX_RATE_LIMIT_SCALE"] = "100000" if limits == "off" else "1"
    if not configured_db:
        os.environ["DATABASE_URL"] = f"sqlite:///{workdir / 'bench.sqlite3'}"
    import django

    django.setup()
    from django.core.management import call_command

    if not configured_db:
        call_command("migrate", verbosity=0)
    # One INFO line per BingX call would dominate the timing of thousands of calls.
    logging.getLogger("bingx").setLevel(logging.WARNING)


def key_set(*, label: str, uid: int, base_url: str, parent: Any = None) -> Any:
    from accounts.crypto import PURPOSE_API_KEY, PURPOSE_SECRET, secret_encrypt
    from accounts.models import AccountKind, ApiKeySet, Environment, KeySetStatus

    seed = json.loads(SEED_PATH.read_text())
    key = next(a for a in seed["accounts"] if a["uid"] == uid)["api_keys"][0]
    obj = ApiKeySet(
        label=label,
        environment=Environment.SANDBOX,
        base_url=base_url,
        account_kind=AccountKind.SUB if parent else AccountKind.MAIN,
        parent=parent,
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
    return obj


def control(base_url: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    import requests

    response = requests.post(f"{base_url}/_sandbox/{path}", json=body, timeout=60)
    response.raise_for_status()
    result: dict[str, Any] = response.json()
    return result


def run_sync(key_sets: list[Any]) -> tuple[float, dict[str, dict[str, int]]]:
    from transfers.records.sync import records_sync

    totals: dict[str, dict[str, int]] = {}
    started = time.perf_counter()
    for ks in key_sets:
        report = records_sync(key_set_id=ks.pk)
        if not report.ok:
            raise SystemExit(f"sync of {ks.label} failed: {report.errors}")
        for source, r in report.sources.items():
            row = totals.setdefault(
                source, {"fetched": 0, "inserted": 0, "updated": 0, "calls": 0, "deferred": 0}
            )
            row["deferred"] += len(r.deferred)
            row["fetched"] += r.fetched
            row["inserted"] += r.inserted
            row["updated"] += r.updated
            row["calls"] += r.calls
    return time.perf_counter() - started, totals


def main() -> None:
    args = parse_args()
    if args.count < 4:
        raise SystemExit("--count must be at least 4")
    workdir = Path(tempfile.mkdtemp(prefix="bench-records-sync-"))
    try:
        setup_django(workdir, args.configured_db, args.limits)
        from django.db import connection

        from bingx.sandbox import SandboxServer
        from transfers.models import TransferRecord

        seed = json.loads(SEED_PATH.read_text())
        seed = copy.deepcopy(seed)
        seed["records"] = {}  # exact counts: only the generated records exist
        with SandboxServer(seed=seed, rate_limits_enabled=True) as server:
            if args.limits == "off":
                control(server.base_url, "ratelimit", {"enabled": False})
            per_kind = args.count // 4
            wallets = ["fund", "spot", "stdFutures", "coinMPerp", "USDTMPerp"]
            pairs = [(a, b) for a in wallets for b in wallets if a != b] if args.limits == "bingx" else []
            asset_plan = [
                {"uid": MAIN_UID, "kind": "asset", "from_account": a, "to_account": b} for a, b in pairs
            ] or [{"uid": MAIN_UID, "kind": "asset", "from_account": "fund", "to_account": "spot"}]
            plan = [
                *asset_plan,
                {"uid": MAIN_UID, "kind": "inner", "counterparty_uid": EXTERNAL_UID},
                {"uid": MAIN_UID, "kind": "family", "counterparty_uid": SUB1_UID},
                {"uid": SUB1_UID, "kind": "sub_inner", "counterparty_uid": SUB2_UID},
            ]
            created = 0
            share = {id(b): per_kind // len(asset_plan) for b in asset_plan}
            share[id(asset_plan[0])] += args.count - per_kind * 4 + per_kind % len(asset_plan)
            for body in plan:
                n = share.get(id(body), per_kind)
                created += control(server.base_url, "records/bulk", {**body, "count": n})["created"]

            tag = time.strftime("%Y%m%d-%H%M%S")  # labels are unique; a configured DB may hold older runs
            main_ks = key_set(label=f"bench main {tag}", uid=MAIN_UID, base_url=server.base_url)
            sub_ks = key_set(
                label=f"bench sub 1 {tag}", uid=SUB1_UID, base_url=server.base_url, parent=main_ks
            )
            key_sets = [main_ks, sub_ks]
            before = TransferRecord.objects.count()

            first_s, first = run_sync(key_sets)
            stored = TransferRecord.objects.count() - before
            inserted = sum(r["inserted"] for r in first.values())
            fetched = sum(r["fetched"] for r in first.values())
            calls = sum(r["calls"] for r in first.values())

            second_s, second = run_sync(key_sets)
            inserted_again = sum(r["inserted"] for r in second.values())
            fetched_again = sum(r["fetched"] for r in second.values())
            limited = [c for c in server.journal() if c["code"] == 100410 or c["http_status"] == 429]
            deferred = sum(r["deferred"] for run in (first, second) for r in run.values())

        print(f"database: {connection.vendor} ({'configured' if args.configured_db else 'temporary file'})")
        print(f"limits: {args.limits}; asset wallet pairs: {len(asset_plan)}")
        print(f"records created on the sandbox: {created}")
        for source, r in sorted(first.items()):
            print(
                f"  {source:<13} fetched={r['fetched']:>7} inserted={r['inserted']:>7} calls={r['calls']:>5}"
            )
        print(
            f"first run:  inserted={inserted} (stored {stored}) fetched={fetched} calls={calls} "
            f"in {first_s:.2f} s -> {inserted / first_s:,.0f} records/s inserted, "
            f"{fetched / first_s:,.0f} rows/s fetched"
        )
        print(
            f"second run: inserted={inserted_again} fetched={fetched_again} in {second_s:.2f} s "
            f"(cursor overlap only)"
        )
        print(f"100410 / HTTP 429 answers to the desk: {len(limited)}; scopes left for later: {deferred}")
        if limited or deferred:
            raise SystemExit("RATE LIMITED: the desk's own traffic went over BingX's limits")
        # The legacy endpoint lists its own copies of some wallet pairs' transfers (stored apart).
        legacy = first.get("legacy_asset", {}).get("inserted", 0)
        if inserted - legacy != created or stored - legacy != created or inserted_again != 0:
            raise SystemExit("MISMATCH: the sync did not store every record exactly once")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
