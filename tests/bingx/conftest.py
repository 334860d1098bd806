"""Fixtures for the bingx client tests: a tiny raw-socket HTTP stub (for transport behaviour that
needs real sockets: refused, dropped, half-written, slow) — no mocks of requests/urllib3."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from bingx import Client

Handler = Callable[["StubRequest", socket.socket], None]


class StubRequest:
    def __init__(self, raw: bytes) -> None:
        head, _, self.body = raw.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        self.method, self.target, _ = lines[0].split(" ", 2)
        self.path, _, self.query = self.target.partition("?")
        self.headers = {k.lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}


def respond(
    conn: socket.socket,
    body: Any,
    status: int = 200,
    *,
    content_type: str = "application/json",
    headers: dict[str, str] | None = None,
) -> None:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    conn.sendall(
        f"HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {len(data)}\r\n"
        f"Connection: close\r\n{extra}\r\n".encode()
        + data
    )


class StubServer:
    """Accepts connections; each request goes to ``handler(request, conn)`` (the stub closes after)."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[StubRequest] = []
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        self.sock.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        with contextlib.closing(conn):
            conn.settimeout(5)
            raw = b""
            try:
                while b"\r\n\r\n" not in raw:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    raw += chunk
                head = raw.split(b"\r\n\r\n", 1)[0].decode("latin-1").lower()
                length = 0
                for line in head.split("\r\n"):
                    if line.startswith("content-length:"):
                        length = int(line.split(":", 1)[1])
                while len(raw.split(b"\r\n\r\n", 1)[1]) < length:
                    raw += conn.recv(65536)
                req = StubRequest(raw)
                self.requests.append(req)
                self.handler(req, conn)
            except OSError:
                pass

    def api_requests(self) -> list[StubRequest]:
        return [r for r in self.requests if r.path != "/openApi/swap/v2/server/time"]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


@pytest.fixture
def stub() -> Iterator[Callable[[Handler], StubServer]]:
    servers: list[StubServer] = []

    def make(handler: Handler) -> StubServer:
        server = StubServer(handler)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.close()


@pytest.fixture(autouse=True)
def _fresh_offsets_and_fast_backoff(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    Client.reset_time_offsets()
    monkeypatch.setattr(Client, "retry_backoff_s", 0.01)
    yield
    Client.reset_time_offsets()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
