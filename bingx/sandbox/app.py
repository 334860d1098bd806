"""The WSGI application: routing, the verification pipeline, faults, journal and control API.

Pipeline for ``/openApi/...`` requests (all business errors are HTTP 200 with a BingX code):

1. fault lookup for the path (consumed on arrival; pre-apply faults answer here);
2. unknown path → 100400 "this api is not exist"; wrong method → same (routes: :data:`.endpoints.ROUTES`,
   one per :mod:`bingx.endpoints` entry, which supplies transport, permission and per-UID limit);
3. JSON-transport endpoint called without a JSON body → 100400 "miss arguments";
4. signature pipeline (auth.py): 100413 → 100412 → 100421/80014 → 100001;
5. IP whitelist → 100419 (client IP = ``REMOTE_ADDR``);
6. per-UID rate limit (the endpoint's ``per_uid_limit`` times the scale; window, penalty and answer
   variant in ratelimit.py) → 100410 or HTTP 429; 100202 lockout → 100410;
7. the endpoint's ``permission`` missing from the key → 100004;
8. handler (under the state lock, so balance checks and moves are atomic).

Dropping a connection needs the server's cooperation: :class:`bingx.sandbox.server.SandboxServer` sets
``environ["bingx.sandbox.drop_supported"]``; the app then sets ``environ["bingx.sandbox.drop"] = True``
and the server closes the socket without writing anything. Under another WSGI server the drop faults
raise ``ConnectionAbortedError`` (the server will typically answer 500).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

from .auth import parse_request, verify
from .control import ControlError, bulk_records
from .control import handle as handle_control
from .endpoints import ROUTES, Ctx
from .envelopes import MSG_INTERNAL, MSG_IP, MSG_NOT_EXIST, MSG_PERMISSION, ApiError, Reply, dumps, error_body
from .faults import DEFAULT_DELAY_S, FaultRegistry
from .journal import Journal
from .ratelimit import DEFAULT_PENALTY_MS, Penalty, RateLimiter
from .state import SandboxState, load_seed
from .variants import parse as parse_variants
from .variants import render as render_variant

StartResponse = Callable[..., Any]

GATEWAY_504_BODY = (
    b"<html>\r\n<head><title>504 Gateway Time-out</title></head>\r\n<body>\r\n"
    b"<center><h1>504 Gateway Time-out</h1></center>\r\n</body>\r\n</html>\r\n"
)
SERVER_500_BODY = (
    b"<html>\r\n<head><title>500 Internal Server Error</title></head>\r\n<body>\r\n"
    b"<center><h1>500 Internal Server Error</h1></center>\r\n</body>\r\n</html>\r\n"
)
STATUS_TEXT = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    504: "Gateway Timeout",
}


class SandboxApp:
    def __init__(
        self,
        state: SandboxState,
        *,
        strict: bool = True,
        rate_limit_scale: float = 1.0,
        rate_limits_enabled: bool = True,
        rate_limit_window: str = "sliding",
        rate_limit_penalty_ms: Penalty = DEFAULT_PENALTY_MS,
        rate_limit_answer: str = "unblock_time",
        variants: str | Iterable[str] | None = None,
    ):
        self.state = state
        self.strict = strict
        self.variants = parse_variants(variants)  # response variants (variants.py); a reset keeps them
        self.limiter = RateLimiter(
            enabled=rate_limits_enabled,
            scale=rate_limit_scale,
            window=rate_limit_window,
            penalty_ms=rate_limit_penalty_ms,
            answer=rate_limit_answer,
        )
        self.faults = FaultRegistry()
        self.journal = Journal()
        # Set on server shutdown so "timeout_before_apply" sleepers wake up promptly.
        self.stopping = threading.Event()

    # -- in-process control operations (the HTTP control API calls these) --------------------------
    def snapshot(self, *, include_records: bool = True) -> dict[str, Any]:
        return self.state.to_dict(mask_secrets=True, include_records=include_records)

    def reset(self, seed: dict[str, Any] | None = None) -> None:
        with self.state.lock:
            self.state.load(seed if seed is not None else self.state.original_seed)
            self.state.clock_skew_ms = 0
            self.state.changed()
        self.journal.clear()
        self.faults.clear()
        self.limiter.reset()

    def add_fault(
        self,
        path: str,
        mode: str,
        count: int = 1,
        code: int | None = None,
        msg: str | None = None,
        delay: float | None = None,
    ) -> dict[str, Any]:
        return self.faults.add(path, mode, count, code, msg, delay).to_dict()

    def set_clock_skew(self, skew_ms: int) -> None:
        with self.state.lock:
            self.state.clock_skew_ms = int(skew_ms)

    def set_rate_limit(
        self,
        *,
        enabled: bool | None = None,
        scale: float | None = None,
        window: str | None = None,
        penalty_ms: Penalty | None = None,
        answer: str | None = None,
    ) -> dict[str, object]:
        """Change rate limiting (None = keep; ValueError and nothing changed on a bad value); clears
        windows, blocks and lockouts. Returns the settings now in force."""
        self.limiter.configure(
            enabled=enabled, scale=scale, window=window, penalty_ms=penalty_ms, answer=answer
        )
        return self.limiter.settings()

    def set_variants(self, variants: str | Iterable[str] | None) -> tuple[str, ...]:
        self.variants = parse_variants(variants)  # raises ValueError before changing anything
        return self.variants

    def add_account(self, raw: dict[str, Any]) -> dict[str, Any]:
        acct = self.state.add_account(raw)
        return acct.to_dict(mask_secret=True)

    def bulk_records(self, **kwargs: Any) -> dict[str, Any]:
        return bulk_records(self.state, **kwargs)

    # -- WSGI --------------------------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET").upper()
        path = environ.get("PATH_INFO", "") or "/"
        query = environ.get("QUERY_STRING", "")
        body = _read_body(environ)
        if path.startswith("/_sandbox/") or path == "/_sandbox":
            return self._control(method, path, query, body, start_response)
        return self._api(environ, method, path, query, body, start_response)

    def _control(
        self, method: str, path: str, query: str, body: bytes, start_response: StartResponse
    ) -> Iterable[bytes]:
        try:
            status, payload = handle_control(self, method, path, query, body)
        except ControlError as exc:
            status, payload = exc.status, {"error": exc.message}
        data = dumps(payload)
        start_response(
            f"{status} {STATUS_TEXT.get(status, 'OK')}",
            [("Content-Type", "application/json"), ("Content-Length", str(len(data)))],
        )
        return [data]

    def _api(
        self,
        environ: dict[str, Any],
        method: str,
        path: str,
        query: str,
        body: bytes,
        start_response: StartResponse,
    ) -> Iterable[bytes]:
        parsed = parse_request(query, environ.get("CONTENT_TYPE", "") or "", body)
        api_key = environ.get("HTTP_X_BX_APIKEY")
        known_key = self.state.keys.get(api_key or "")
        route = ROUTES.get(path)
        entry = self.journal.add(
            {
                "time_ms": self.state.now_ms(),
                "method": method,
                "path": path,
                "endpoint": route.endpoint.name if route is not None else None,
                "params": dict(parsed.params),
                "uid": known_key.uid if known_key else None,
                "api_key_last4": api_key[-4:] if api_key else None,
                "http_status": None,
                "code": None,
                "msg": None,
                "applied": False,
                "transfer_id": None,
                "fault": None,
            }
        )
        fault = self.faults.take(path)
        if fault is not None:
            self.journal.update(entry, fault=fault.mode)
            if fault.mode == "slow":
                self.stopping.wait(fault.delay if fault.delay is not None else DEFAULT_DELAY_S)
            if fault.mode == "timeout_before_apply":
                self.stopping.wait(fault.delay if fault.delay is not None else DEFAULT_DELAY_S)
                return self._drop(environ, start_response)
            if fault.mode == "http_500":
                self.journal.update(entry, http_status=500)
                return _respond(start_response, 500, SERVER_500_BODY, content_type="text/html")
            if fault.mode == "error_code":
                code = fault.code if fault.code is not None else 100500
                msg = fault.msg if fault.msg is not None else MSG_INTERNAL
                self.journal.update(entry, http_status=200, code=code, msg=msg)
                return _respond(
                    start_response, 200, self._render(path, error_body(code, msg, self.state.now_ms()))
                )

        reply = self._process(environ, method, path, parsed)
        self.journal.update(
            entry,
            code=reply.code,
            msg=reply.msg,
            applied=reply.applied,
            transfer_id=reply.transfer_id,
            http_status=reply.http_status,
        )
        if fault is not None and fault.mode == "lose_response_after_apply":
            self.journal.update(entry, http_status=None)
            return self._drop(environ, start_response)
        if fault is not None and fault.mode == "http_504_after_apply":
            self.journal.update(entry, http_status=504)
            return _respond(start_response, 504, GATEWAY_504_BODY, content_type="text/html")
        return _respond(
            start_response, reply.http_status, self._render(path, reply.body), extra=reply.headers
        )

    def _render(self, path: str, body: Any) -> bytes:
        """The one place an API reply body is finalised: response variants applied, then JSON."""
        return dumps(render_variant(self.variants, path, body))

    def _process(self, environ: dict[str, Any], method: str, path: str, parsed: Any) -> Reply:
        with self.state.lock:
            now = self.state.now_ms()
            route = ROUTES.get(path)
            headers: list[tuple[str, str]] = []
            uid: int | None = None
            try:
                if route is None or route.method != method:
                    raise ApiError(100400, MSG_NOT_EXIST)
                endpoint = route.endpoint
                ctx = Ctx(state=self.state, params=parsed.params, now=now, strict=self.strict, path=path)
                if endpoint.public:
                    return route.handler(ctx)
                if endpoint.transport == "json" and parsed.transport != "json":
                    raise ApiError(100400, "miss arguments")
                key = verify(
                    self.state, environ.get("HTTP_X_BX_APIKEY"), parsed, strict=self.strict, now_ms=now
                )
                uid = key.uid
                ctx.key = key
                ctx.params = parsed.params
                if key.ip_whitelist and environ.get("REMOTE_ADDR", "") not in key.ip_whitelist:
                    raise ApiError(100419, MSG_IP)
                headers = self.limiter.check(uid, path, endpoint.per_uid_limit, now)
                self.limiter.check_lockout(uid, path, now)
                if endpoint.permission is not None and endpoint.permission not in key.permissions:
                    raise ApiError(100004, MSG_PERMISSION)
                reply = route.handler(ctx)
                if reply.insufficient:
                    self.limiter.record_insufficient(uid, path, now)
                if reply.applied:
                    self.state.changed()
                reply.headers.extend(headers)
                return reply
            except ApiError as exc:
                if exc.code == 100202 and uid is not None:
                    self.limiter.record_insufficient(uid, path, now)
                return Reply(
                    error_body(exc.code, exc.msg, now),
                    code=exc.code,
                    msg=exc.msg,
                    http_status=exc.http_status,
                    headers=headers + getattr(exc, "headers", []),
                )

    def _drop(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("bingx.sandbox.drop_supported"):
            environ["bingx.sandbox.drop"] = True
            start_response("500 Dropped", [("Content-Length", "0")])
            return []
        raise ConnectionAbortedError("sandbox fault: drop connection (needs SandboxServer)")


def _read_body(environ: dict[str, Any]) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length <= 0:
        return b""
    data: bytes = environ["wsgi.input"].read(length)
    return data


def _respond(
    start_response: StartResponse,
    status: int,
    data: bytes,
    *,
    content_type: str = "application/json",
    extra: list[tuple[str, str]] | None = None,
) -> Iterable[bytes]:
    headers = [("Content-Type", content_type), ("Content-Length", str(len(data)))]
    headers.extend(extra or [])
    start_response(f"{status} {STATUS_TEXT.get(status, 'OK')}", headers)
    return [data]


def make_app(
    state: SandboxState | dict[str, Any] | None = None,
    *,
    strict: bool = True,
    rate_limit_scale: float = 1.0,
    rate_limits_enabled: bool = True,
    rate_limit_window: str = "sliding",
    rate_limit_penalty_ms: Penalty = DEFAULT_PENALTY_MS,
    rate_limit_answer: str = "unblock_time",
    variants: str | Iterable[str] | None = None,
) -> SandboxApp:
    """Build the WSGI callable. ``state`` may be a :class:`SandboxState`, a seed dict, or None (demo seed)."""
    if not isinstance(state, SandboxState):
        state = SandboxState(load_seed(state))
    return SandboxApp(
        state,
        strict=strict,
        rate_limit_scale=rate_limit_scale,
        rate_limits_enabled=rate_limits_enabled,
        rate_limit_window=rate_limit_window,
        rate_limit_penalty_ms=rate_limit_penalty_ms,
        rate_limit_answer=rate_limit_answer,
        variants=variants,
    )
