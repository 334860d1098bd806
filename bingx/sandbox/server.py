"""Threaded HTTP server for the sandbox, usable in-process (tests) and from the CLI.

A small ``http.server``-based WSGI bridge is used instead of ``wsgiref.simple_server`` because the
"drop connection" faults must close the socket without writing a single byte (the client then sees
``RemoteDisconnected`` / connection reset), which wsgiref cannot do. HTTP/1.1 keep-alive is supported.
"""

from __future__ import annotations

import contextlib
import io
import socket
import sys
import threading
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

from .app import SandboxApp
from .ratelimit import DEFAULT_PENALTY_MS, Penalty
from .state import SandboxState


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Buffer the whole response and flush once, and disable Nagle: headers and body written separately
    # would otherwise meet delayed ACKs and cost ~40 ms per keep-alive request.
    wbufsize = 1 << 16
    disable_nagle_algorithm = True
    server: _Server

    def do_GET(self) -> None:
        self._run()

    do_POST = do_GET
    do_DELETE = do_GET
    do_PUT = do_GET

    def version_string(self) -> str:
        return "BingXSandbox/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            sys.stderr.write(f"[sandbox] {self.address_string()} {format % args}\n")

    def _run(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        path, _, query = self.path.partition("?")
        environ: dict[str, Any] = {
            "REQUEST_METHOD": self.command,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_ADDR": self.client_address[0],
            "SERVER_NAME": self.server.server_address[0],
            "SERVER_PORT": str(self.server.server_address[1]),
            "SERVER_PROTOCOL": self.request_version,
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            "bingx.sandbox.drop_supported": True,
        }
        for name, value in self.headers.items():
            key = "HTTP_" + name.upper().replace("-", "_")
            if key not in ("HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"):
                environ[key] = value
        status_headers: list[Any] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
            status_headers[:] = [status, headers]

        chunks = self.server.app(environ, start_response)
        data = b"".join(chunks)
        if environ.get("bingx.sandbox.drop"):
            self._drop()
            return
        status, headers = status_headers
        code, _, reason = status.partition(" ")
        self.send_response(int(code), reason)
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _drop(self) -> None:
        """Close the TCP connection without sending any HTTP response bytes."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256
    app: SandboxApp
    verbose: bool

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Client disconnects (e.g. a test client timing out on a delayed fault) are not server errors.
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)) and not self.verbose:
            return
        super().handle_error(request, client_address)


class SandboxServer:
    """In-process sandbox exchange. ``with SandboxServer() as s: requests.get(s.base_url + ...)``."""

    def __init__(
        self,
        *,
        seed: dict[str, Any] | str | Path | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        strict: bool = True,
        rate_limit_scale: float = 1.0,
        rate_limits_enabled: bool = True,
        rate_limit_window: str = "sliding",
        rate_limit_penalty_ms: Penalty = DEFAULT_PENALTY_MS,
        rate_limit_answer: str = "unblock_time",
        state_path: str | Path | None = None,
        verbose: bool = False,
        variants: str | Iterable[str] | None = None,
    ):
        state = SandboxState(seed)
        if state_path is not None:
            # Resume a persisted demo state when present; from now on persist after every change.
            path = Path(state_path)
            if path.exists():
                state.load(_read_json(path))
            state.persist_path = path
            state.changed()
        self.state = state
        self.app = SandboxApp(
            state,
            strict=strict,
            rate_limit_scale=rate_limit_scale,
            rate_limits_enabled=rate_limits_enabled,
            rate_limit_window=rate_limit_window,
            rate_limit_penalty_ms=rate_limit_penalty_ms,
            rate_limit_answer=rate_limit_answer,
            variants=variants,
        )
        self.host = host
        self.port = port
        self.verbose = verbose
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> SandboxServer:
        if self._httpd is not None:
            return self
        httpd = _Server((self.host, self.port), _Handler)
        httpd.app = self.app
        httpd.verbose = self.verbose
        self._httpd = httpd
        self.port = httpd.server_address[1]
        self.app.stopping.clear()
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="bingx-sandbox", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Blocking variant for the CLI."""
        self.start()
        assert self._thread is not None
        try:
            while self._thread.is_alive():
                self._thread.join(0.5)
        finally:
            self.stop()

    def stop(self) -> None:
        if self._httpd is None:
            return
        self.app.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(5)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # -- in-process control API (same operations as /_sandbox/...) ---------------------------------
    def snapshot(self, *, include_records: bool = True) -> dict[str, Any]:
        return self.app.snapshot(include_records=include_records)

    def reset(self, seed: dict[str, Any] | None = None) -> None:
        self.app.reset(seed)

    def add_fault(
        self,
        path: str,
        mode: str,
        count: int = 1,
        code: int | None = None,
        msg: str | None = None,
        delay: float | None = None,
    ) -> dict[str, Any]:
        return self.app.add_fault(path, mode, count, code, msg, delay)

    def list_faults(self) -> list[dict[str, Any]]:
        return self.app.faults.list()

    def clear_faults(self) -> None:
        self.app.faults.clear()

    def set_clock_skew(self, skew_ms: int) -> None:
        self.app.set_clock_skew(skew_ms)

    def journal(self, path: str | None = None, since_seq: int | None = None) -> list[dict[str, Any]]:
        return self.app.journal.list(path, since_seq)

    def clear_journal(self) -> None:
        self.app.journal.clear()

    def set_rate_limit(
        self,
        *,
        enabled: bool | None = None,
        scale: float | None = None,
        window: str | None = None,
        penalty_ms: Penalty | None = None,
        answer: str | None = None,
    ) -> dict[str, object]:
        """None = keep. ``window`` "sliding"|"fixed", ``penalty_ms`` int ms or "window", ``answer``
        "unblock_time"|"plain"|"http429"|"mixed" (see ratelimit.py). Clears windows, blocks, lockouts."""
        return self.app.set_rate_limit(
            enabled=enabled, scale=scale, window=window, penalty_ms=penalty_ms, answer=answer
        )

    def set_variants(self, variants: str | Iterable[str] | None) -> tuple[str, ...]:
        return self.app.set_variants(variants)

    def add_account(self, account: dict[str, Any]) -> dict[str, Any]:
        return self.app.add_account(account)

    def bulk_records(self, **kwargs: Any) -> dict[str, Any]:
        return self.app.bulk_records(**kwargs)


def _read_json(path: Path) -> dict[str, Any]:
    import json

    with open(path, encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
    return data
