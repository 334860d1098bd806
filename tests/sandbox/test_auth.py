"""Verification pipeline (§2.5): every error code, strict vs lenient canonical strings, the §2.4
known-answer vectors, JSON-only routes, IP whitelist, permissions and clock skew."""

from __future__ import annotations

import json
import time

import pytest
import requests

from bingx.sandbox import SandboxServer

from .conftest import MAIN, SEED_PATH, SUB1, Client, client_for, hmac_hex

UID_PATH = "/openApi/account/v1/uid"
DOC_SECRET = "mheO6dR8ovSsxZQCOYEFCtelpuxcWGTfHw7te326y6jOwq5WpvFQ9JNljoTwBXZGv5It07m9RXSPpDQEK2w"
KAT_KEY = "kat-doc-example-key"


def test_missing_api_key_is_100413(main: Client) -> None:
    main.api_key = None
    assert main.get(UID_PATH).json()["code"] == 100413


def test_unknown_api_key_is_100413(main: Client) -> None:
    main.api_key = "no-such-key"
    body = main.get(UID_PATH).json()
    assert body["code"] == 100413
    assert body["msg"] == "Incorrect apiKey"


def test_missing_signature_is_100412(main: Client) -> None:
    assert main.get(UID_PATH, sign=False).json()["code"] == 100412


def test_missing_timestamp_is_100421(sandbox: SandboxServer, main: Client) -> None:
    sig = hmac_hex(main.secret, "")
    r = requests.get(f"{sandbox.base_url}{UID_PATH}?signature={sig}", headers=main.headers(), timeout=5)
    assert r.json()["code"] == 100421


def test_stale_timestamp_is_100421(main: Client) -> None:
    old = int(time.time() * 1000) - 6000
    assert main.get(UID_PATH, timestamp=old).json()["code"] == 100421


def test_future_timestamp_is_100421(main: Client) -> None:
    future = int(time.time() * 1000) + 6000
    assert main.get(UID_PATH, timestamp=future).json()["code"] == 100421


def test_recv_window_widens_the_window(main: Client) -> None:
    old = int(time.time() * 1000) - 6000
    assert main.get(UID_PATH, {"recvWindow": 10000}, timestamp=old).json()["code"] == 0


def test_recv_window_over_60000_is_80014(main: Client) -> None:
    assert main.get(UID_PATH, {"recvWindow": 60001}).json()["code"] == 80014


def test_bad_signature_is_100001(main: Client) -> None:
    body = main.get(UID_PATH, signature="0" * 64).json()
    assert body["code"] == 100001
    assert body["msg"] == "Signature verification failed due to signature mismatch"


def test_wrong_secret_is_100001(sandbox: SandboxServer) -> None:
    c = client_for(sandbox, MAIN)
    c.secret = "not-the-secret"
    assert c.get(UID_PATH).json()["code"] == 100001


def test_check_order_key_before_signature(main: Client) -> None:
    main.api_key = "nope"
    assert main.get(UID_PATH, sign=False).json()["code"] == 100413


def test_check_order_timestamp_before_hmac(main: Client) -> None:
    old = int(time.time() * 1000) - 60_000
    assert main.get(UID_PATH, timestamp=old, signature="0" * 64).json()["code"] == 100421


def test_missing_permission_is_100004(sandbox: SandboxServer) -> None:
    # SUB1's key has 2, 4, 7 but not 5 (withdraw) → innerTransfer/apply is denied.
    c = client_for(sandbox, SUB1)
    params = {"coin": "USDT", "userAccountType": 1, "userAccount": "10000009", "amount": "1", "walletType": 1}
    assert c.post("/openApi/wallets/v1/capital/innerTransfer/apply", params).json()["code"] == 100004


def test_ip_not_whitelisted_is_100419(sandbox: SandboxServer) -> None:
    sandbox.add_account(
        {
            "uid": 20000001,
            "api_keys": [
                {"api_key": "ip-key", "secret": "ip-secret", "permissions": [2], "ip_whitelist": ["10.9.9.9"]}
            ],
        }
    )
    c = Client(sandbox.base_url, "ip-key", "ip-secret")
    assert c.get(UID_PATH).json()["code"] == 100419


def test_ip_whitelisted_passes(sandbox: SandboxServer) -> None:
    sandbox.add_account(
        {
            "uid": 20000002,
            "api_keys": [
                {"api_key": "ip-ok", "secret": "s", "permissions": [2], "ip_whitelist": ["127.0.0.1"]}
            ],
        }
    )
    assert Client(sandbox.base_url, "ip-ok", "s").get(UID_PATH).json()["data"]["uid"] == 20000002


def test_clock_skew_causes_100421_and_server_time_follows(sandbox: SandboxServer, main: Client) -> None:
    r = requests.post(f"{sandbox.base_url}/_sandbox/clock", json={"skew_ms": 30_000}, timeout=5)
    assert r.json()["skew_ms"] == 30_000
    assert main.get(UID_PATH).json()["code"] == 100421
    server_ms = requests.get(f"{sandbox.base_url}/openApi/swap/v2/server/time", timeout=5).json()["data"][
        "serverTime"
    ]
    assert server_ms - int(time.time() * 1000) > 25_000
    # A client that syncs to the server time works again.
    assert main.get(UID_PATH, timestamp=server_ms).json()["code"] == 0


def test_json_only_route_rejects_query_string(main: Client) -> None:
    params = {
        "assetName": "USDT",
        "transferAmount": "1",
        "fromUid": MAIN,
        "fromType": 1,
        "fromAccountType": 1,
        "toUid": SUB1,
        "toType": 2,
        "toAccountType": 1,
        "remark": "x",
    }
    path = "/openApi/account/transfer/v1/subAccount/transferAsset"
    body = main.post(path, params).json()
    assert body == {"code": 100400, "msg": "miss arguments", "timestamp": body["timestamp"]}
    assert main.post(path, params, mode="form").json()["code"] == 100400
    assert main.post(path, params, mode="json").json()["code"] == 0


def test_form_body_transport_is_accepted(main: Client) -> None:
    assert main.get(UID_PATH, mode="form").json()["code"] == 0


def _url(base: str, path: str, query: str) -> str:
    return f"{base}{path}?{query}"


def test_strict_rejects_encoded_signing_lenient_accepts() -> None:
    raw = f"subUids={SUB1}&timestamp=%d&transferable=true"
    for strict, expected in ((True, 100001), (False, 0)):
        with SandboxServer(seed=SEED_PATH, strict=strict, rate_limits_enabled=False) as s:
            c = client_for(s, MAIN)
            ts = int(time.time() * 1000)
            # A value that needs encoding (a comma) signed in its *encoded* form (JKorf style).
            wire = f"subUids={SUB1}%2C10000003&timestamp={ts}&transferable=true"
            sig = hmac_hex(c.secret, wire)
            r = requests.post(
                _url(
                    s.base_url,
                    "/openApi/account/v1/innerTransfer/authorizeSubAccount",
                    wire + f"&signature={sig}",
                ),
                headers=c.headers(),
                timeout=5,
            )
            assert r.json()["code"] == expected, (strict, raw)


def test_unsorted_query_verified_in_received_order(main: Client, sandbox: SandboxServer) -> None:
    ts = int(time.time() * 1000)
    # The docs' own template appends timestamp last (unsorted): valid as long as sent in that order.
    canonical = f"fromAccount=fund&toAccount=spot&asset=USDT&amount=1&timestamp={ts}"
    sig = hmac_hex(main.secret, canonical)
    r = requests.post(
        f"{sandbox.base_url}/openApi/api/asset/v1/transfer?{canonical}&signature={sig}",
        headers=main.headers(),
        timeout=5,
    )
    assert r.json()["data"]["transferId"]


# ------------------------------------------------------------------------------------------------
# §2.4 known-answer vectors: the exact canonical strings and signatures must verify
# ------------------------------------------------------------------------------------------------
@pytest.fixture
def kat_server() -> SandboxServer:
    seed = json.loads(SEED_PATH.read_text())
    seed["accounts"] += [
        {
            "uid": 25316652,
            "is_master": True,
            "wallets": {"fund": {"USDT": "1000"}, "USDTMPerp": {}},
            "api_keys": [{"api_key": KAT_KEY, "secret": DOC_SECRET, "permissions": [1, 2, 4, 5, 7]}],
        },
        {
            "uid": 25472377,
            "is_master": False,
            "master_uid": 25316652,
            "wallets": {"stdFutures": {"USDT": "5"}},
        },
        {"uid": 16789999, "is_master": False, "master_uid": 25316652},
        {"uid": 16789998, "is_master": False, "master_uid": 25316652},
        {"uid": 16779999, "is_master": True},
    ]
    return SandboxServer(seed=seed, rate_limits_enabled=False)


def _at(server: SandboxServer, ts: int) -> None:
    server.set_clock_skew(ts - int(time.time() * 1000))


KAT_QUERY = [
    (
        "GET",
        "/openApi/fund/v1/account/balance",
        "asset=USDT&recvWindow=5000&timestamp=1702624167523",
        "658f0213be7d097b1ae38118f0df159364a439fe83eb1549d4213e85911f04f0",
    ),
    (
        "POST",
        "/openApi/api/asset/v1/transfer",
        "amount=10&asset=USDT&fromAccount=fund&recvWindow=5000&timestamp=1702619257404&toAccount=USDTMPerp",
        "16550b793b1cab58f76309c61b02e408f070652cc4014119f53be32129d4e242",
    ),
    (
        "POST",
        "/openApi/wallets/v1/capital/innerTransfer/apply",
        "amount=10.0&coin=USDT&timestamp=1702558152381&userAccount=16779999&userAccountType=1&walletType=1",
        "37cd07ac45bbda567ae0eb9759cf49cac74561c0087a540f63f81ba27954b1eb",
    ),
    (
        "POST",
        "/openApi/wallets/v1/capital/innerTransfer/apply",
        "coin=USDT&userAccount=16779999&userAccountType=1&walletType=1&amount=10.0&timestamp=1702558152381",
        "07cb18296e55cd1a8fbf12938bcac0f021784d66a27cc52f9fbdbd34b229ee04",
    ),
]


@pytest.mark.parametrize(("method", "path", "canonical", "signature"), KAT_QUERY)
def test_known_answer_vectors_query(
    kat_server: SandboxServer, method: str, path: str, canonical: str, signature: str
) -> None:
    assert hmac_hex(DOC_SECRET, canonical) == signature
    ts = int(canonical.split("timestamp=")[1].split("&")[0])
    with kat_server as s:
        _at(s, ts)
        r = requests.request(
            method,
            f"{s.base_url}{path}?{canonical}&signature={signature}",
            headers={"X-BX-APIKEY": KAT_KEY},
            timeout=5,
        )
        body = r.json()
        assert body["code"] == 0, body
        assert "transferErrorMsg" not in body["data"]


def test_known_answer_vector_json_body(kat_server: SandboxServer) -> None:
    canonical = (
        "assetName=USDT&fromAccountType=2&fromType=2&fromUid=25472377&recvWindow=6000&remark=rebalance"
        "&timestamp=1702619257404&toAccountType=1&toType=1&toUid=25316652&transferAmount=1.1"
    )
    sig = "574324d3df4db84a37394bcbd3acb9db213a397b03aec620a71e1bdc268822e7"
    assert hmac_hex(DOC_SECRET, canonical) == sig
    body = (
        '{"assetName":"USDT","fromAccountType":2,"fromType":2,"fromUid":25472377,"recvWindow":6000,'
        '"remark":"rebalance","timestamp":1702619257404,"toAccountType":1,"toType":1,"toUid":25316652,'
        f'"transferAmount":"1.1","signature":"{sig}"}}'
    )
    with kat_server as s:
        _at(s, 1702619257404)
        r = requests.post(
            f"{s.base_url}/openApi/account/transfer/v1/subAccount/transferAsset",
            data=body,
            headers={"X-BX-APIKEY": KAT_KEY, "Content-Type": "application/json"},
            timeout=5,
        )
        out = r.json()
        assert out["code"] == 0, out
        assert out["data"]["data"]["tranId"]


def test_known_answer_vector_encoded_value(kat_server: SandboxServer) -> None:
    canonical = "subUids=16789999,16789998&timestamp=1702520269455&transferable=true"
    sig = "98f8ac9c88bb231c8fb7c8d646c4257da35776cef2e6139a6184d7c951203176"
    assert hmac_hex(DOC_SECRET, canonical) == sig
    wire = "subUids=16789999%2C16789998&timestamp=1702520269455&transferable=true"
    encoded_sig = "fa0c948cfb2c0de6346b850e78618a887faa91fe7723b4e5384566d91f700c0d"
    assert hmac_hex(DOC_SECRET, wire) == encoded_sig
    with kat_server as s:
        _at(s, 1702520269455)
        url = f"{s.base_url}/openApi/account/v1/innerTransfer/authorizeSubAccount?{wire}"
        h = {"X-BX-APIKEY": KAT_KEY}
        assert requests.post(f"{url}&signature={sig}", headers=h, timeout=5).json() == {
            "code": 0,
            "msg": "",
            "timestamp": pytest.approx(1702520269455, abs=5000),
            "data": True,
        }
        # Strict mode: signing the encoded text is a client bug → 100001.
        assert requests.post(f"{url}&signature={encoded_sig}", headers=h, timeout=5).json()["code"] == 100001
