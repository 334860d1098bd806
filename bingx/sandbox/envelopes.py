"""Response envelopes (§4) and the error type handlers raise.

BingX answers business errors with HTTP 200 and a non-zero ``code``; a few endpoints answer bare
JSON. Handlers return a :class:`Reply`; errors are raised as :class:`ApiError` and rendered here.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

MSG_NOT_EXIST = "this api is not exist"
MSG_MISS_ARGS = "miss arguments"
MSG_INVALID = "Invalid parameters"
MSG_SIGNATURE = "Signature verification failed due to signature mismatch"
MSG_NULL_SIGNATURE = "Null signature"
MSG_BAD_KEY = "Incorrect apiKey"
MSG_TIMESTAMP = (
    "Null timestamp or timestamp mismatch, try to run our sample code from the link "
    "https://bingx-api.github.io/docs/#/en-us/spot/account-api.html#Query%20Assets"
)
MSG_PERMISSION = "Permission denied as the API key was created without the permission"
MSG_IP = (
    "IP does not match IP whitelist , please go to https://bingx.com/en/account/api/ "
    "to verify the ip you have set"
)
MSG_INSUFFICIENT = "Insufficient assets, please verify the assets status"
MSG_INTERNAL = "Internal system error"


class ApiError(Exception):
    """A BingX business error rendered as ``{"code", "msg", "timestamp"}`` with HTTP 200."""

    def __init__(self, code: int, msg: str, *, http_status: int = 200):
        super().__init__(f"{code}: {msg}")
        self.code = code
        self.msg = msg
        self.http_status = http_status


@dataclass
class Reply:
    """What a handler returns: the JSON body plus bookkeeping for the journal."""

    body: Any
    code: int = 0
    http_status: int = 200
    applied: bool = False
    transfer_id: str | None = None
    msg: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    # An insufficient-balance failure answered with code 0 (``transferErrorMsg``): counts toward the
    # 100202 lockout like a raised 100202 does.
    insufficient: bool = False


def std(data: Any, now_ms: int, *, debug_msg: bool = False) -> dict[str, Any]:
    """Standard envelope ``{code, msg, timestamp, data}``; spot-family routes answer ``{code, msg,
    debugMsg, data}`` instead — no ``timestamp``, as §4 and the docs examples (§6.1, §6.5) show."""
    out: dict[str, Any] = {"code": 0, "msg": ""}
    if debug_msg:
        out["debugMsg"] = ""
    else:
        out["timestamp"] = now_ms
    out["data"] = data
    return out


def error_body(code: int, msg: str, now_ms: int) -> dict[str, Any]:
    return {"code": code, "msg": msg, "timestamp": now_ms}


_DEC_MARK = "\x00D"
_DEC_RE = re.compile(r'"\\u0000D([0-9.\-]+)"')


def _default(obj: Any) -> Any:
    if isinstance(obj, Decimal):
        # Placeholder string, swapped for a bare JSON number below: json can't emit Decimal exactly.
        return _DEC_MARK + format(obj, "f")
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def dumps(obj: Any) -> bytes:
    """Compact JSON; ``Decimal`` values become JSON numbers with their exact digits (e.g. 0.0072366)."""
    text = json.dumps(obj, separators=(",", ":"), default=_default, ensure_ascii=False)
    if "\\u0000D" in text:
        text = _DEC_RE.sub(lambda m: m.group(1), text)
    return text.encode("utf-8")
