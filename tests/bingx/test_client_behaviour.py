"""Client behaviour a user notices, against a tiny local HTTP stub: retries (reads only), timestamp
resync, hooks, secrecy, exact wire format."""

from __future__ import annotations

import logging
import pickle
import socket
import time
import traceback
from decimal import Decimal
from typing import Any

import pytest

from bingx import (
    Ambiguous,
    CallInfo,
    Client,
    InsufficientBalance,
    NotSent,
    TimestampError,
)

from .conftest import free_port, respond

SECRET = "secret-value-never-shown-0123456789"
API_KEY = "api-key-visible-only-last4-WXYZ"
TIME_PATH = "/openApi/swap/v2/server/time"
OK_UID = {"code": 0, "msg": "", "timestamp": 1, "data": {"uid": 123}}
OK_TRANSFER = {"code": 0, "msg": "", "timestamp": 1, "data": {"tranId": 7, "transferId": "99"}}


def make_client(base_url: str, **kw) -> Client:
    kw.setdefault("timeout", (1.0, 0.5))
    return Client(API_KEY, SECRET, base_url=base_url, **kw)


def server_time(conn: socket.socket, ms: int = 1_700_000_000_000) -> None:
    respond(conn, {"code": 0, "msg": "", "data": {"serverTime": ms}})


def test_get_is_retried_after_5xx_and_succeeds(stub):
    calls = []

    def handler(req, conn):
        calls.append(req)
        if len(calls) < 3:
            respond(conn, b"busy", 503, content_type="text/plain")
        else:
            respond(conn, OK_UID)

    server = stub(handler)
    assert make_client(server.base_url, read_retries=2).uid() == "123"
    assert len(calls) == 3
    # each attempt is signed afresh
    assert len({c.query for c in calls}) == 3


def test_get_gives_up_after_read_retries(stub):
    server = stub(lambda req, conn: respond(conn, b"", 500))
    with pytest.raises(Ambiguous):
        make_client(server.base_url, read_retries=2).spot_balances()
    assert len(server.requests) == 3


def test_money_moving_post_is_never_retried_on_500(stub):
    server = stub(lambda req, conn: respond(conn, b"", 500))
    with pytest.raises(Ambiguous):
        make_client(server.base_url, read_retries=5).transfer(
            from_account="fund", to_account="spot", asset="USDT", amount=Decimal("1")
        )
    assert len(server.requests) == 1


def test_money_moving_post_is_never_retried_on_dropped_connection(stub):
    server = stub(lambda req, conn: conn.shutdown(socket.SHUT_RDWR))
    with pytest.raises(Ambiguous):
        make_client(server.base_url, read_retries=5).inner_transfer(
            coin="USDT", user_account_type=1, user_account="1", amount=Decimal("1"), wallet_type=1
        )
    assert len(server.requests) == 1


def test_read_only_json_post_is_retried(stub):
    calls = []

    def handler(req, conn):
        calls.append(req)
        if len(calls) == 1:
            conn.shutdown(socket.SHUT_RDWR)
        else:
            respond(conn, {"code": 0, "timestamp": 1, "data": {"coins": []}})

    server = stub(handler)
    assert make_client(server.base_url).sub_account_transferable_coins(1, 1, 2, 1) == ()
    assert len(calls) == 2


def test_not_sent_read_is_retried_then_raised():
    client = make_client(f"http://127.0.0.1:{free_port()}", read_retries=1)
    with pytest.raises(NotSent):
        client.uid()


def test_timestamp_rejection_resyncs_and_retries_once(stub):
    api_calls = []

    def handler(req, conn):
        if req.path == TIME_PATH:
            return server_time(conn)
        api_calls.append(req)
        if len(api_calls) == 1:
            respond(conn, {"code": 100421, "msg": "Null timestamp or timestamp mismatch", "timestamp": 1})
        else:
            respond(conn, OK_TRANSFER)

    server = stub(handler)
    client = make_client(server.base_url)
    result = client.transfer(from_account="fund", to_account="spot", asset="USDT", amount=Decimal("1"))
    assert result.transfer_id == "99"
    assert len(api_calls) == 2
    assert client.time_offset_ms != 0
    second_ts = int(dict(p.split("=") for p in api_calls[1].query.split("&"))["timestamp"])
    assert abs(second_ts - 1_700_000_000_000) < 5_000


def test_persistent_timestamp_rejection_gives_up_after_one_retry(stub):
    def handler(req, conn):
        if req.path == TIME_PATH:
            return server_time(conn)
        respond(conn, {"code": 100421, "msg": "timestamp mismatch", "timestamp": 1})

    server = stub(handler)
    with pytest.raises(TimestampError):
        make_client(server.base_url).transfer(
            from_account="fund", to_account="spot", asset="USDT", amount=Decimal("1")
        )
    assert len(server.api_requests()) == 2


def test_time_offset_is_shared_by_clients_on_the_same_base_url(stub):
    server = stub(lambda req, conn: server_time(conn, 1_000))
    first = make_client(server.base_url)
    offset = first.sync_time()
    assert offset < 0
    assert make_client(server.base_url + "/").time_offset_ms == offset
    assert make_client("http://other.invalid").time_offset_ms == 0


def test_insufficient_transfer_error_msg_raises_and_is_not_retried(stub):
    server = stub(
        lambda req, conn: respond(
            conn, {"code": 0, "timestamp": 1, "data": {"transferErrorMsg": "Insufficient assets"}}
        )
    )
    with pytest.raises(InsufficientBalance):
        make_client(server.base_url).transfer(
            from_account="fund", to_account="spot", asset="USDT", amount=Decimal("1")
        )
    assert len(server.requests) == 1


def test_query_is_sent_exactly_as_signed(stub):
    server = stub(lambda req, conn: respond(conn, {"code": 0, "timestamp": 1, "data": True}))
    assert (
        make_client(server.base_url).authorize_sub_account_transfer(
            sub_uids=[16789999, 16789998], transferable=False
        )
        is True
    )
    req = server.requests[0]
    assert req.method == "POST"
    assert req.query.startswith("recvWindow=5000&subUids=16789999%2C16789998&timestamp=")
    assert "&transferable=false&signature=" in req.query
    assert req.query.rsplit("&", 1)[1].startswith("signature=")
    assert req.body == b""
    assert req.headers["x-bx-apikey"] == API_KEY


def test_json_mode_sends_signed_body_and_empty_query(stub):
    server = stub(
        lambda req, conn: respond(
            conn, {"code": 0, "timestamp": 1, "data": {"code": 0, "data": {"tranId": "5"}}}
        )
    )
    result = make_client(server.base_url).sub_account_transfer(
        asset="USDT",
        amount=Decimal("1.10"),
        from_uid=1,
        from_type=1,
        from_account_type=1,
        to_uid="2",
        to_type=2,
        to_account_type=1,
        remark="note",
    )
    assert result.tran_id == "5"
    req = server.requests[0]
    assert req.query == ""
    assert req.headers["content-type"] == "application/json"
    assert b'"transferAmount":"1.10"' in req.body
    assert b'"toUid":2,' in req.body
    assert b'"signature":' in req.body


def test_float_amount_is_refused_before_anything_is_sent(stub):
    server = stub(lambda req, conn: respond(conn, OK_TRANSFER))
    client = make_client(server.base_url)
    with pytest.raises(TypeError):
        client.transfer(from_account="fund", to_account="spot", asset="USDT", amount=1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        client.transfer(from_account="fund", to_account="spot", asset="USDT", amount=Decimal("NaN"))
    with pytest.raises(ValueError):
        client.transfer(from_account="fund", to_account="spot", asset="USDT", amount=Decimal("0"))
    assert server.requests == []


def test_exponent_amount_goes_out_as_plain_decimal(stub):
    server = stub(lambda req, conn: respond(conn, OK_TRANSFER))
    make_client(server.base_url).transfer(
        from_account="fund", to_account="spot", asset="USDT", amount=Decimal("1E+2")
    )
    assert "amount=100&" in server.requests[0].query


def test_before_request_runs_before_each_signed_attempt_and_can_abort(stub):
    seen = []
    server = stub(lambda req, conn: respond(conn, OK_UID))
    client = make_client(server.base_url, before_request=lambda m, p: seen.append((m, p)))
    client.uid()
    assert seen == [("GET", "/openApi/account/v1/uid")]

    def refuse(method: str, path: str) -> None:
        raise RuntimeError("no token")

    with pytest.raises(RuntimeError):
        make_client(server.base_url, before_request=refuse).transfer(
            from_account="fund", to_account="spot", asset="USDT", amount=Decimal("1")
        )
    assert len(server.requests) == 1


def test_the_request_is_signed_after_a_rate_limit_wait_not_before(stub):
    """A long wait for a token must not age the signed timestamp (BingX answers 100421 when it is
    older than recvWindow): the timestamp is taken after `before_request` returns."""
    arrivals: list[tuple[int, int]] = []

    def handler(req: Any, conn: Any) -> None:
        signed_ms = int(dict(p.split("=", 1) for p in req.query.split("&"))["timestamp"])
        arrivals.append((signed_ms, int(time.time() * 1000)))
        respond(conn, OK_UID)

    server = stub(handler)
    make_client(server.base_url, before_request=lambda m, p: time.sleep(0.6)).uid()
    ((signed_ms, arrived_ms),) = arrivals
    assert arrived_ms - signed_ms < 300  # signed after the 600 ms wait, not before it


def test_on_response_gets_call_info_without_signature(stub):
    infos: list[CallInfo] = []
    server = stub(lambda req, conn: respond(conn, OK_TRANSFER))
    make_client(server.base_url, on_response=infos.append).transfer(
        from_account="fund", to_account="spot", asset="USDT", amount=Decimal("2")
    )
    (info,) = infos
    assert (info.method, info.path, info.http_status, info.code) == (
        "POST",
        "/openApi/api/asset/v1/transfer",
        200,
        0,
    )
    assert info.params["amount"] == "2"
    assert "timestamp" in info.params
    assert "signature" not in info.params
    assert SECRET not in repr(info)
    assert info.error is None
    assert info.duration_ms >= 0


def test_on_response_reports_failed_attempts_and_its_errors_never_break_the_call(stub):
    infos: list[CallInfo] = []
    calls = []

    def handler(req, conn):
        calls.append(1)
        respond(conn, b"", 504) if len(calls) == 1 else respond(conn, OK_UID)

    def hook(info: CallInfo) -> None:
        infos.append(info)
        raise RuntimeError("audit store down")

    server = stub(handler)
    assert make_client(server.base_url, on_response=hook).uid() == "123"
    assert [(i.attempt, i.http_status, i.error) for i in infos] == [(1, 504, "Ambiguous"), (2, 200, None)]


def test_secrets_never_appear_in_repr_logs_or_errors(stub, caplog):
    server = stub(lambda req, conn: conn.shutdown(socket.SHUT_RDWR))
    client = make_client(server.base_url, read_retries=1)
    assert repr(client) == f"Client(base_url='{server.base_url}', api_key='…WXYZ')"
    caplog.set_level(logging.DEBUG)
    with pytest.raises(Ambiguous) as info:
        client.transfer(from_account="fund", to_account="spot", asset="USDT", amount=Decimal("1"))
    rendered = "".join(traceback.format_exception(info.value)) + repr(info.value) + caplog.text
    chain = info.value.__cause__ or info.value.__context__
    assert chain is None
    for secret_text in (SECRET, API_KEY, "signature=", "timestamp="):
        assert secret_text not in rendered
    assert "/openApi/api/asset/v1/transfer" in caplog.text
    with pytest.raises(TypeError):
        pickle.dumps(client)


def test_client_requires_a_timeout():
    with pytest.raises(ValueError):
        Client("k", "s", timeout=None)  # type: ignore[arg-type]


def test_debug_logging_of_urllib3_never_shows_the_signed_query(stub, caplog):
    server = stub(lambda req, conn: respond(conn, OK_UID))
    caplog.set_level(logging.DEBUG)
    make_client(server.base_url).uid()
    assert "/openApi/account/v1/uid" in caplog.text
    assert "signature=" not in caplog.text
    assert SECRET not in caplog.text
    assert API_KEY not in caplog.text
