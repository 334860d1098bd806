"""API-key permissions come from one table (``bingx.endpoints``), and that table says what BingX's docs say.

Every signed endpoint: a key lacking its permission gets 100004; a key holding only that permission gets
past the permission check (the handler may still want arguments). The sandbox's handlers refuse on
account kind (master-only / sub-only) but never on permissions of their own.
"""

from __future__ import annotations

from typing import Any

import pytest

from bingx import endpoints as ep
from bingx.endpoints import ENDPOINTS, PERMISSION_NAMES, Endpoint
from bingx.sandbox import SandboxServer
from bingx.sandbox.envelopes import MSG_PERMISSION

from .conftest import Client

# "API KEY permission: …" as BingX's docs give it per endpoint (bingx-account-api-docs.md, the
# sub-account docs pages, bingx-api.md §5). authorizeSubAccount's "Manage Subaccounts" has no numeric
# code: the registry requires Withdraw, the strictest real code (see bingx/endpoints.py).
DOCUMENTED: dict[str, tuple[str, int | None]] = {
    "server_time": ("none (public)", None),
    "spot_server_time": ("none (public)", None),
    "account_uid": ("Read", ep.PERM_READ),
    "api_permissions": ("Read", ep.PERM_READ),
    "spot_balance": ("Read", ep.PERM_READ),
    "fund_balance": ("Universal Transfer", ep.PERM_UNIVERSAL_TRANSFER),
    "asset_overview": ("Read", ep.PERM_READ),
    "asset_transfer": ("Universal Transfer", ep.PERM_UNIVERSAL_TRANSFER),
    "asset_transfer_support_coins": ("Universal Transfer", ep.PERM_UNIVERSAL_TRANSFER),
    "transfer_records": ("Universal Transfer", ep.PERM_UNIVERSAL_TRANSFER),
    "legacy_transfer_records": ("Read", ep.PERM_READ),
    "legacy_transfer": ("Universal Transfer", ep.PERM_UNIVERSAL_TRANSFER),
    "inner_transfer_apply": ("Withdraw", ep.PERM_WITHDRAW),
    "inner_transfer_records": ("Read", ep.PERM_READ),
    "sub_inner_transfer_apply": ("Internal Transfers Between Subaccounts", ep.PERM_SUB_INNER_TRANSFER),
    "sub_inner_transfer_records": ("Read", ep.PERM_READ),
    "authorize_sub_account": ("Manage Subaccounts (no code: Withdraw)", ep.PERM_WITHDRAW),
    "sub_transfer_asset": ("Universal Transfer", ep.PERM_UNIVERSAL_TRANSFER),
    "sub_transfer_support_coins": ("Read", ep.PERM_READ),
    "sub_transfer_history": ("Read", ep.PERM_READ),
    "sub_account_list": ("Read", ep.PERM_READ),
    "sub_account_assets": ("Read", ep.PERM_READ),
    "sub_all_account_balance": ("Read", ep.PERM_READ),
}

# Endpoints whose signer must be a sub-account (the rest are signed by a master account).
SUB_SIGNED = {ep.SUB_INNER_TRANSFER_APPLY, ep.SUB_INNER_TRANSFER_RECORDS}

PROBE_MASTER, PROBE_SUB1, PROBE_SUB2 = 10000081, 10000082, 10000083
SECRET = "probe-permission-secret-0123456789"
CODES = sorted(PERMISSION_NAMES)


def _keys(uid: int) -> list[dict[str, Any]]:
    """For every permission P: a key without P (all others), and a key with only P."""
    keys: list[dict[str, Any]] = [{"api_key": f"{uid}-none", "secret": SECRET, "permissions": []}]
    for p in CODES:
        keys.append(
            {"api_key": f"{uid}-without-{p}", "secret": SECRET, "permissions": [q for q in CODES if q != p]}
        )
        keys.append({"api_key": f"{uid}-only-{p}", "secret": SECRET, "permissions": [p]})
    return keys


def _account(uid: int, master: int | None) -> dict[str, Any]:
    return {
        "uid": uid,
        "is_master": master is None,
        "master_uid": master,
        "wallets": {"fund": {"USDT": "100"}},
        "api_keys": _keys(uid),
    }


@pytest.fixture
def probes(sandbox: SandboxServer) -> SandboxServer:
    sandbox.add_account(_account(PROBE_MASTER, None))
    sandbox.add_account(_account(PROBE_SUB1, PROBE_MASTER))
    sandbox.add_account(_account(PROBE_SUB2, PROBE_MASTER))
    return sandbox


def call(
    server: SandboxServer, api_key: str, endpoint: Endpoint, params: dict[str, Any] | None = None
) -> Any:
    client = Client(server.base_url, api_key, SECRET)
    return client.request(endpoint.method, endpoint.path, params or {}, mode=endpoint.transport).json()


def fund(server: SandboxServer, uid: int) -> str:
    acct = next(a for a in server.snapshot(include_records=False)["accounts"] if a["uid"] == uid)
    return str(acct["wallets"]["fund"].get("USDT", "0"))


PRIVATE = [e for e in ENDPOINTS.values() if not e.public]


def test_registry_permissions_match_the_docs() -> None:
    assert set(DOCUMENTED) == {e.name for e in ENDPOINTS.values()}
    assert {e.name: e.permission for e in ENDPOINTS.values()} == {n: c for n, (_, c) in DOCUMENTED.items()}


def test_every_signed_endpoint_requires_a_real_permission() -> None:
    assert all(e.permission in PERMISSION_NAMES for e in PRIVATE)
    assert ep.AUTHORIZE_SUB_ACCOUNT.permission == ep.PERM_WITHDRAW
    assert ep.SUB_TRANSFER_SUPPORT_COINS.permission == ep.PERM_READ


@pytest.mark.parametrize("endpoint", PRIVATE, ids=[e.name for e in PRIVATE])
def test_permission_is_enforced_from_the_registry(probes: SandboxServer, endpoint: Endpoint) -> None:
    assert endpoint.permission is not None
    uid = PROBE_SUB1 if endpoint in SUB_SIGNED else PROBE_MASTER
    for api_key in (f"{uid}-without-{endpoint.permission}", f"{uid}-none"):
        refused = call(probes, api_key, endpoint)
        assert (refused["code"], refused["msg"]) == (100004, MSG_PERMISSION), api_key
    passed = call(probes, f"{uid}-only-{endpoint.permission}", endpoint)
    # Past the permission check: the handler answers (success, or it wants arguments).
    assert passed.get("code") != 100004, passed
    assert not any(c["applied"] for c in probes.journal())


def test_a_transfer_only_key_cannot_authorise_a_sub_account(probes: SandboxServer) -> None:
    before = (fund(probes, PROBE_SUB1), fund(probes, PROBE_SUB2))
    body = call(
        probes,
        f"{PROBE_MASTER}-only-{ep.PERM_UNIVERSAL_TRANSFER}",
        ep.AUTHORIZE_SUB_ACCOUNT,
        {"subUids": str(PROBE_SUB1), "transferable": "true"},
    )
    assert body["code"] == 100004
    assert PROBE_SUB1 not in probes.snapshot(include_records=False)["authorised_subs"]
    # ... so the sub still may not pay another sub, and no money moves.
    moved = call(
        probes,
        f"{PROBE_SUB1}-only-{ep.PERM_SUB_INNER_TRANSFER}",
        ep.SUB_INNER_TRANSFER_APPLY,
        {
            "coin": "USDT",
            "amount": "1",
            "walletType": 1,
            "userAccountType": 1,
            "userAccount": str(PROBE_SUB2),
        },
    )
    assert moved["code"] == 100004
    assert (fund(probes, PROBE_SUB1), fund(probes, PROBE_SUB2)) == before
    # The documented power (the registry's Withdraw) does authorise.
    body = call(
        probes,
        f"{PROBE_MASTER}-only-{ep.PERM_WITHDRAW}",
        ep.AUTHORIZE_SUB_ACCOUNT,
        {"subUids": str(PROBE_SUB1), "transferable": "true"},
    )
    assert body["code"] == 0
    assert PROBE_SUB1 in probes.snapshot(include_records=False)["authorised_subs"]


def test_family_support_coins_needs_only_read(probes: SandboxServer) -> None:
    body = call(
        probes,
        f"{PROBE_MASTER}-only-{ep.PERM_READ}",
        ep.SUB_TRANSFER_SUPPORT_COINS,
        {"fromUid": PROBE_SUB1, "fromAccountType": 1, "toUid": PROBE_MASTER, "toAccountType": 1},
    )
    assert body["code"] == 0
    assert [c["name"] for c in body["data"]["coins"]] == ["USDT"]
