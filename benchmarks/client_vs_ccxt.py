"""Per-call speed of ``bingx.Client`` against ccxt's BingX implementation, on the same signed endpoint.

Both talk to one in-process sandbox (strict signature checks, per-UID rate limits off) with the same API
key; ccxt runs with ``enableRateLimit=False``. After a warm-up, each round makes ``--calls`` calls on one
side, then on the other (the side that goes first alternates), for ``--rounds`` rounds. Printed: calls/s
per side per round, the medians, and the median of the per-round ratios bingx ÷ ccxt (≥ 1.0 means the
client is at least as fast).

    .venv/bin/python benchmarks/client_vs_ccxt.py
    .venv/bin/python benchmarks/client_vs_ccxt.py --rounds 10 --calls 200 --endpoint fund

Endpoints (both signed GETs, query transport):

* ``spot``: ``Client.spot_balances()`` vs ccxt ``fetch_balance({"type": "spot"})``;
* ``fund``: ``Client.fund_balances()`` vs ccxt ``fetch_balance({"type": "funding"})``.

Each side returns parsed balances (typed ``Balance`` tuples / ccxt's unified balance dict). ``--raw``
compares against ccxt's implicit raw methods instead (JSON dict, no balance parsing), which is ccxt's
fastest path.

The sandbox serves from threads of this process, so its own work (the same for both sides) is part of
every figure; the ratio therefore understates the difference in client-side overhead.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import ccxt  # noqa: E402

from bingx import Client  # noqa: E402
from bingx.sandbox import SandboxServer  # noqa: E402

SEED_PATH = ROOT / "bingx" / "sandbox" / "seeds" / "demo.json"
MAIN_UID = 10000001

Call = Callable[[], object]


def main_key() -> tuple[str, str]:
    seed = json.loads(SEED_PATH.read_text())
    for account in seed["accounts"]:
        if account["uid"] == MAIN_UID:
            key = account["api_keys"][0]
            return str(key["api_key"]), str(key["secret"])
    raise SystemExit(f"no account {MAIN_UID} in {SEED_PATH}")


def ccxt_exchange(base_url: str, api_key: str, secret: str) -> Any:
    exchange = ccxt.bingx({"apiKey": api_key, "secret": secret, "enableRateLimit": False})
    # ccxt builds URLs as urls["api"][group] + "/" + type + "/" + version + "/" + path.
    exchange.urls["api"] = {group: base_url + "/openApi" for group in exchange.urls["api"]}
    # No load_markets (market-data endpoints the sandbox does not fake): the currencies are enough.
    currency = {"precision": 1e-8, "active": True, "networks": {}}
    exchange.set_markets(
        {}, {code: {**currency, "id": code, "code": code, "name": code} for code in ("USDT", "BTC", "ETH")}
    )
    return exchange


def calls_for(endpoint: str, client: Client, exchange: Any, *, raw: bool) -> tuple[Call, Call]:
    if endpoint == "spot":
        ours: Call = client.spot_balances
        theirs: Call = (
            exchange.spotV1PrivateGetAccountBalance
            if raw
            else lambda: exchange.fetch_balance({"type": "spot"})
        )
    else:
        ours = client.fund_balances
        theirs = (
            exchange.fundV1PrivateGetAccountBalance
            if raw
            else lambda: exchange.fetch_balance({"type": "funding"})
        )
    return ours, theirs


def rate(call: Call, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        call()
    return n / (time.perf_counter() - start)


def run(endpoint: str, rounds: int, calls: int, warmup: int, *, raw: bool) -> float:
    api_key, secret = main_key()
    with SandboxServer(seed=SEED_PATH, rate_limits_enabled=False) as sandbox:
        client = Client(api_key, secret, base_url=sandbox.base_url)
        client.sync_time()
        exchange = ccxt_exchange(sandbox.base_url, api_key, secret)
        ours, theirs = calls_for(endpoint, client, exchange, raw=raw)
        # Same answer on both sides before timing anything.
        assert ours(), "bingx client returned no balances"
        assert theirs(), "ccxt returned no balances"
        rate(ours, warmup)
        rate(theirs, warmup)
        ours_rates: list[float] = []
        theirs_rates: list[float] = []
        ratios: list[float] = []
        label = "ccxt raw" if raw else "ccxt"
        print(f"endpoint={endpoint}  rounds={rounds}  calls/round/side={calls}  warm-up={warmup}")
        print(f"{'round':>5}  {'bingx calls/s':>13}  {label + ' calls/s':>14}  {'ratio':>6}")
        for i in range(rounds):
            sandbox.clear_journal()
            if i % 2 == 0:
                a = rate(ours, calls)
                b = rate(theirs, calls)
            else:
                b = rate(theirs, calls)
                a = rate(ours, calls)
            ours_rates.append(a)
            theirs_rates.append(b)
            ratios.append(a / b)
            print(f"{i + 1:>5}  {a:>13.0f}  {b:>14.0f}  {a / b:>6.2f}")
        errors = [c for c in sandbox.journal() if c["code"] != 0]
        client.close()
    ratio = statistics.median(ratios)
    print(
        f"median  bingx {statistics.median(ours_rates):.0f} calls/s  "
        f"{label} {statistics.median(theirs_rates):.0f} calls/s  "
        f"ratio bingx/{label.replace(' ', '-')} {ratio:.2f}"
    )
    if errors:
        raise SystemExit(f"{len(errors)} calls in the last round were refused by the sandbox")
    return ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--endpoint", choices=["spot", "fund", "both"], default="both")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--calls", type=int, default=200, help="calls per round per side")
    parser.add_argument("--warmup", type=int, default=100, help="untimed calls per side first")
    parser.add_argument("--raw", action="store_true", help="compare with ccxt's implicit raw methods")
    args = parser.parse_args()
    endpoints = ["spot", "fund"] if args.endpoint == "both" else [args.endpoint]
    for n, endpoint in enumerate(endpoints):
        if n:
            print()
        run(endpoint, args.rounds, args.calls, args.warmup, raw=args.raw)


if __name__ == "__main__":
    main()
