"""The endpoint table (``bingx.endpoints``) is the one source of truth: the client sends what it says
(path, method, transport) and retries only what it marks read-only; the sandbox routes exactly its
endpoints and enforces its permissions and per-UID limits; only the transfer applies move money."""

from __future__ import annotations

import inspect
import json
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests

import bingx
import bingx.client
from bingx import ENDPOINTS, PERMISSION_NAMES, Client, Endpoint, PermissionDenied, endpoint_for
from bingx import endpoints as ep
from bingx.sandbox import SandboxServer, variants
from bingx.sandbox.endpoints import ROUTES
from bingx.signing import build

from .conftest import StubServer, respond

SEED_PATH = Path(__file__).resolve().parents[2] / "bingx" / "sandbox" / "seeds" / "demo.json"
SEED: dict[str, Any] = json.loads(SEED_PATH.read_text())
KEYS = {a["uid"]: (a["api_keys"][0]["api_key"], a["api_keys"][0]["secret"]) for a in SEED["accounts"]}
MAIN, SUB1, SUB2, EXTERNAL = 10000001, 10000002, 10000003, 10000009

# A master account whose keys hold every permission, or every permission but one.
PROBE_UID = 10000077
ALL_PERMISSIONS = sorted(PERMISSION_NAMES)
PROBE_SECRET = "probe-secret-0123456789abcdef"


def probe_key(without: int | None = None) -> str:
    return "probe-all" if without is None else f"probe-without-{without}"


PROBE_ACCOUNT = {
    "uid": PROBE_UID,
    "is_master": True,
    "wallets": {"fund": {"USDT": "100"}},
    "api_keys": [
        {"api_key": probe_key(), "secret": PROBE_SECRET, "permissions": ALL_PERMISSIONS},
        *(
            {
                "api_key": probe_key(p),
                "secret": PROBE_SECRET,
                "permissions": [q for q in ALL_PERMISSIONS if q != p],
            }
            for p in ALL_PERMISSIONS
        ),
    ],
}

Call = Callable[[Client], object]

# Every public Client method that talks to BingX: (method name, endpoint it must call, signing UID, call).
CLIENT_CALLS: list[tuple[str, Endpoint, int, Call]] = [
    ("server_time", ep.SERVER_TIME, MAIN, lambda c: c.server_time()),
    ("sync_time", ep.SERVER_TIME, MAIN, lambda c: c.sync_time()),
    ("uid", ep.ACCOUNT_UID, MAIN, lambda c: c.uid()),
    ("api_permissions", ep.API_PERMISSIONS, MAIN, lambda c: c.api_permissions()),
    ("spot_balances", ep.SPOT_BALANCE, MAIN, lambda c: c.spot_balances()),
    ("fund_balances", ep.FUND_BALANCE, MAIN, lambda c: c.fund_balances()),
    ("asset_overview", ep.ASSET_OVERVIEW, MAIN, lambda c: c.asset_overview()),
    (
        "transfer",
        ep.ASSET_TRANSFER,
        MAIN,
        lambda c: c.transfer(from_account="fund", to_account="spot", asset="USDT", amount=Decimal("1")),
    ),
    (
        "transferable_coins",
        ep.ASSET_TRANSFER_SUPPORT_COINS,
        MAIN,
        lambda c: c.transferable_coins("fund", "spot"),
    ),
    (
        "transfer_records",
        ep.TRANSFER_RECORDS,
        MAIN,
        lambda c: c.transfer_records(from_account="fund", to_account="spot"),
    ),
    (
        "legacy_transfer",
        ep.LEGACY_TRANSFER,
        MAIN,
        lambda c: c.legacy_transfer(type="FUND_PFUTURES", asset="USDT", amount=Decimal("1")),
    ),
    (
        "legacy_transfer_records",
        ep.LEGACY_TRANSFER_RECORDS,
        MAIN,
        lambda c: c.legacy_transfer_records("FUND_PFUTURES"),
    ),
    (
        "inner_transfer",
        ep.INNER_TRANSFER_APPLY,
        MAIN,
        lambda c: c.inner_transfer(
            coin="USDT", user_account_type=1, user_account=str(EXTERNAL), amount=Decimal("1"), wallet_type=1
        ),
    ),
    ("inner_transfer_records", ep.INNER_TRANSFER_RECORDS, MAIN, lambda c: c.inner_transfer_records("USDT")),
    (
        "sub_account_inner_transfer",
        ep.SUB_INNER_TRANSFER_APPLY,
        SUB1,  # authorised for sub → sub in the demo seed
        lambda c: c.sub_account_inner_transfer(
            coin="USDT", user_account_type=1, user_account=str(SUB2), amount=Decimal("1"), wallet_type=1
        ),
    ),
    (
        "sub_account_inner_transfer_records",
        ep.SUB_INNER_TRANSFER_RECORDS,
        SUB1,
        lambda c: c.sub_account_inner_transfer_records("USDT"),
    ),
    (
        "authorize_sub_account_transfer",
        ep.AUTHORIZE_SUB_ACCOUNT,
        MAIN,
        lambda c: c.authorize_sub_account_transfer(sub_uids=[SUB2], transferable=True),
    ),
    (
        "sub_account_transfer",
        ep.SUB_TRANSFER_ASSET,
        MAIN,
        lambda c: c.sub_account_transfer(
            asset="USDT",
            amount=Decimal("1"),
            from_uid=MAIN,
            from_type=1,
            from_account_type=1,
            to_uid=SUB1,
            to_type=2,
            to_account_type=1,
            remark="registry",
        ),
    ),
    (
        "sub_account_transferable_coins",
        ep.SUB_TRANSFER_SUPPORT_COINS,
        MAIN,
        lambda c: c.sub_account_transferable_coins(MAIN, 1, SUB1, 1),
    ),
    (
        "sub_account_transfer_history",
        ep.SUB_TRANSFER_HISTORY,
        MAIN,
        lambda c: c.sub_account_transfer_history(SUB1),
    ),
    ("sub_accounts", ep.SUB_ACCOUNT_LIST, MAIN, lambda c: c.sub_accounts()),
    ("sub_account_assets", ep.SUB_ACCOUNT_ASSETS, MAIN, lambda c: c.sub_account_assets(SUB1)),
    ("sub_account_overview", ep.SUB_ALL_ACCOUNT_BALANCE, MAIN, lambda c: c.sub_account_overview(SUB1)),
]
NOT_CALLS = {"close", "reset_time_offsets"}  # public methods that never reach the exchange
TRANSFER_APPLIES = {
    ep.ASSET_TRANSFER,
    ep.LEGACY_TRANSFER,
    ep.INNER_TRANSFER_APPLY,
    ep.SUB_INNER_TRANSFER_APPLY,
    ep.SUB_TRANSFER_ASSET,
}


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(seed=SEED_PATH, rate_limits_enabled=False, variants=variants.from_env()) as server:
        yield server


@pytest.fixture
def fresh(sandbox: SandboxServer) -> SandboxServer:
    sandbox.reset()
    sandbox.set_rate_limit(enabled=False, scale=1.0)
    sandbox.add_account(PROBE_ACCOUNT)
    return sandbox


def raw_call(
    session: requests.Session, base_url: str, api_key: str, secret: str, endpoint: Endpoint
) -> dict[str, Any]:
    """One signed call with no business parameters, in the endpoint's transport (independent of Client)."""
    signed = build({}, secret, timestamp_ms=int(time.time() * 1000), mode=endpoint.transport)
    headers = {"X-BX-APIKEY": api_key}
    url = base_url + endpoint.path
    if endpoint.transport == "json":
        headers["Content-Type"] = "application/json"
        resp = session.request(endpoint.method, url, data=signed.body, headers=headers, timeout=5)
    else:
        resp = session.request(endpoint.method, f"{url}?{signed.query}", headers=headers, timeout=5)
    body: dict[str, Any] = resp.json()
    if isinstance(body.get("code"), str):  # the string_code_timestamp response variant (CI runs it)
        body["code"] = int(body["code"])
    return body


# ---------------------------------------------------------------------------------------------------
# the table itself
# ---------------------------------------------------------------------------------------------------
def test_table_is_keyed_by_path_and_names_are_unique() -> None:
    assert all(path == e.path for path, e in ENDPOINTS.items())
    assert len({e.name for e in ENDPOINTS.values()}) == len(ENDPOINTS)
    assert all(e.name.isidentifier() for e in ENDPOINTS.values())
    constants = {name: getattr(ep, name) for name in ep.__all__ if isinstance(getattr(ep, name), Endpoint)}
    assert set(constants.values()) == set(ENDPOINTS.values())
    assert all(value.name == name.lower() for name, value in constants.items())
    assert endpoint_for(ep.SPOT_BALANCE.path) is ep.SPOT_BALANCE
    assert endpoint_for("/openApi/nope") is None
    assert endpoint_for(ep.SPOT_BALANCE.path + "?x=1") is None
    assert bingx.ENDPOINTS is ENDPOINTS
    assert bingx.endpoint_for is endpoint_for
    assert bingx.Endpoint is Endpoint
    assert bingx.PERMISSION_NAMES is PERMISSION_NAMES


def test_money_moving_endpoints_are_exactly_the_transfer_applies() -> None:
    assert {e for e in ENDPOINTS.values() if e.moves_money} == TRANSFER_APPLIES
    assert all(e.method == "POST" and not e.read_only for e in TRANSFER_APPLIES)
    # Reads: every GET, plus the JSON supportCoins POST. authorizeSubAccount changes a setting.
    reads = {e for e in ENDPOINTS.values() if e.read_only}
    assert {e for e in ENDPOINTS.values() if e.method == "GET"} <= reads
    assert {e for e in reads if e.method == "POST"} == {ep.SUB_TRANSFER_SUPPORT_COINS}
    assert ep.SUB_TRANSFER_SUPPORT_COINS.transport == "json"
    assert not ep.AUTHORIZE_SUB_ACCOUNT.read_only
    assert not ep.AUTHORIZE_SUB_ACCOUNT.moves_money


def test_permission_names_and_the_permissions_the_desk_relies_on() -> None:
    assert PERMISSION_NAMES == {
        1: "Spot trading",
        2: "Read",
        3: "Contract trading",
        4: "Universal transfer",
        5: "Withdraw",
        7: "Sub-account inner transfer",
    }
    assert ep.INNER_TRANSFER_APPLY.permission == 5
    assert ep.SUB_INNER_TRANSFER_APPLY.permission == 7
    assert ep.FUND_BALANCE.permission_name == "Universal transfer"
    assert ep.TRANSFER_RECORDS.permission == 4
    assert all(e.permission in PERMISSION_NAMES for e in ENDPOINTS.values() if e.permission is not None)
    assert {e for e in ENDPOINTS.values() if e.public} == {ep.SERVER_TIME, ep.SPOT_SERVER_TIME}


def test_limits_are_bingx_documented_values() -> None:
    limits = {e.name: e.per_uid_limit for e in ENDPOINTS.values()}
    assert limits["asset_transfer"] == limits["inner_transfer_apply"] == limits["transfer_records"] == 2
    assert limits["fund_balance"] == limits["legacy_transfer_records"] == 10
    assert limits["inner_transfer_records"] == 10
    assert limits["sub_inner_transfer_apply"] == limits["sub_transfer_asset"] == 5
    assert limits["server_time"] is None
    assert ep.DEFAULT_PER_UID_LIMIT == 5


# ---------------------------------------------------------------------------------------------------
# the client
# ---------------------------------------------------------------------------------------------------
def test_client_source_has_no_endpoint_paths() -> None:
    assert "/openApi" not in inspect.getsource(bingx.client)
    assert not hasattr(bingx.client, "SERVER_TIME_PATH")


def test_every_client_method_is_covered_here() -> None:
    public = {
        name
        for name, member in inspect.getmembers(Client)
        if not name.startswith("_") and (inspect.isfunction(member) or inspect.ismethod(member))
    }
    assert public == {name for name, *_ in CLIENT_CALLS} | NOT_CALLS


@pytest.mark.parametrize(("name", "endpoint", "uid", "call"), CLIENT_CALLS, ids=[c[0] for c in CLIENT_CALLS])
def test_client_calls_the_registry_endpoint(
    fresh: SandboxServer, name: str, endpoint: Endpoint, uid: int, call: Call
) -> None:
    since = fresh.journal()[-1]["seq"] if fresh.journal() else 0
    call(Client(*KEYS[uid], base_url=fresh.base_url))
    (entry,) = fresh.journal(since_seq=since)
    assert entry["endpoint"] == endpoint.name
    assert (entry["method"], entry["path"]) == (endpoint.method, endpoint.path)
    assert entry["code"] == 0  # strict signature check passed in the endpoint's transport
    # The sandbox's ground truth agrees with the table: only money-moving endpoints apply transfers.
    assert entry["applied"] is endpoint.moves_money


def test_every_registry_endpoint_is_called_by_the_client_or_only_modelled_by_the_sandbox() -> None:
    called = {endpoint for _, endpoint, _, _ in CLIENT_CALLS}
    assert set(ENDPOINTS.values()) - called == {ep.SPOT_SERVER_TIME}


SIGNED_CALLS = [c for c in CLIENT_CALLS if not c[1].public]


@pytest.mark.parametrize(("name", "endpoint", "uid", "call"), SIGNED_CALLS, ids=[c[0] for c in SIGNED_CALLS])
def test_client_retries_exactly_the_read_only_endpoints(
    stub: Callable[[Callable[..., None]], StubServer], name: str, endpoint: Endpoint, uid: int, call: Call
) -> None:
    server = stub(lambda req, conn: respond(conn, b"", 500))
    with pytest.raises(bingx.Ambiguous):
        call(Client("key-0001", "secret-0001", base_url=server.base_url, read_retries=2, timeout=(1, 1)))
    assert len(server.requests) == (3 if endpoint.read_only else 1)
    assert {(r.method, r.path) for r in server.requests} == {(endpoint.method, endpoint.path)}
    is_json = server.requests[0].headers.get("content-type") == "application/json"
    assert is_json is (endpoint.transport == "json")
    assert (server.requests[0].query == "") is (endpoint.transport == "json")


def test_money_moving_methods_are_keyword_only() -> None:
    client = Client("key-0001", "secret-0001", base_url="http://127.0.0.1:9")
    with pytest.raises(TypeError):
        client.transfer("fund", "spot", "USDT", Decimal("1"))  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        client.legacy_transfer("FUND_PFUTURES", "USDT", Decimal("1"))  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        client.inner_transfer("USDT", 1, "1", Decimal("1"), 1)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        client.sub_account_inner_transfer("USDT", 1, "1", Decimal("1"), 1)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        client.sub_account_transfer("USDT", Decimal("1"), 1, 1, 1, 2, 2, 1, "r")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        client.authorize_sub_account_transfer([1], True)  # type: ignore[call-arg]
    money = ["transfer", "legacy_transfer", "inner_transfer", "sub_account_inner_transfer"]
    money += ["sub_account_transfer", "authorize_sub_account_transfer"]
    for name in money:
        params = list(inspect.signature(getattr(Client, name)).parameters.values())[1:]
        assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params), name


# ---------------------------------------------------------------------------------------------------
# the sandbox
# ---------------------------------------------------------------------------------------------------
def test_sandbox_routes_exactly_the_registry() -> None:
    assert set(ROUTES) == set(ENDPOINTS)
    assert all(route.endpoint is ENDPOINTS[path] for path, route in ROUTES.items())


def test_key_without_withdraw_permission_is_refused_inner_transfer(fresh: SandboxServer) -> None:
    client = Client(probe_key(without=5), PROBE_SECRET, base_url=fresh.base_url)
    with pytest.raises(PermissionDenied) as err:
        client.inner_transfer(
            coin="USDT", user_account_type=1, user_account=str(EXTERNAL), amount=Decimal("1"), wallet_type=1
        )
    assert err.value.code == 100004
    assert not any(c["applied"] for c in fresh.journal())
    allowed = Client(probe_key(), PROBE_SECRET, base_url=fresh.base_url)
    allowed.inner_transfer(
        coin="USDT", user_account_type=1, user_account=str(EXTERNAL), amount=Decimal("1"), wallet_type=1
    )


PERMISSIONED = [e for e in ENDPOINTS.values() if e.permission is not None]


@pytest.mark.parametrize("endpoint", PERMISSIONED, ids=[e.name for e in PERMISSIONED])
def test_sandbox_enforces_the_registry_permission(fresh: SandboxServer, endpoint: Endpoint) -> None:
    assert endpoint.permission is not None
    with requests.Session() as session:
        refused = raw_call(session, fresh.base_url, probe_key(endpoint.permission), PROBE_SECRET, endpoint)
        passed = raw_call(session, fresh.base_url, probe_key(), PROBE_SECRET, endpoint)
    assert refused["code"] == 100004
    assert "without the permission" in refused["msg"]
    # With the permission the call gets past the check (to the handler, which may still want arguments).
    assert "without the permission" not in passed.get("msg", "")


LIMITED = [e for e in ENDPOINTS.values() if e.per_uid_limit is not None]


@pytest.mark.parametrize("endpoint", LIMITED, ids=[e.name for e in LIMITED])
def test_sandbox_enforces_the_registry_per_uid_limit(fresh: SandboxServer, endpoint: Endpoint) -> None:
    assert endpoint.per_uid_limit is not None
    fresh.set_rate_limit(enabled=True, scale=1.0)
    with requests.Session() as session:
        codes = [
            raw_call(session, fresh.base_url, probe_key(), PROBE_SECRET, endpoint).get("code")
            for _ in range(endpoint.per_uid_limit + 1)
        ]
    assert 100410 not in codes[:-1]
    assert codes[-1] == 100410
