"""Fixtures for the sandbox tests: an in-process SandboxServer and a tiny independent signing client.

The signing helper is written here on purpose (spec §2.3: HMAC-SHA256 hex over ``k=v`` pairs sorted by
key with raw values; URL values percent-encoded) instead of importing the ``bingx`` client, so these
tests check the sandbox against the spec, not against the client.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests

from bingx.sandbox import SandboxServer

SEED_PATH = Path(__file__).resolve().parents[2] / "bingx" / "sandbox" / "seeds" / "demo.json"
SEED: dict[str, Any] = json.loads(SEED_PATH.read_text())
ACCOUNTS = {a["uid"]: a for a in SEED["accounts"]}
MAIN, SUB1, SUB2, EXTERNAL = 10000001, 10000002, 10000003, 10000009


def key_of(uid: int) -> tuple[str, str]:
    k = ACCOUNTS[uid]["api_keys"][0]
    return k["api_key"], k["secret"]


def fmt(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (list, dict)):
        return json.dumps(v, separators=(",", ":"))
    return str(v)


def hmac_hex(secret: str, text: str) -> str:
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()


class Client:
    """Minimal BingX signer: query (default), form or JSON transport."""

    def __init__(self, base_url: str, api_key: str | None, secret: str, *, timeout: float = 10):
        self.base_url = base_url
        self.api_key = api_key
        self.secret = secret
        self.timeout = timeout
        self.session = requests.Session()

    def build(
        self,
        params: dict[str, Any] | None = None,
        *,
        timestamp: int | None = None,
        sort: bool = True,
    ) -> tuple[list[tuple[str, str]], str]:
        p = {k: v for k, v in (params or {}).items() if v is not None}
        if timestamp is not False:
            p.setdefault("timestamp", timestamp if timestamp is not None else int(time.time() * 1000))
        items = sorted(p.items()) if sort else list(p.items())
        pairs = [(k, fmt(v)) for k, v in items]
        canonical = "&".join(f"{k}={v}" for k, v in pairs)
        return pairs, hmac_hex(self.secret, canonical)

    def headers(self) -> dict[str, str]:
        return {"X-BX-APIKEY": self.api_key} if self.api_key is not None else {}

    def request(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None = None,
        *,
        mode: str = "query",
        signature: str | None = None,
        sign: bool = True,
        timestamp: int | None = None,
        timeout: float | None = None,
    ) -> requests.Response:
        pairs, sig = self.build(params, timestamp=timestamp)
        if signature is not None:
            sig = signature
        headers = self.headers()
        url = self.base_url + path
        if mode == "json":
            body: dict[str, Any] = {k: v for k, v in sorted((params or {}).items()) if v is not None}
            body.setdefault("timestamp", dict(pairs)["timestamp"])
            if sign:
                body["signature"] = sig
            headers["Content-Type"] = "application/json"
            return self.session.request(
                method, url, data=json.dumps(body), headers=headers, timeout=timeout or self.timeout
            )
        qs = "&".join(f"{k}={quote(v, safe='')}" for k, v in pairs)
        if sign:
            qs += f"&signature={sig}"
        if mode == "form":
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            return self.session.request(
                method, url, data=qs, headers=headers, timeout=timeout or self.timeout
            )
        return self.session.request(method, f"{url}?{qs}", headers=headers, timeout=timeout or self.timeout)

    def get(self, path: str, params: dict[str, Any] | None = None, **kw: Any) -> requests.Response:
        return self.request("GET", path, params, **kw)

    def post(self, path: str, params: dict[str, Any] | None = None, **kw: Any) -> requests.Response:
        return self.request("POST", path, params, **kw)


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    # Rate limits off by default so functional tests can call 2/s endpoints back to back;
    # the rate-limit tests switch them on explicitly.
    with SandboxServer(seed=SEED_PATH, rate_limits_enabled=False) as server:
        yield server


def client_for(server: SandboxServer, uid: int) -> Client:
    api_key, secret = key_of(uid)
    return Client(server.base_url, api_key, secret)


@pytest.fixture
def main(sandbox: SandboxServer) -> Client:
    return client_for(sandbox, MAIN)


@pytest.fixture
def sub1(sandbox: SandboxServer) -> Client:
    return client_for(sandbox, SUB1)


@pytest.fixture
def sub2(sandbox: SandboxServer) -> Client:
    return client_for(sandbox, SUB2)


@pytest.fixture
def external(sandbox: SandboxServer) -> Client:
    return client_for(sandbox, EXTERNAL)


def wallet(server: SandboxServer, uid: int, name: str, asset: str) -> str:
    """Free balance text from the control snapshot (the ground truth, independent of API endpoints)."""
    for acct in server.snapshot(include_records=False)["accounts"]:
        if acct["uid"] == uid:
            value = acct["wallets"][name].get(asset, "0")
            return value["free"] if isinstance(value, dict) else value
    raise KeyError(uid)
