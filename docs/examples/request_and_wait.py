#!/usr/bin/env python3
"""Request a transfer through the bingxadmin API, then wait for its outcome by webhook.

Standard library only. The desk must have an approved webhook endpoint pointing at --listen (with the
signing secret given here) subscribed to the request events; people approve the request in the
browser meanwhile. Exits 0 when the request succeeded, 1 when it ended otherwise, 2 on a timeout.

    BINGXADMIN_TOKEN=bxa_… BINGXADMIN_WEBHOOK_SECRET=whsec_… \\
    python docs/examples/request_and_wait.py --base-url http://127.0.0.1:8000 --listen 127.0.0.1:8500 \\
        --key-set-id 1 --kind wallet --asset USDT --amount 25 \\
        --fields '{"from_wallet": "fund", "to_wallet": "spot"}'
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import queue
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

REPLAY_WINDOW = 300  # seconds: older (or future) timestamps are refused
FINAL = {
    "request.succeeded": 0,
    "request.failed": 1,
    "request.rejected": 1,
    "request.cancelled": 1,
    "request.expired": 1,
    "request.stale": 1,
}


def verify(secret: str, timestamp: str, signature: str, body: bytes) -> bool:
    """The recipe of docs/api.md: HMAC-SHA256 over "<timestamp>.<body>", within the replay window."""
    try:
        if abs(time.time() - int(timestamp)) > REPLAY_WINDOW:
            return False
    except ValueError:
        return False
    expected = "v1=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature)


def serve(listen: str, secret: str, events: queue.Queue[dict]) -> ThreadingHTTPServer:
    host, port = listen.rsplit(":", 1)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            ok = verify(
                secret,
                self.headers.get("X-Bingxadmin-Timestamp", ""),
                self.headers.get("X-Bingxadmin-Signature", ""),
                body,
            )
            self.send_response(204 if ok else 401)
            self.end_headers()
            if ok:
                events.put(json.loads(body))
            else:
                print("ignored a delivery with a bad signature", file=sys.stderr)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer((host, int(port)), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def request_transfer(args: argparse.Namespace, token: str) -> dict:
    body = json.dumps(
        {
            "key_set_id": args.key_set_id,
            "kind": args.kind,
            "asset": args.asset,
            "amount": args.amount,
            "fields": json.loads(args.fields),
            "note": args.note,
        }
    ).encode()
    if not args.base_url.startswith(("http://", "https://")):
        sys.exit("--base-url must be an http(s) URL")
    call = urllib.request.Request(  # noqa: S310 (scheme checked above)
        args.base_url.rstrip("/") + "/api/v1/requests",
        data=body,
        method="POST",
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            # The same key on a retry of this run can never create a second request.
            "Idempotency-Key": args.idempotency_key,
        },
    )
    for attempt in range(5):
        try:
            with urllib.request.urlopen(call, timeout=30) as response:  # noqa: S310
                return dict(json.load(response))
        except urllib.error.HTTPError as exc:
            problem = json.loads(exc.read() or b"{}")
            if exc.code == 429:  # rate limited: wait as told, then retry with the same key
                time.sleep(int(exc.headers.get("Retry-After", "5")))
                continue
            sys.exit(f"refused ({exc.code}): {problem.get('detail')} {problem.get('errors') or ''}")
        except OSError as exc:  # connection trouble: retrying with the same key is safe
            print(f"retrying after {exc!r}", file=sys.stderr)
            time.sleep(2**attempt)
    sys.exit("the desk did not answer")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    parser.add_argument("--listen", default="127.0.0.1:8500", help="host:port the webhook endpoint points at")
    parser.add_argument("--key-set-id", type=int, required=True)
    parser.add_argument("--kind", required=True, choices=["wallet", "inner", "sub_inner", "family"])
    parser.add_argument("--asset", required=True)
    parser.add_argument("--amount", required=True)
    parser.add_argument("--fields", default="{}", help="the kind's fields, as JSON")
    parser.add_argument("--note", default="requested by request_and_wait.py")
    parser.add_argument("--idempotency-key", default=str(uuid.uuid4()))
    parser.add_argument("--timeout", type=float, default=3600)
    args = parser.parse_args()
    token = os.environ["BINGXADMIN_TOKEN"]
    secret = os.environ["BINGXADMIN_WEBHOOK_SECRET"]

    events: queue.Queue[dict] = queue.Queue()
    server = serve(args.listen, secret, events)  # listening before the request: no event is missed
    try:
        created = request_transfer(args, token)
        print(f"request {created['id']} {created['status']}: waiting for people to approve it", flush=True)
        deadline = time.monotonic() + args.timeout
        while time.monotonic() < deadline:
            try:
                event = events.get(timeout=1)
            except queue.Empty:
                continue
            request = event.get("data", {}).get("request", {})
            if request.get("id") != created["id"]:
                continue
            print(f"{event['type']}: {request.get('status')}", flush=True)
            if event["type"] in FINAL:
                return FINAL[event["type"]]
        print("timed out", flush=True)
        return 2
    finally:
        server.shutdown()


if __name__ == "__main__":
    sys.exit(main())
