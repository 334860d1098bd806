"""The client reads proxy settings from the environment once, when it is built, and then honours them
on every call exactly as ``requests`` would (real sockets, no mocks)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bingx import Client, NotSent

from .conftest import StubServer, free_port, respond

OK_UID = {"code": 0, "msg": "", "timestamp": 1, "data": {"uid": 123}}
PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")
Stub = Callable[[Callable[..., None]], StubServer]


@pytest.fixture(autouse=True)
def clean_proxy_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXY_VARS:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.delenv("REQUEST_METHOD", raising=False)  # urllib ignores HTTP_PROXY under CGI


def make_client(base_url: str) -> Client:
    return Client("api-key-0001", "secret-0001", base_url=base_url, timeout=(1.0, 1.0), read_retries=0)


def test_http_proxy_set_before_construction_is_used(stub: Stub, monkeypatch: pytest.MonkeyPatch) -> None:
    exchange = stub(lambda req, conn: respond(conn, OK_UID))
    proxy = stub(lambda req, conn: respond(conn, OK_UID))
    monkeypatch.setenv("HTTP_PROXY", proxy.base_url)
    client = make_client(exchange.base_url)
    assert client.uid() == "123"
    assert client.uid() == "123"
    # Both calls went through the proxy, in proxy form (absolute URL), and never straight to the exchange.
    assert len(proxy.requests) == 2
    assert all(r.target.startswith(f"{exchange.base_url}/openApi/account/v1/uid?") for r in proxy.requests)
    assert exchange.requests == []


def test_unreachable_proxy_means_not_sent(stub: Stub, monkeypatch: pytest.MonkeyPatch) -> None:
    exchange = stub(lambda req, conn: respond(conn, OK_UID))
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{free_port()}")
    client = make_client(exchange.base_url)
    with pytest.raises(NotSent):
        client.uid()
    assert exchange.requests == []


def test_no_proxy_for_the_exchange_host_bypasses_the_proxy(
    stub: Stub, monkeypatch: pytest.MonkeyPatch
) -> None:
    exchange = stub(lambda req, conn: respond(conn, OK_UID))
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    assert make_client(exchange.base_url).uid() == "123"
    assert len(exchange.requests) == 1


def test_environment_is_read_once_per_client(stub: Stub, monkeypatch: pytest.MonkeyPatch) -> None:
    exchange = stub(lambda req, conn: respond(conn, OK_UID))
    direct = make_client(exchange.base_url)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{free_port()}")
    # Set after construction: the existing client keeps going direct; a new one uses the proxy.
    assert direct.uid() == "123"
    with pytest.raises(NotSent):
        make_client(exchange.base_url).uid()
    assert len(exchange.requests) == 1


def test_https_proxy_gets_the_tunnel_request(stub: Stub, monkeypatch: pytest.MonkeyPatch) -> None:
    proxy = stub(lambda req, conn: respond(conn, b"no tunnel", 502, content_type="text/plain"))
    exchange_port = free_port()
    monkeypatch.setenv("HTTPS_PROXY", proxy.base_url)
    with pytest.raises(NotSent):
        make_client(f"https://127.0.0.1:{exchange_port}").uid()
    (tunnel,) = proxy.requests
    assert (tunnel.method, tunnel.target) == ("CONNECT", f"127.0.0.1:{exchange_port}")
