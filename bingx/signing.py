"""Request signing for the BingX ``/openApi`` REST API (spec §2).

Algorithm (spec §2.3):

1. drop parameters whose value is ``None`` (``0`` and ``False`` are kept);
2. add ``timestamp`` (ms, local clock + server offset) and ``recvWindow``;
3. sort by key (ASCII);
4. canonical string ``k1=v1&k2=v2`` with **raw** values: ``bool`` → ``true``/``false``,
   ``Decimal`` → plain text without exponent (``format(d, "f")``), ``int`` → digits, lists/tuples →
   comma-joined, ``str`` as is; ``float`` is refused (``TypeError``);
5. signature = lowercase hex HMAC-SHA256(secret, canonical); header ``X-BX-APIKEY``.

Transport:

* query mode (GET and most POSTs): ``?k=quote(v, safe="")&…&signature=<hex>`` — values percent-encoded,
  keys never, same order as signed, signature last; POST bodies are empty;
* JSON mode (endpoints whose :mod:`bingx.endpoints` entry has ``transport="json"``: the master ↔ sub
  ``transferAsset`` pair):
  ``Content-Type: application/json``, body = sorted params + ``signature`` inside; ints stay JSON
  numbers, everything else becomes a JSON string, so the server re-derives exactly the signed text.

Public helpers: :func:`sign` (canonical string and signature of a parameter dict),
:func:`canonical_value`, :func:`encode_query`, :func:`json_body`, :func:`build`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal
from urllib.parse import quote

__all__ = [
    "SignedRequest",
    "build",
    "canonical_string",
    "canonical_value",
    "encode_query",
    "format_decimal",
    "hmac_hex",
    "json_body",
    "prepare_items",
    "sign",
]

Mode = Literal["query", "json"]
MAX_RECV_WINDOW = 60000


def format_decimal(value: Decimal) -> str:
    """Plain decimal text, never an exponent: ``Decimal("1E+2")`` → ``"100"``; non-finite → ValueError."""
    if not value.is_finite():
        raise ValueError(f"not a finite decimal: {value!r}")
    text = format(value, "f")
    if text.startswith("-") and value == 0:
        text = text[1:]
    return text


def canonical_value(value: Any) -> str:
    """The raw text a value contributes to the canonical (signed) string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        raise TypeError("float values are not accepted; pass Decimal or str amounts")
    if isinstance(value, Decimal):
        return format_decimal(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)):
        return ",".join(canonical_value(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=_json_default)
    raise TypeError(f"unsupported parameter type: {type(value).__name__}")


def _json_default(obj: Any) -> Any:
    if isinstance(obj, Decimal):
        return format_decimal(obj)
    raise TypeError(f"unsupported parameter type: {type(obj).__name__}")


def prepare_items(params: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """Drop ``None`` values (only), sort by key; values are validated (floats refused)."""
    items = sorted(((k, v) for k, v in params.items() if v is not None), key=lambda kv: kv[0])
    for _, v in items:
        canonical_value(v)  # raises TypeError/ValueError early for floats, NaN, unsupported types
    return items


def canonical_string(items: Iterable[tuple[str, Any]]) -> str:
    return "&".join(f"{k}={canonical_value(v)}" for k, v in items)


def hmac_hex(secret: str, text: str) -> str:
    return hmac.new(secret.encode("utf-8"), text.encode("utf-8"), hashlib.sha256).hexdigest()


def sign(secret: str, params: Mapping[str, Any]) -> tuple[str, str]:
    """``(canonical, signature)`` for ``params`` as given (no timestamp/recvWindow is added here)."""
    canonical = canonical_string(prepare_items(params))
    return canonical, hmac_hex(secret, canonical)


def encode_query(items: Iterable[tuple[str, Any]], signature: str) -> str:
    """Wire query string: values percent-encoded with ``quote(v, safe="")``, keys as is, signature last."""
    parts = [f"{k}={quote(canonical_value(v), safe='')}" for k, v in items]
    parts.append(f"signature={signature}")
    return "&".join(parts)


def _json_value(value: Any) -> Any:
    # ints stay JSON numbers (their token text equals str(int)); bools stay true/false; everything else
    # (Decimal amounts, strings, comma lists) becomes a JSON string holding exactly the signed text.
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value
    return canonical_value(value)


def json_body(items: Iterable[tuple[str, Any]], signature: str) -> str:
    """Compact JSON object with the (sorted) params and ``signature`` last."""
    obj: dict[str, Any] = {k: _json_value(v) for k, v in items}
    obj["signature"] = signature
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class SignedRequest:
    """Everything needed to send one signed request. ``params`` are the signed values (no signature)."""

    mode: Mode
    canonical: str
    signature: str
    query: str  # "" in JSON mode
    body: str | None  # None in query mode
    params: dict[str, str]

    def __repr__(self) -> str:  # never show the signature
        return f"SignedRequest(mode={self.mode!r}, params={self.params!r})"


def build(
    params: Mapping[str, Any],
    secret: str,
    *,
    timestamp_ms: int,
    recv_window: int | None = None,
    mode: Mode = "query",
) -> SignedRequest:
    """Add ``timestamp``/``recvWindow``, sign, and render the query string or JSON body."""
    p = dict(params)
    p["timestamp"] = int(timestamp_ms)
    if recv_window is not None:
        if not 0 < recv_window <= MAX_RECV_WINDOW:
            raise ValueError(f"recv_window must be in 1..{MAX_RECV_WINDOW} ms")
        p["recvWindow"] = int(recv_window)
    items = sorted(((k, v) for k, v in p.items() if v is not None), key=lambda kv: kv[0])
    # Each value's text once (validating it: floats, NaN and unsupported types raise here, before any
    # signing); the canonical string, the query string and the audit copy are all built from it.
    texts = [(k, canonical_value(v)) for k, v in items]
    canonical = "&".join(f"{k}={t}" for k, t in texts)
    signature = hmac_hex(secret, canonical)
    shown = dict(texts)
    if mode == "json":
        return SignedRequest(mode, canonical, signature, "", json_body(items, signature), shown)
    query = "&".join([*(f"{k}={quote(t, safe='')}" for k, t in texts), f"signature={signature}"])
    return SignedRequest(mode, canonical, signature, query, None, shown)
