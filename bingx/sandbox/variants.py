"""Response variants: real BingX answers the sandbox does not give by default, switched on by name.

The default rendering follows the spec's recommendation (§4, §6.4). Production has been seen to answer
differently, and the client promises to cope; a variant makes the sandbox answer that way so the client
and worker suites can be run against each form (CI runs them once per variant):

``string_code_timestamp``
    ``code`` and ``timestamp`` of every envelope (error bodies, and the inner envelope of the
    double-wrapped ``subAccount/transferAsset`` answer, too) as strings: ``{"code":"0",
    "timestamp":"1754906016631", ...}`` — seen in production on the fund balance (§6.2, §3).
``top_level_transfer_error``
    Asset Transfer New business failures carry ``transferErrorMsg`` at the top level of the envelope
    instead of inside ``data``: ``{"code":0,"msg":"","timestamp":T,"transferErrorMsg":"Insufficient
    assets"}`` (§6.4: "optionally mirrored at top level"; the client looks in both places).
``bare_transfer_error``
    Legacy transfer (``POST /openApi/api/v3/post/asset/transfer``) business failures as a bare
    ``{"transferErrorMsg": "Insufficient assets"}`` / ``{"transferErrorMsg": "illegal transferType"}``
    with HTTP 200 and no envelope (§6.4 errors, as ccxt records them) instead of a coded envelope.

Variants change only how a reply body is written (:func:`render`, called from the one place the app
finalises an API reply body); state, journal and faults are unaffected. Set them with
``make_app(variants=...)`` / ``SandboxServer(variants=...)``, ``POST /_sandbox/variants``,
``python -m bingx.sandbox --variants a,b``, or :data:`ENV_VAR` (read by :func:`from_env`; the test
fixtures that start sandboxes pass it through). A reset leaves the variants in place.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

from .. import endpoints as registry

__all__ = ["DESCRIPTIONS", "ENV_VAR", "NAMES", "from_env", "parse", "render"]

ENV_VAR = "BINGX_SANDBOX_VARIANTS"

STRING_CODE_TIMESTAMP = "string_code_timestamp"
TOP_LEVEL_TRANSFER_ERROR = "top_level_transfer_error"
BARE_TRANSFER_ERROR = "bare_transfer_error"

DESCRIPTIONS: dict[str, str] = {
    STRING_CODE_TIMESTAMP: "envelope code and timestamp as JSON strings (§6.2, seen in production)",
    TOP_LEVEL_TRANSFER_ERROR: "Asset Transfer New failures: transferErrorMsg at the envelope's top level",
    BARE_TRANSFER_ERROR: "legacy transfer failures: bare {transferErrorMsg} without an envelope",
}
NAMES: tuple[str, ...] = tuple(DESCRIPTIONS)

# Legacy transfer business failures and the transferErrorMsg text BingX gives for them (§6.4 errors).
_LEGACY_INSUFFICIENT_CODE = 100202
_LEGACY_BAD_TYPE_CODE = 80014
_LEGACY_BAD_TYPE_SUFFIX = "err: type"


def parse(value: str | Iterable[str] | None) -> tuple[str, ...]:
    """Variant names from ``"a,b"`` or an iterable of names, deduplicated in :data:`NAMES` order.

    Raises ``ValueError`` on an unknown name or a non-string item (nothing is half-applied)."""
    if value is None:
        return ()
    items = value.split(",") if isinstance(value, str) else list(value)
    wanted: set[str] = set()
    for item in items:
        if not isinstance(item, str):
            raise ValueError(f"variant names must be strings, got {type(item).__name__}")
        name = item.strip()
        if not name:
            continue
        if name not in DESCRIPTIONS:
            raise ValueError(f"unknown response variant {name!r}; known: {', '.join(NAMES)}")
        wanted.add(name)
    return tuple(n for n in NAMES if n in wanted)


def from_env(environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """The variants named in ``BINGX_SANDBOX_VARIANTS`` (comma-separated; empty or unset → none)."""
    env = os.environ if environ is None else environ
    return parse(env.get(ENV_VAR, ""))


def render(variants: Iterable[str], path: str, body: Any) -> Any:
    """The body to send for ``path`` with ``variants`` on. Never mutates ``body``."""
    active = set(variants)
    if not active or not isinstance(body, dict):
        return body
    if BARE_TRANSFER_ERROR in active and path == registry.LEGACY_TRANSFER.path:
        bare = _bare_transfer_error(body)
        if bare is not None:
            return bare
    if TOP_LEVEL_TRANSFER_ERROR in active:
        body = _top_level_transfer_error(body)
    if STRING_CODE_TIMESTAMP in active:
        body = _string_code_timestamp(body)
    return body


def _bare_transfer_error(body: dict[str, Any]) -> dict[str, str] | None:
    code, msg = body.get("code"), str(body.get("msg") or "")
    if code == _LEGACY_INSUFFICIENT_CODE:
        return {"transferErrorMsg": "Insufficient assets"}
    if code == _LEGACY_BAD_TYPE_CODE and msg.endswith(_LEGACY_BAD_TYPE_SUFFIX):
        return {"transferErrorMsg": "illegal transferType"}
    return None  # signature, timestamp, permission, rate-limit … errors keep their coded envelope


def _top_level_transfer_error(body: dict[str, Any]) -> dict[str, Any]:
    data = body.get("data")
    if not isinstance(data, dict) or "transferErrorMsg" not in data:
        return body
    out = {k: v for k, v in body.items() if k != "data"}
    out["transferErrorMsg"] = data["transferErrorMsg"]
    rest = {k: v for k, v in data.items() if k != "transferErrorMsg"}
    if rest:
        out["data"] = rest
    return out


def _is_envelope(body: dict[str, Any]) -> bool:
    return isinstance(body.get("code"), int) and not isinstance(body.get("code"), bool)


def _string_code_timestamp(body: dict[str, Any]) -> dict[str, Any]:
    if not _is_envelope(body):
        return body  # bare bodies ({"total","rows"}, apiPermissions, {"tranId"}) have neither
    out = dict(body)
    out["code"] = str(body["code"])
    if isinstance(body.get("timestamp"), int):
        out["timestamp"] = str(body["timestamp"])
    data = body.get("data")
    if isinstance(data, dict) and _is_envelope(data):  # double-wrapped subAccount/transferAsset (§4)
        out["data"] = _string_code_timestamp(data)
    return out
