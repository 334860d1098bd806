"""Response normalisation (spec §4, §6, pitfalls P8/P9/P14).

* JSON is parsed with ``parse_float=Decimal``; integers stay Python ``int`` (ids above 2**53 are exact).
* Success iff ``code`` is absent or equals 0 (int or the string ``"0"``) **and** there is no
  ``transferErrorMsg`` at top level or inside ``data``.
* Enveloped bodies (``{"code", "msg", "timestamp", "data"}``) are unwrapped; a double-wrapped ``data``
  (``subAccount/transferAsset``) is unwrapped again, checking the inner ``code`` too.
* Bare bodies (``{"total", "rows"}``, ``apiPermissions``) are returned unchanged.

Helpers :func:`records` and :func:`items` find lists under the various keys BingX uses
(``rows`` at top level or under ``data``, ``data.data``, ``balances`` vs ``assets``, ``result``, ``coins``).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from .errors import Ambiguous, BingXError, error_for_code, error_for_transfer_message

__all__ = ["code_of", "items", "parse_json", "records", "unwrap"]

_ENVELOPE_KEYS = frozenset({"code", "msg", "timestamp", "data", "debugMsg", "success"})


def parse_json(content: bytes | str, *, http_status: int | None = None, path: str | None = None) -> Any:
    """Parse a body exactly (Decimal floats, exact ints); an unparseable body is :class:`Ambiguous`."""
    try:
        return json.loads(content, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Ambiguous(
            "unparseable response body from the exchange, outcome unknown",
            http_status=http_status,
            path=path,
        ) from exc


def code_of(body: Any) -> int | None:
    """The envelope's ``code`` as an int (``"0"`` → 0); None if absent; -1 if not a number."""
    if not isinstance(body, dict) or "code" not in body or body["code"] is None:
        return None
    code = body["code"]
    if isinstance(code, bool):
        return -1
    if isinstance(code, int):
        return code
    try:
        return int(str(code).strip())
    except ValueError:
        return -1


def _check(body: dict[str, Any], http_status: int | None, path: str | None) -> None:
    code = code_of(body)
    msg = str(body.get("msg") or "")
    if code is not None and code != 0:
        raise error_for_code(code, msg, http_status=http_status, path=path)
    for holder in (body, body.get("data")):
        if isinstance(holder, dict):
            text = holder.get("transferErrorMsg")
            if text:
                raise error_for_transfer_message(str(text), code=code, http_status=http_status, path=path)


def unwrap(body: Any, *, http_status: int | None = None, path: str | None = None) -> Any:
    """Raise the right :class:`~bingx.errors.BingXError` for a refusal; else return the payload."""
    if isinstance(body, list):
        return body
    if not isinstance(body, dict):
        raise Ambiguous("unexpected response shape, outcome unknown", http_status=http_status, path=path)
    _check(body, http_status, path)
    enveloped = "code" in body or ("data" in body and set(body) <= _ENVELOPE_KEYS)
    if not enveloped:
        return body  # bare object: {"total", "rows"}, apiPermissions, legacy {"tranId"}
    data = body.get("data")
    # Double-wrapped (subAccount/transferAsset): data is itself an envelope with its own code.
    while isinstance(data, dict) and "code" in data and "data" in data and set(data) <= _ENVELOPE_KEYS:
        _check(data, http_status, path)
        data = data.get("data")
    return data


def records(payload: Any) -> tuple[int, list[Any]]:
    """``(total, rows)`` from ``{"total", "rows"}``, ``{"data": {...}}``, ``{"data": [...], "total"}``
    or ``{"result": [...], "total"}``. A missing ``total`` falls back to the row count."""
    if isinstance(payload, list):
        return len(payload), payload
    if not isinstance(payload, dict):
        raise TypeError("records payload is not an object")
    for key in ("rows", "data", "result", "records", "list"):
        value = payload.get(key)
        if isinstance(value, list):
            return _total(payload, len(value)), value
        if isinstance(value, dict) and key == "data":
            return records(value)
    if payload.get("total") in (0, "0") or not payload:
        return 0, []
    raise KeyError("no rows in records payload")


def _total(payload: dict[str, Any], fallback: int) -> int:
    total = payload.get("total")
    if total is None or total == "":
        return fallback
    return int(total)


def items(payload: Any, *keys: str) -> list[Any]:
    """The first list found under one of ``keys`` (e.g. ``"balances", "assets"``); ``[]`` if the key
    exists with ``null``; a bare list payload is returned as is."""
    if isinstance(payload, list):
        return payload
    if not isinstance(payload, dict):
        raise TypeError("payload is not an object")
    for key in keys:
        if key in payload:
            value = payload[key]
            if value is None:
                return []
            if isinstance(value, list):
                return value
            raise TypeError(f"{key} is not a list")
    if isinstance(payload.get("data"), (dict, list)):
        return items(payload["data"], *keys)
    raise KeyError(f"none of {keys} in payload")


def classify_body(body: Any, *, http_status: int | None, path: str | None) -> BingXError | None:
    """The error a body stands for, without raising (None for success)."""
    try:
        unwrap(body, http_status=http_status, path=path)
    except BingXError as exc:
        return exc
    return None
