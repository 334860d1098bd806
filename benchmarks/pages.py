"""Page speed at scale: p50/p95 and queries per page with 10 000 requests and 100 000 records (PostgreSQL).

    .venv/bin/python benchmarks/pages.py                       # fill bench_pages, measure, drop it
    .venv/bin/python benchmarks/pages.py --requests 1000 --records 10000 --runs 20
    .venv/bin/python benchmarks/pages.py --keep                # leave the database for EXPLAIN

The script creates its own database (`bench_pages` on the server of DATABASE_URL, default
postgres://bingxadmin:bingxadmin@127.0.0.1:5432/bench_pages), migrates it, fills it with bulk_create
(key sets with hundreds of sub-accounts, requests of every kind and status, approvals, exchange records
of every source with legacy duplicates and matched rows, sync cursors, audit events sealed into the
chain), then requests each page with django.test.Client as a logged-in person with the grants the page
needs (second factor done) and prints p50/p95 wall time and the number of SQL queries of one request.
Goal (issue 12): every page p95 < 150 ms with query counts independent of data size.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DEFAULT_URL = "postgres://bingxadmin:bingxadmin@127.0.0.1:5432/bench_pages"
MAIN_UID = 20000000
KINDS = ["wallet", "inner", "sub_inner", "family"]
# Mostly settled history, a few hundred waiting for a decision (the queue of the issue: ~280 rows).
STATUS_MIX = (
    ["succeeded"] * 70
    + ["failed"] * 5
    + ["rejected"] * 5
    + ["cancelled"] * 4
    + ["expired"] * 5
    + ["stale"] * 2
    + ["approved"] * 2
    + ["unknown"] * 2
    + ["submitting"] * 1
    + ["pending"] * 4
)
RECORD_SOURCES = ["asset", "legacy_asset", "inner", "sub_inner", "family"]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--key-sets", type=int, default=5, help="main key sets (each with its sub-accounts)")
    parser.add_argument("--subs", type=int, default=200, help="sub-accounts per main key set")
    parser.add_argument("--audit", type=int, default=20_000, help="audit events")
    parser.add_argument("--runs", type=int, default=40, help="timed requests per page (after 3 warm-ups)")
    parser.add_argument("--keep", action="store_true", help="do not drop the database at the end")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_PAGES_DATABASE_URL", DEFAULT_URL))
    return parser.parse_args()


def admin_connect(url: str) -> Any:
    import psycopg

    parts = urlsplit(url)
    return psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True)


def database_recreate(url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    if not name.startswith("bench_"):
        raise SystemExit(f"refusing to recreate {name!r}: the benchmark only owns databases named bench_*")
    with admin_connect(url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def database_drop(url: str) -> None:
    from django.db import connections

    connections.close_all()
    name = urlsplit(url).path.lstrip("/")
    with admin_connect(url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def setup_django(url: str, workdir: Path) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bingxadmin.settings_test")
    os.environ["BINGXADMIN_VAR_DIR"] = str(workdir)
    os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_ALLOWED_HOSTS"] = "testserver,localhost"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


# --- fill ------------------------------------------------------------------------------------------


def key_set_make(*, label: str, uid: int, parent: Any = None) -> Any:
    from accounts.crypto import PURPOSE_API_KEY, PURPOSE_SECRET, secret_encrypt
    from accounts.models import AccountKind, ApiKeySet, Environment, KeySetStatus

    obj = ApiKeySet(
        label=label,
        environment=Environment.SANDBOX,
        base_url="http://127.0.0.1:9",  # never called: pages read the database only
        account_kind=AccountKind.SUB if parent else AccountKind.MAIN,
        parent=parent,
        uid=uid,
        status=KeySetStatus.ACTIVE,
        permissions=[1, 2, 4, 5],
        api_key_last4="0000",
    )
    obj.api_key_encrypted = secret_encrypt(
        plaintext=f"bench-key-{uid}", key_set_uuid=obj.uuid, purpose=PURPOSE_API_KEY
    )
    obj.secret_encrypted = secret_encrypt(
        plaintext=f"bench-secret-{uid}", key_set_uuid=obj.uuid, purpose=PURPOSE_SECRET
    )
    obj.save()
    return obj


def payload_for(*, kind: str, i: int, main_uid: int, amount: Decimal) -> dict[str, Any]:
    sub = main_uid + 1 + i % 50
    base: dict[str, Any] = {"asset": "USDT", "amount": format(amount, "f"), "kind": kind}
    if kind == "wallet":
        return {**base, "from_wallet": "fund", "to_wallet": "spot"}
    if kind in ("inner", "sub_inner"):
        return {**base, "recipient_type": 1, "recipient_account": str(sub), "wallet_type": 1}
    return {
        **base,
        "from_type": 1,
        "from_uid": main_uid,
        "from_account_type": 1,
        "to_type": 2,
        "to_uid": sub,
        "to_account_type": 1,
    }


def fill(args: argparse.Namespace) -> dict[str, Any]:
    from django.contrib.auth.models import Group
    from django.db import connection, transaction
    from django.utils import timezone

    from accounts.audit_scope import audit_scope_fields
    from accounts.models import AuditEvent, KeySetGrant, SubAccount, User
    from accounts.roles import roles_ensure
    from transfers.models import Approval, SyncCursor, TransferRecord, TransferRequest
    from transfers.services.requests import transfer_request_create

    roles_ensure()
    people = {}
    for name, role in [
        ("alice", "requester"),
        ("bob", "approver"),
        ("carol", "approver"),
        ("ivy", "auditor"),
    ]:
        user = User.objects.create_user(
            username=name, email=f"{name}@example.com", password="bench-pass-1234"
        )
        user.groups.add(Group.objects.get(name=role))
        people[name] = user
    alice, bob, carol = people["alice"], people["bob"], people["carol"]

    mains = []
    for k in range(args.key_sets):
        uid = MAIN_UID + k * 1000
        ks = key_set_make(label=f"Main {k}", uid=uid)
        mains.append(ks)
        SubAccount.objects.bulk_create(
            SubAccount(main_key_set=ks, sub_uid=uid + 1 + s, name=f"sub {s}") for s in range(args.subs)
        )
        for who, may_request, may_approve in [(alice, True, False), (bob, True, True), (carol, False, True)]:
            KeySetGrant.objects.create(
                key_set=ks, user=who, can_view=True, can_request=may_request, can_approve=may_approve
            )
    # A few sub-account key sets of the first family (the new-transfer forms list their families).
    for s in range(3):
        sub = key_set_make(label=f"Main 0 sub {s}", uid=MAIN_UID + 1 + s, parent=mains[0])
        KeySetGrant.objects.create(key_set=sub, user=bob, can_view=True, can_request=True, can_approve=True)

    started = time.perf_counter()
    now = timezone.now()
    template = transfer_request_create(
        requester=alice,
        key_set_id=mains[0].pk,
        kind="inner",
        asset="USDT",
        amount=Decimal("25"),
        fields={"recipient_type": 1, "recipient_account": str(MAIN_UID + 1), "wallet_type": 1},
    )
    rows = []
    for i in range(args.requests - 1):
        ks = mains[i % len(mains)]
        kind = KINDS[(i // len(mains)) % len(KINDS)]
        status = STATUS_MIX[(i * 7) % len(STATUS_MIX)]
        amount = Decimal(10 + i % 500) + Decimal("0.5")
        pending = status == "pending"
        rows.append(
            TransferRequest(
                client_id=f"bench-{i}",
                key_set=ks,
                kind=kind,
                payload=payload_for(kind=kind, i=i, main_uid=int(ks.uid), amount=amount),
                payload_sha256=f"{i:064x}",
                asset="USDT" if i % 4 else "BTC",
                amount=amount,
                status=status,
                required_approvals=1 + i % 2,
                policy_version=template.policy_version,
                requested_by=alice if i % 3 else carol,
                expires_at=now + dt.timedelta(hours=24 if pending else -1),
                needs_attention=status in ("unknown", "failed") and i % 10 == 0,
                exchange_id=f"ex-{i}" if status == "succeeded" else "",
                submitted_at=now - dt.timedelta(minutes=i)
                if status in ("succeeded", "failed", "unknown")
                else None,
            )
        )
    with transaction.atomic():
        TransferRequest.objects.bulk_create(rows, batch_size=2000)
        # Spread the times over the past weeks (auto_now stamped them all "now").
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE transfers_transferrequest SET created_at = now() - (id * interval '2 minutes'), "
                "updated_at = now() - (id * interval '1 minute') WHERE id <> %s",
                [template.pk],
            )
        ids = list(
            TransferRequest.objects.exclude(
                status__in=["pending", "cancelled", "expired", "stale"]
            ).values_list("pk", "requested_by_id")
        )
        approvals = []
        for pk, requester_id in ids:
            approver = bob if requester_id != bob.pk and pk % 2 else carol
            if approver.pk == requester_id:
                continue
            approvals.append(
                Approval(request_id=pk, approver=approver, decision="approve", payload_sha256=f"{pk:064x}")
            )
        Approval.objects.bulk_create(approvals, batch_size=2000)
    requests_s = time.perf_counter() - started

    started = time.perf_counter()
    succeeded = list(TransferRequest.objects.filter(status="succeeded").values_list("pk", "key_set_id"))
    records = []
    n = 0
    while n < args.records:
        ks = mains[n % len(mains)]
        source = RECORD_SOURCES[(n // len(mains)) % len(RECORD_SOURCES)]
        at = now - dt.timedelta(seconds=30 * n)
        matched = None
        if source in ("inner", "family") and n % 3 == 0 and succeeded:
            pk, _ = succeeded[(n // 3) % len(succeeded)]
            matched = pk
        amount = Decimal(n % 997) + Decimal("0.25")
        common = {
            "key_set": ks,
            "asset": "USDT",
            "amount": amount,
            "status": "SUCCESS",
            "from_account": "fund",
            "to_account": "spot",
            "occurred_at": at,
            "raw": {"n": n},
        }
        records.append(
            TransferRecord(source=source, exchange_id=f"r{n}", matched_request_id=matched, **common)
        )
        n += 1
        if source == "asset" and n < args.records:
            # The legacy endpoint reports the same wallet transfer again (a duplicate the page hides).
            records.append(TransferRecord(source="legacy_asset", exchange_id=f"l{n}", **common))
            n += 1
    with transaction.atomic():
        TransferRecord.objects.bulk_create(records, batch_size=5000)
        SyncCursor.objects.bulk_create(
            SyncCursor(
                key_set=ks, source=src, scope=f"s{j}", last_time_ms=1_700_000_000_000, last_synced_at=now
            )
            for ks in mains
            for src in RECORD_SOURCES
            for j in range(4)
        )
    records_s = time.perf_counter() - started

    started = time.perf_counter()
    sample = list(TransferRequest.objects.order_by("pk")[: args.audit])
    events = []
    for j in range(args.audit):
        req = sample[j % len(sample)]
        events.append(
            AuditEvent(
                at=now - dt.timedelta(seconds=args.audit - j),
                actor=alice,
                actor_label="alice",
                verb=["transfer.create", "transfer.approve", "transfer.succeeded"][j % 3],
                object_type="transfers.transferrequest",
                object_id=str(req.pk),
                object_repr=str(req)[:200],
                after={"status": req.status},
                **audit_scope_fields(req),
            )
        )
    AuditEvent.objects.bulk_create(events, batch_size=5000)
    from accounts.audit_seal import audit_seal_pending

    while audit_seal_pending(limit=5000, max_rounds=20):
        pass
    audit_s = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute(
            "ANALYZE transfers_transferrequest, transfers_transferrecord, transfers_approval, "
            "accounts_auditevent"
        )
    print(
        f"filled {TransferRequest.objects.count()} requests ({requests_s:.1f} s), "
        f"{TransferRecord.objects.count()} records ({records_s:.1f} s), "
        f"{AuditEvent.objects.count()} audit events ({audit_s:.1f} s)"
    )
    return {"people": people, "detail": template, "mains": mains}


# --- measure ---------------------------------------------------------------------------------------


def client_for(user: Any) -> Any:
    from django.test import Client

    from accounts.second_factor import SESSION_KEY

    client = Client()
    client.force_login(user)
    session = client.session
    session[SESSION_KEY] = "totp"
    session.save()
    return client


def consume(response: Any) -> int:
    if getattr(response, "streaming", False):
        return sum(len(chunk) for chunk in response.streaming_content)
    return len(response.content)


def measure(name: str, fetch: Callable[[], Any], runs: int) -> dict[str, Any]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(3):
        response = fetch()
        consume(response)
        if response.status_code != 200:
            raise SystemExit(f"{name}: HTTP {response.status_code}")
    connection.queries_log.clear()
    with CaptureQueriesContext(connection) as queries:
        consume(fetch())
    count = len(queries)  # now: the next request resets the connection's query log
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        consume(fetch())
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    return {"page": name, "p50": statistics.median(times), "p95": p95, "queries": count}


def pages(ctx: dict[str, Any], runs: int) -> list[dict[str, Any]]:
    from django.urls import NoReverseMatch, reverse

    bob = client_for(ctx["people"]["bob"])
    ivy = client_for(ctx["people"]["ivy"])
    pk = ctx["detail"].pk
    try:
        status_url = reverse("transfers:request_state", args=[pk]) + f"?shown=pending:{0}"
    except NoReverseMatch:
        status_url = reverse("transfers:request_status", args=[pk]) + "?shown=pending"
    plan: list[tuple[str, Any, str, int]] = [
        ("dashboard", bob, reverse("transfers:dashboard"), runs),
        ("approvals queue", bob, reverse("transfers:queue"), runs),
        ("history", bob, reverse("transfers:history"), runs),
        ("history page 100", bob, reverse("transfers:history") + "?page=100", runs),
        ("request detail", bob, reverse("transfers:request_detail", args=[pk]), runs),
        ("live status (polled)", bob, status_url, runs),
        ("reconciliation", bob, reverse("transfers:reconciliation"), runs),
        ("audit", ivy, reverse("transfers:audit_log"), runs),
        ("new inner transfer", bob, reverse("transfers:request_new") + "?kind=inner", runs),
        ("history CSV (all rows)", bob, reverse("transfers:history") + "?format=csv", max(3, runs // 8)),
    ]
    return [measure(name, functools.partial(c.get, u), n) for name, c, u, n in plan]


def main() -> None:
    args = parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-pages-"))
    database_recreate(args.database_url)
    try:
        setup_django(args.database_url, workdir)
        import logging

        logging.disable(logging.WARNING)
        ctx = fill(args)
        results = pages(ctx, args.runs)
        print(f"\n{args.requests} requests, {args.records} records, {args.runs} runs per page (PostgreSQL)\n")
        print(f"{'page':<26}{'p50 ms':>9}{'p95 ms':>9}{'queries':>9}")
        for r in results:
            flag = "" if r["p95"] < 150 else "  > 150 ms"
            print(f"{r['page']:<26}{r['p50']:>9.1f}{r['p95']:>9.1f}{r['queries']:>9}{flag}")
    finally:
        if args.keep:
            print(f"kept database {urlsplit(args.database_url).path.lstrip('/')}")
        else:
            database_drop(args.database_url)


if __name__ == "__main__":
    main()
