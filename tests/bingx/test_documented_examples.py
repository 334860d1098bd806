"""BingX's documented response examples (tests/bingx/fixtures/documented/, built by
tests/bingx/documented_examples.py) against the sandbox and the client.

1. The sandbox answers each documented request with a body of the documented SHAPE: the same keys,
   nesting and JSON types (string / number / boolean / null / object / array). The only differences
   allowed are the ones the spec (bingx-api.md) or the docs page itself records, each named below
   with its section; anything else fails.
2. The client parses every documented example body (served by a stub HTTP server, so the whole path
   runs: HTTP, exact JSON, envelope, model) into a model that carries the example's values.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests

from bingx import Client, endpoint_for
from bingx.sandbox import SandboxServer
from bingx.signing import build

from . import documented_examples
from .conftest import StubRequest, StubServer, respond

SEED_PATH = Path(__file__).resolve().parents[2] / "bingx" / "sandbox" / "seeds" / "demo.json"
SEED: dict[str, Any] = json.loads(SEED_PATH.read_text())
MAIN = 10000001
MAIN_KEY = next(a["api_keys"][0] for a in SEED["accounts"] if a["uid"] == MAIN)


def load(name: str, *, exact: bool = False) -> dict[str, Any]:
    text = (documented_examples.FIXTURES / f"{name}.json").read_text(encoding="utf-8")
    fixture: dict[str, Any] = json.loads(text, parse_float=Decimal) if exact else json.loads(text)
    return fixture


NAMES = sorted(p.stem for p in documented_examples.FIXTURES.glob("*.json"))


def test_fixtures_cover_the_ten_documented_endpoints_and_hold_no_secret() -> None:
    assert sorted(documented_examples.REQUESTS) == NAMES
    assert len(NAMES) == 10
    for name in NAMES:
        fixture = load(name)
        endpoint = endpoint_for(fixture["path"])
        assert endpoint is not None
        assert (endpoint.name, endpoint.method) == (name, fixture["method"])
        text = json.dumps(fixture).lower()
        assert "secret" not in text
        assert "signature" not in text
        assert "apikey" not in text


def test_fixtures_match_the_reference_they_were_built_from() -> None:
    if not (documented_examples.DEFAULT_REFERENCE / documented_examples.DOCS_FILE).exists():
        pytest.skip("the shared reference is not on this machine; the committed fixtures stand")
    built = documented_examples.build()
    for name in NAMES:
        on_disk = (documented_examples.FIXTURES / f"{name}.json").read_text(encoding="utf-8")
        assert on_disk == documented_examples.render(built[name]), (
            f"regenerate: .venv/bin/python -m tests.bingx.documented_examples ({name})"
        )


# ---------------------------------------------------------------------------------------------------
# 1. the sandbox answers in the documented shape
# ---------------------------------------------------------------------------------------------------
JSON_TYPES = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
# Types in the docs' parameter tables, as JSON types (DECIMAL amounts are strings in some examples and
# numbers in others, so the table alone does not decide).
TABLE_TYPES = {
    "string": {"string"},
    "enum": {"string"},
    "long": {"number"},
    "int": {"number"},
    "int64": {"number"},
    "integer": {"number"},
    "decimal": {"number", "string"},
    "float64": {"number"},
    "array": {"array"},
    "object": {"object"},
}


def json_type(value: Any) -> str:
    if isinstance(value, bool) or value is None or isinstance(value, (dict, list, str)):
        return JSON_TYPES[type(value)]
    assert isinstance(value, (int, float, Decimal)), value
    return "number"


def documented_fields(fixture: dict[str, Any]) -> dict[str, set[str]]:
    """Fields the docs page's response tables list for this endpoint, with their JSON types."""
    rows = fixture["docs"]["response_parameters"] + fixture["docs"]["element_parameters"]
    return {r["name"]: TABLE_TYPES[r["type"].lower()] for r in rows}


def assert_same_shape(actual: Any, expected: Any, table: dict[str, set[str]], where: str = "$") -> None:
    assert json_type(actual) == json_type(expected), f"{where}: {json_type(actual)} ≠ {json_type(expected)}"
    if isinstance(expected, dict):
        extra = set(actual) - set(expected)
        missing = set(expected) - set(actual)
        assert not missing, f"{where}: documented keys missing: {sorted(missing)}"
        for key in sorted(extra):
            # Allowed: a field the docs' own response table lists but the example leaves out
            # (displayName, transferClientId, time), with the table's type.
            assert key in table, f"{where}: key {key!r} is neither in the example nor in the docs' table"
            assert json_type(actual[key]) in table[key], f"{where}.{key}: not a documented type"
        for key in expected:
            assert_same_shape(actual[key], expected[key], table, f"{where}.{key}")
    elif isinstance(expected, list):
        assert expected, f"{where}: the documented example has no element to compare with"
        assert actual, f"{where}: the sandbox returned no element (test setup must create one)"
        for i, element in enumerate(actual):
            assert_same_shape(element, expected[0], table, f"{where}[{i}]")


def expected_shape(fixture: dict[str, Any], actual: dict[str, Any]) -> dict[str, Any]:
    """The documented example with exactly the differences the spec records."""
    expected = copy.deepcopy(fixture["response"])
    name = fixture["endpoint"]
    if name == "fund_balance":
        # bingx-api.md §6.2: the docs reuse the spot example (§6.1), but the real answer (observed by
        # ccxt) is a standard envelope {code, timestamp, data: {assets: [...]}}: `assets`, not `balances`,
        # no debugMsg. The element fields are the documented ones.
        expected = {"code": 0, "timestamp": 0, "data": {"assets": expected["data"]["balances"]}}
    if name == "asset_transfer":
        # bingx-api.md §6.4: the docs show {"transferId"} without an envelope; the real answer is enveloped
        # and also carries the numeric tranId: {"code":0,"timestamp":T,"data":{"tranId":…,"transferId":"…"}}.
        expected = {"code": 0, "timestamp": 0, "data": {"tranId": 0, **expected}}
    if "code" in expected and "debugMsg" not in expected and "msg" in actual:
        # bingx-api.md §4: the standard envelope is {"code","msg","timestamp","data"} ("msg sometimes
        # omitted"); some docs examples omit it.
        expected = {"code": expected["code"], "msg": "", **expected}
    return expected


SETUP = {  # a records endpoint is shown something to list by first calling its apply endpoint
    "transfer_records": "asset_transfer",
    "legacy_transfer_records": "legacy_transfer",
    "inner_transfer_records": "inner_transfer_apply",
}


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    # No response variant here, whatever BINGX_SANDBOX_VARIANTS says: this is the documented shape.
    with SandboxServer(seed=SEED_PATH, rate_limits_enabled=False, variants=()) as server:
        yield server


def signed_call(server: SandboxServer, name: str) -> Any:
    """The fixture's request, signed (query-string transport, as all ten endpoints use) and sent."""
    fixture = load(name)
    endpoint = endpoint_for(fixture["path"])
    assert endpoint is not None
    assert endpoint.transport == "query"
    signed = build(fixture["request"], MAIN_KEY["secret"], timestamp_ms=int(time.time() * 1000))
    resp = requests.request(
        fixture["method"],
        f"{server.base_url}{fixture['path']}?{signed.query}",
        headers={"X-BX-APIKEY": MAIN_KEY["api_key"]},
        timeout=5,
    )
    assert resp.status_code == 200
    return resp.json()


@pytest.mark.parametrize("name", NAMES)
def test_sandbox_answers_the_documented_request_in_the_documented_shape(
    sandbox: SandboxServer, name: str
) -> None:
    sandbox.reset()
    if name in SETUP:
        signed_call(sandbox, SETUP[name])
    fixture = load(name)
    actual = signed_call(sandbox, name)
    assert actual.get("code", 0) == 0, actual
    assert_same_shape(actual, expected_shape(fixture, actual), documented_fields(fixture))


def test_shape_check_catches_a_renamed_key_and_a_changed_type() -> None:
    fixture = load("spot_balance")
    table = documented_fields(fixture)
    example = fixture["response"]
    renamed = copy.deepcopy(example)
    renamed["data"]["assets"] = renamed["data"].pop("balances")
    with pytest.raises(AssertionError, match="balances"):
        assert_same_shape(renamed, example, table)
    retyped = copy.deepcopy(example)
    retyped["data"]["balances"][1]["free"] = 0
    with pytest.raises(AssertionError, match=r"\$\.data\.balances\[1\]\.free: number ≠ string"):
        assert_same_shape(retyped, example, table)
    undocumented = copy.deepcopy(example)
    undocumented["data"]["balances"][0]["extra"] = "x"
    with pytest.raises(AssertionError, match="'extra' is neither"):
        assert_same_shape(undocumented, example, table)


# ---------------------------------------------------------------------------------------------------
# 2. the client parses every documented example
# ---------------------------------------------------------------------------------------------------
def _balances(c: Client, request: dict[str, Any], example: Any) -> tuple[Any, Any]:
    rows = example["data"]["balances"]
    want = [(r["asset"], Decimal(r["free"]), Decimal(r["locked"])) for r in rows]
    got = c.spot_balances() if "asset" not in request else c.fund_balances(request["asset"])
    return [(b.asset, b.free, b.locked) for b in got], want


def _overview(c: Client, request: dict[str, Any], example: Any) -> tuple[Any, Any]:
    want = [(r["accountType"], Decimal(r["usdtBalance"])) for r in example["data"]["result"]]
    return [(e.account_type, e.usdt_balance) for e in c.asset_overview()], want


def _transfer(c: Client, request: dict[str, Any], example: Any) -> tuple[Any, Any]:
    result = c.transfer(
        from_account=request["fromAccount"],
        to_account=request["toAccount"],
        asset=request["asset"],
        amount=request["amount"],
    )
    ident = example["transferId"]
    return (result.transfer_id, result.tran_id, result.id), (ident, None, ident)


def _support_coins(c: Client, request: dict[str, Any], example: Any) -> tuple[Any, Any]:
    want = [(r["asset"], Decimal(r["amount"])) for r in example["data"]["coins"]]
    got = c.transferable_coins(request["fromAccount"], request["toAccount"])
    return [(x.asset, x.amount) for x in got], want


def _transfer_records(c: Client, request: dict[str, Any], example: Any) -> tuple[Any, Any]:
    page = c.transfer_records(from_account=request["fromAccount"], to_account=request["toAccount"])
    got = [
        (r.transfer_id, r.asset, r.amount, r.status, r.timestamp, r.from_account, r.to_account) for r in page
    ]
    want = [
        (r["transferId"], r["asset"], Decimal(r["amount"]), r["status"], r["timestamp"], r["fromAccount"],
         r["toAccount"])
        for r in example["rows"]
    ]  # fmt: skip
    return (page.total, got), (example["total"], want)


def _legacy_records(c: Client, request: dict[str, Any], example: Any) -> tuple[Any, Any]:
    page = c.legacy_transfer_records(request["type"])
    got = [(r.tran_id, r.asset, r.amount, r.type, r.status, r.timestamp) for r in page]
    want = [
        (str(r["tranId"]), r["asset"], Decimal(r["amount"]), r["type"], r["status"], r["timestamp"])
        for r in example["rows"]
    ]
    return (page.total, got), (example["total"], want)


def _legacy_transfer(c: Client, request: dict[str, Any], example: Any) -> tuple[Any, Any]:
    result = c.legacy_transfer(type=request["type"], asset=request["asset"], amount=request["amount"])
    return (result.tran_id, result.transfer_id), (str(example["tranId"]), None)


def _inner_apply(c: Client, request: dict[str, Any], example: Any) -> tuple[Any, Any]:
    result = c.inner_transfer(
        coin=request["coin"],
        user_account_type=request["userAccountType"],
        user_account=request["userAccount"],
        amount=request["amount"],
        wallet_type=request["walletType"],
        transfer_client_id=request["transferClientId"],
    )
    # The example echoes no transferClientId, so the result carries none.
    return (result.id, result.transfer_client_id), (example["data"]["id"], None)


def _inner_records(c: Client, request: dict[str, Any], example: Any) -> tuple[Any, Any]:
    page = c.inner_transfer_records(request["coin"])
    got = [
        (r.id, r.coin, r.receiver, r.amount, r.status, r.from_uid, r.record_type, r.time,
         r.transfer_client_id)
        for r in page
    ]  # fmt: skip
    want = [
        (str(r["id"]), r["coin"], str(r["receiver"]), r["amount"], r["status"], str(r["fromUid"]),
         r["recordType"], None, None)
        for r in example["data"]["data"]
    ]  # fmt: skip
    return (page.total, got), (example["data"]["total"], want)


PARSERS: dict[str, Callable[[Client, dict[str, Any], Any], tuple[Any, Any]]] = {
    "spot_balance": _balances,
    "fund_balance": _balances,
    "asset_overview": _overview,
    "asset_transfer": _transfer,
    "asset_transfer_support_coins": _support_coins,
    "transfer_records": _transfer_records,
    "legacy_transfer_records": _legacy_records,
    "legacy_transfer": _legacy_transfer,
    "inner_transfer_apply": _inner_apply,
    "inner_transfer_records": _inner_records,
}


def test_every_documented_example_has_a_client_parse_check() -> None:
    assert sorted(PARSERS) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_client_parses_the_documented_example(stub: Callable[..., StubServer], name: str) -> None:
    fixture = load(name)
    body = (documented_examples.FIXTURES / f"{name}.json").read_bytes()
    # Serve the example exactly as written in the fixture (its digits, its big integers).
    raw = json.dumps(json.loads(body)["response"]).encode()

    def handler(req: StubRequest, conn: Any) -> None:
        respond(conn, raw)

    server = stub(handler)
    client = Client(MAIN_KEY["api_key"], MAIN_KEY["secret"], base_url=server.base_url, read_retries=0)
    got, want = PARSERS[name](client, fixture["request"], load(name, exact=True)["response"])
    assert got == want
    (sent,) = server.api_requests()
    assert (sent.method, sent.path) == (fixture["method"], fixture["path"])
    sent_names = {pair.split("=", 1)[0] for pair in sent.query.split("&")}
    assert set(fixture["request"]) <= sent_names, "the client sends the documented parameter names"
