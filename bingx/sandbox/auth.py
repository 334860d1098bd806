"""Request parsing and signature verification exactly as in spec §2.5.

Order of checks: API key (100413) → signature present (100412) → timestamp / recvWindow (100421, 80014)
→ HMAC (100001). IP whitelist (100419) and permissions (100004) are checked by the app afterwards,
because they need the authenticated key.

Canonical strings:

* query string / form body: ``k=v`` pairs in **received order**, values percent-decoded with
  ``unquote`` (not ``unquote_plus``), ``signature`` removed; query pairs first, then form-body pairs.
* JSON body: keys sorted a-z, scalar values as their JSON token text (strings unquoted, numbers as
  written, ``true``/``false``), arrays/objects re-serialised compactly.

``strict=False`` additionally accepts the raw (still-encoded) text, the ``+``-as-space decoding and the
key-sorted decoded string, so sloppy clients work — strict mode exists so those bugs are caught.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, unquote_plus

from .envelopes import (
    MSG_BAD_KEY,
    MSG_INVALID,
    MSG_NULL_SIGNATURE,
    MSG_SIGNATURE,
    MSG_TIMESTAMP,
    ApiError,
)
from .state import ApiKey, SandboxState

DEFAULT_RECV_WINDOW = 5000
MAX_RECV_WINDOW = 60000


@dataclass
class ParsedRequest:
    """Parameters of one request, plus the candidate canonical strings to verify against."""

    transport: str  # "query" | "form" | "json"
    params: dict[str, str] = field(default_factory=dict)
    signature: str | None = None
    strict_candidate: str = ""
    lenient_candidates: list[str] = field(default_factory=list)
    lenient_params: list[dict[str, str]] = field(default_factory=list)


def _split_pairs(raw: str) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for part in raw.split("&"):
        if not part:
            continue
        key, _, value = part.partition("=")
        pairs.append((key, value))
    return pairs


def _json_text(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    if isinstance(value, (list, dict)):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return str(value)


def parse_request(query_string: str, content_type: str, body: bytes) -> ParsedRequest:
    """Split a request into params and canonical candidates; never raises on odd input."""
    ct = content_type.split(";", 1)[0].strip().lower()
    if ct == "application/json" and body.strip():
        try:
            # Numbers keep their exact token text, so "1.10" stays "1.10" in the canonical string.
            obj = json.loads(body, parse_int=str, parse_float=str)
            nested = json.loads(body)
        except ValueError:
            obj, nested = None, None
        if isinstance(obj, dict) and isinstance(nested, dict):
            json_sig = obj.pop("signature", None)
            params: dict[str, str] = {}
            for k in obj:
                v = nested[k] if isinstance(nested[k], (list, dict)) else obj[k]
                params[k] = _json_text(v)
            canonical = "&".join(f"{k}={params[k]}" for k in sorted(params))
            # Query-string parameters alongside a JSON body are not part of BingX's JSON scheme; ignore.
            return ParsedRequest(
                transport="json",
                params=params,
                signature=None if json_sig is None else _json_text(json_sig),
                strict_candidate=canonical,
            )
        return ParsedRequest(transport="json")

    raw_pairs = _split_pairs(query_string)
    transport = "query"
    if ct == "application/x-www-form-urlencoded" and body:
        raw_pairs += _split_pairs(body.decode("utf-8", errors="replace"))
        transport = "form"
    sig: str | None = None
    kept: list[tuple[str, str]] = []
    for k, v in raw_pairs:
        if unquote(k) == "signature":
            sig = unquote(v)
        else:
            kept.append((k, v))
    decoded = [(unquote(k), unquote(v)) for k, v in kept]
    plus = [(unquote_plus(k), unquote_plus(v)) for k, v in kept]
    strict = "&".join(f"{k}={v}" for k, v in decoded)
    lenient = [
        "&".join(f"{k}={v}" for k, v in kept),  # signed the encoded text (JKorf-style)
        "&".join(f"{k}={v}" for k, v in plus),  # '+' meant space
        "&".join(f"{k}={v}" for k, v in sorted(decoded)),  # signed sorted, sent in another order
    ]
    return ParsedRequest(
        transport=transport,
        params=dict(decoded),
        signature=sig,
        strict_candidate=strict,
        lenient_candidates=lenient,
        lenient_params=[dict(decoded), dict(plus), dict(decoded)],
    )


def hmac_hex(secret: str, text: str) -> str:
    return hmac.new(secret.encode("utf-8"), text.encode("utf-8"), hashlib.sha256).hexdigest()


def verify(
    state: SandboxState, api_key: str | None, req: ParsedRequest, *, strict: bool, now_ms: int
) -> ApiKey:
    """Authenticate; returns the key (and may swap ``req.params`` for a lenient decoding) or raises."""
    key = state.keys.get(api_key or "")
    if key is None:
        raise ApiError(100413, MSG_BAD_KEY)
    if not req.signature:
        raise ApiError(100412, MSG_NULL_SIGNATURE)
    ts_text = req.params.get("timestamp", "")
    if not ts_text.isdigit():
        raise ApiError(100421, MSG_TIMESTAMP)
    rw_text = req.params.get("recvWindow")
    if rw_text is None or rw_text == "":
        recv_window = DEFAULT_RECV_WINDOW
    else:
        if not rw_text.isdigit():
            raise ApiError(80014, f"{MSG_INVALID}, err: recvWindow must be an integer")
        recv_window = int(rw_text)
        if recv_window > MAX_RECV_WINDOW:
            raise ApiError(80014, f"{MSG_INVALID}, err: recvWindow cannot be greater than {MAX_RECV_WINDOW}")
        # BingX's own docs sign examples with recvWindow=0; treat 0 as "use the default window".
        if recv_window == 0:
            recv_window = DEFAULT_RECV_WINDOW
    if abs(now_ms - int(ts_text)) > recv_window:
        raise ApiError(100421, MSG_TIMESTAMP)
    sig = req.signature.lower()
    if hmac.compare_digest(hmac_hex(key.secret, req.strict_candidate), sig):
        return key
    if not strict:
        for candidate, params in zip(req.lenient_candidates, req.lenient_params, strict=True):
            if hmac.compare_digest(hmac_hex(key.secret, candidate), sig):
                req.params = params
                return key
    raise ApiError(100001, MSG_SIGNATURE)
