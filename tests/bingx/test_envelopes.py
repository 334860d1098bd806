"""Response normalisation on every envelope variant of spec §4/§6, error classification by code, and
transport-failure classification over real sockets."""

from __future__ import annotations

import socket
import time
from decimal import Decimal

import pytest

from bingx import (
    Ambiguous,
    AuthenticationError,
    Client,
    InsufficientBalance,
    InvalidParameters,
    IPNotWhitelisted,
    NotSent,
    PermissionDenied,
    RateLimited,
    Rejected,
    TimestampError,
)
from bingx.envelope import items, parse_json, records, unwrap
from bingx.errors import error_for_code
from bingx.models import (
    ApiPermissions,
    Balance,
    InnerTransferRecord,
    SubAccountTransferResult,
    TransferRecord,
    TransferResult,
)

from .conftest import free_port, respond


def payload(text: str) -> object:
    return unwrap(parse_json(text))


# ---------------------------------------------------------------------------------------------------
# envelopes
# ---------------------------------------------------------------------------------------------------
def test_standard_envelope_is_unwrapped():
    assert payload('{"code":0,"timestamp":1702558965648,"data":{"uid":16844999}}') == {"uid": 16844999}


def test_string_code_zero_counts_as_success():
    body = (
        '{"code":"0","timestamp":"1754906016631","data":{"assets":[{"asset":"USDT",'
        '"free":"44.376922","locked":"0.000"}]}}'
    )
    rows = items(payload(body), "assets", "balances")
    assert Balance.from_raw(rows[0]).free == Decimal("44.376922")


def test_spot_envelope_with_debug_msg_and_balances_key():
    body = (
        '{"code":0,"msg":"","debugMsg":"","data":{"balances":['
        '{"asset":"USDT","free":"566773.193402631","locked":"244.18616265388994"},'
        '{"asset":"VST","free":"0","locked":"0"}]}}'
    )
    balances = [Balance.from_raw(r) for r in items(payload(body), "assets", "balances")]
    assert balances[0].locked == Decimal("244.18616265388994")
    assert [b.asset for b in balances] == ["USDT", "VST"]


def test_bare_total_rows_records():
    body = (
        '{"total":2,"rows":[{"asset":"LTC","amount":"0.05000000000000000000","status":"CONFIRMED",'
        '"transferId":"1051461075661819338791","timestamp":1752202092000,"fromAccount":"spot",'
        '"toAccount":"USDTMPerp"}]}'
    )
    total, rows = records(payload(body))
    record = TransferRecord.from_raw(rows[0])
    assert total == 2
    assert record.transfer_id == "1051461075661819338791"
    assert record.amount == Decimal("0.05")
    assert record.raw["fromAccount"] == "spot"


def test_records_under_data_are_accepted():
    body = '{"code":0,"data":{"total":"1","rows":[{"asset":"VST","amount":"1","tranId":37600111}]}}'
    total, rows = records(payload(body))
    assert total == 1
    assert rows[0]["tranId"] == 37600111


def test_inner_transfer_records_nested_data_data_with_big_exact_id():
    body = (
        '{"code":0,"timestamp":1702383898844,"data":{"data":[{"id":1251111922229444400,"coin":"BTC",'
        '"receiver":1128763679,"amount":0.0072366,"status":6,"fromUid":1128763678,"recordType":"out"}],'
        '"total":1}}'
    )
    total, rows = records(payload(body))
    record = InnerTransferRecord.from_raw(rows[0])
    assert total == 1
    assert record.id == "1251111922229444400"
    assert record.amount == Decimal("0.0072366")
    assert record.receiver == "1128763679"
    assert record.status == 6
    assert record.record_type == "out"


def test_ids_above_2_pow_53_round_trip_exactly():
    body = (
        '{"code":0,"timestamp":1,"data":{"tranId":1933130865269936128,"transferId":"1051450703949464903736"}}'
    )
    result = TransferResult.from_raw(payload(body))
    assert result.tran_id == "1933130865269936128"
    assert result.transfer_id == "1051450703949464903736"
    assert int(result.tran_id) > 2**53


def test_transfer_with_only_tran_id_in_data():
    result = TransferResult.from_raw(payload('{"code":0,"timestamp":1760512784492,"data":{"tranId":123}}'))
    assert (result.tran_id, result.transfer_id, result.id) == ("123", None, "123")


def test_double_wrapped_sub_mother_transfer():
    body = (
        '{"code":0,"timestamp":1719494258281,"data":{"code":0,"timestamp":1719495091669,'
        '"data":{"tranId":"1051323892566796963873"}}}'
    )
    assert SubAccountTransferResult.from_raw(payload(body)).tran_id == "1051323892566796963873"


def test_double_wrapped_inner_error_code_is_a_rejection():
    body = '{"code":0,"timestamp":1,"data":{"code":100202,"msg":"Insufficient assets","data":{}}}'
    with pytest.raises(InsufficientBalance):
        payload(body)


def test_api_permissions_bare_object():
    perms = ApiPermissions.from_raw(
        payload('{"apiKey":"abcdefgh1234","permissions":[1,2],"ipAddresses":[],"note":"demo"}')
    )
    assert perms.permissions == (1, 2)
    assert perms.note == "demo"
    assert "abcdefgh" not in str(perms.raw)


def test_sub_account_assets_with_json_numbers():
    body = (
        '{"code":0,"timestamp":1701077668349,"data":{"balances":[{"asset":"ETH","free":0.0068,"locked":0}]}}'
    )
    balance = Balance.from_raw(items(payload(body), "balances", "assets")[0])
    assert balance.free == Decimal("0.0068")
    assert balance.locked == Decimal(0)


@pytest.mark.parametrize(
    "body",
    [
        '{"transferErrorMsg":"Insufficient assets"}',
        '{"code":0,"msg":"","timestamp":1,"data":{"transferErrorMsg":"Insufficient assets"}}',
        '{"code":0,"transferErrorMsg":"Insufficient assets","data":{}}',
    ],
)
def test_transfer_error_msg_insufficient_is_a_rejection_even_with_code_0(body):
    with pytest.raises(InsufficientBalance):
        payload(body)


def test_transfer_error_msg_illegal_transfer_type_is_invalid_parameters():
    with pytest.raises(InvalidParameters):
        payload('{"code":0,"timestamp":1,"data":{"transferErrorMsg":"illegal transferType"}}')


def test_unknown_transfer_error_msg_is_a_generic_rejection():
    with pytest.raises(Rejected) as info:
        payload('{"code":0,"data":{"transferErrorMsg":"something else"}}')
    assert type(info.value) is Rejected


def test_error_envelope_with_success_false_and_empty_data():
    with pytest.raises(AuthenticationError) as info:
        payload('{"code":100001,"msg":"Signature verification failed","success":false,"data":{}}')
    assert info.value.code == 100001


def test_unparseable_body_is_ambiguous():
    with pytest.raises(Ambiguous):
        parse_json(b"<html>502 Bad Gateway</html>")


# ---------------------------------------------------------------------------------------------------
# classification by code
# ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("code", "msg", "cls"),
    [
        (100001, "Signature verification failed due to signature mismatch", AuthenticationError),
        (100412, "Null signature", AuthenticationError),
        (100413, "Incorrect apiKey", AuthenticationError),
        (100421, "Null timestamp or timestamp mismatch", TimestampError),
        (80014, "timestamp is invalid", TimestampError),
        (80014, "Invalid parameters, err: recvWindow cannot be greater than 60000", InvalidParameters),
        (100004, "Permission denied as the API key was created without the permission", PermissionDenied),
        (100419, "IP does not match IP whitelist", IPNotWhitelisted),
        (100400, "miss arguments", InvalidParameters),
        (100437, "The withdrawal amount is lower than the minimum limit", InvalidParameters),
        (100202, "Insufficient assets, please verify the assets status", InsufficientBalance),
        (100410, "rate limited", RateLimited),
        (100500, "Internal system error", Ambiguous),
        (80020, "risk forbidden", Rejected),
        (999999, "brand new error", Rejected),
    ],
)
def test_error_codes_map_to_classes(code, msg, cls):
    err = error_for_code(code, msg, path="/p")
    assert type(err) is cls
    assert (err.code, err.message, err.path) == (code, msg, "/p")


def test_rejections_and_ambiguous_are_separate_families():
    assert issubclass(InsufficientBalance, Rejected)
    assert issubclass(RateLimited, Rejected)
    assert not issubclass(Ambiguous, Rejected)
    assert not issubclass(NotSent, Rejected)


@pytest.mark.parametrize(
    ("msg", "expected"),
    [
        (
            "code:100410:The endpoint trigger frequency limit rule is currently in the disabled period "
            "and will be unblocked after 1727193814249",
            1727193814249,
        ),
        (
            "over 20 error code:100202 requests within 480000 ms for this api, please verify and fix it "
            ",can retry after time: 1727193970155",
            1727193970155,
        ),
        ("rate limited", None),
    ],
)
def test_rate_limit_messages_yield_retry_after(msg, expected):
    err = error_for_code(100410, msg)
    assert isinstance(err, RateLimited)
    assert err.retry_after_ms == expected


# ---------------------------------------------------------------------------------------------------
# transport failures, real sockets
# ---------------------------------------------------------------------------------------------------
def client_for(base_url: str, **kw) -> Client:
    kw.setdefault("timeout", (1.0, 0.5))
    kw.setdefault("read_retries", 0)
    return Client("key-abcdefgh-WXYZ", "secret-value-never-shown", base_url=base_url, **kw)


def test_connection_refused_is_not_sent():
    client = client_for(f"http://127.0.0.1:{free_port()}")
    with pytest.raises(NotSent):
        client.transfer(from_account="fund", to_account="spot", asset="USDT", amount=Decimal("1"))


def test_dns_failure_is_not_sent():
    client = client_for("http://no-such-host.invalid")
    with pytest.raises(NotSent):
        client.uid()


def test_connect_timeout_is_not_sent():
    # A listening socket whose accept queue is full never completes new handshakes (Linux drops SYNs).
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    fillers = []
    try:
        for _ in range(8):
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(server.getsockname())
            fillers.append(s)
        time.sleep(0.05)
        client = client_for(f"http://127.0.0.1:{server.getsockname()[1]}", timeout=(0.3, 0.3))
        with pytest.raises((NotSent, Ambiguous)) as info:
            client.transfer(from_account="fund", to_account="spot", asset="USDT", amount=Decimal("1"))
        # Either the kernel kept the SYN pending (connect timeout: NotSent) or accepted it into a
        # backlog slot nobody reads (the request was written: Ambiguous). Both are classified safely.
        assert info.value.path == "/openApi/api/asset/v1/transfer"
    finally:
        for s in fillers:
            s.close()
        server.close()


def test_read_timeout_is_ambiguous(stub):
    server = stub(lambda req, conn: time.sleep(1.5))
    with pytest.raises(Ambiguous):
        client_for(server.base_url).transfer(
            from_account="fund", to_account="spot", asset="USDT", amount=Decimal("1")
        )


def test_connection_closed_after_request_is_ambiguous(stub):
    server = stub(lambda req, conn: conn.shutdown(socket.SHUT_RDWR))
    with pytest.raises(Ambiguous) as info:
        client_for(server.base_url).transfer(
            from_account="fund", to_account="spot", asset="USDT", amount=Decimal("1")
        )
    assert "secret" not in str(info.value)


def test_connection_reset_after_request_is_ambiguous(stub):
    def reset(req, conn):
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")

    server = stub(reset)
    with pytest.raises(Ambiguous):
        client_for(server.base_url).transfer(
            from_account="fund", to_account="spot", asset="USDT", amount=Decimal("1")
        )


def test_broken_chunked_body_is_ambiguous(stub):
    def broken(req, conn):
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            b'40\r\n{"code":0,'
        )
        conn.shutdown(socket.SHUT_RDWR)

    server = stub(broken)
    with pytest.raises(Ambiguous):
        client_for(server.base_url).transfer(
            from_account="fund", to_account="spot", asset="USDT", amount=Decimal("1")
        )


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_http_5xx_is_ambiguous(stub, status):
    server = stub(lambda req, conn: respond(conn, b"<html>gateway</html>", status, content_type="text/html"))
    with pytest.raises(Ambiguous) as info:
        client_for(server.base_url).transfer(
            from_account="fund", to_account="spot", asset="USDT", amount=Decimal("1")
        )
    assert info.value.http_status == status


def test_http_200_with_html_body_is_ambiguous(stub):
    server = stub(lambda req, conn: respond(conn, b"<html>hello</html>", 200, content_type="text/html"))
    with pytest.raises(Ambiguous):
        client_for(server.base_url).transfer(
            from_account="fund", to_account="spot", asset="USDT", amount=Decimal("1")
        )


def test_http_401_is_authentication_error(stub):
    server = stub(lambda req, conn: respond(conn, b"", 401))
    with pytest.raises(AuthenticationError) as info:
        client_for(server.base_url).uid()
    assert info.value.http_status == 401


@pytest.mark.parametrize("status", [429, 418])
def test_http_429_and_418_are_rate_limited_with_retry_after_header(stub, status):
    server = stub(lambda req, conn: respond(conn, b"", status, headers={"Retry-After": "7"}))
    with pytest.raises(RateLimited) as info:
        client_for(server.base_url).uid()
    assert info.value.retry_in_ms == 7000


def test_business_error_in_http_200_envelope_is_classified(stub):
    server = stub(
        lambda req, conn: respond(
            conn, {"code": 100419, "msg": "IP does not match IP whitelist", "timestamp": 1}
        )
    )
    with pytest.raises(IPNotWhitelisted):
        client_for(server.base_url).uid()
