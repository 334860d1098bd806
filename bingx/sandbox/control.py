"""Control API under ``/_sandbox/`` (unsigned, JSON in/out) and fast bulk record generation.

Contract (other engineers code against it):

* ``GET  /_sandbox/state[?records=false]`` → full state, API secrets replaced by ``"***"``.
* ``POST /_sandbox/reset`` body: seed JSON, or empty → reload the original seed. Also clears journal,
  faults, rate-limit windows/lockouts and clock skew.
* ``POST /_sandbox/faults`` ``{"path", "mode", "count"=1, "code"?, "msg"?, "delay"?}``;
  ``GET /_sandbox/faults`` → ``{"faults": [...]}``; ``DELETE /_sandbox/faults`` clears.
* ``POST /_sandbox/clock`` ``{"skew_ms": int}`` → ``{"skew_ms", "server_time_ms"}``.
* ``GET /_sandbox/journal[?path=&since_seq=]`` → ``{"calls": [...]}``; ``DELETE /_sandbox/journal`` clears.
* ``POST /_sandbox/ratelimit`` ``{"enabled"?: bool, "scale"?: float, "window"?: "sliding"|"fixed",
  "penalty_ms"?: int|"window", "answer"?: "unblock_time"|"plain"|"http429"|"mixed"}`` → the settings in
  force (also ``GET``); a bad value → 400 and nothing changes (details in ratelimit.py).
* ``POST /_sandbox/variants`` ``{"variants": [names]}`` sets the response variants (variants.py; ``[]`` turns
  them off; an unknown name → 400 and nothing changes); ``GET`` → ``{"variants", "available"}``.
* ``POST /_sandbox/accounts`` body: one account in seed format → the account (secrets masked).
* ``POST /_sandbox/records/bulk`` ``{"uid", "kind": "asset"|"inner"|"sub_inner"|"family", "count",
  "asset"="USDT", "start_time_ms"?, "step_ms"=1000, "amount"="1", "counterparty_uid"?, "direction"="out",
  "from_account"?, "to_account"?}`` → ``{"created", "first_id", "last_id"}``. Historical records only:
  balances do not move. Record i has time ``start_time_ms + i*step_ms``.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from .ratelimit import parse_settings as parse_rate_limit_settings
from .state import (
    FAMILY_ID_BASE,
    INNER_ID_BASE,
    TRAN_ID_BASE,
    TRANSFER_ID_BASE,
    WALLETS,
    AssetTransfer,
    FamilyTransfer,
    InnerTransfer,
    SandboxState,
    dec,
)
from .variants import DESCRIPTIONS as VARIANT_DESCRIPTIONS

if TYPE_CHECKING:
    from .app import SandboxApp

EXTERNAL_COUNTERPARTY_UID = 19999999


class ControlError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def bulk_records(
    state: SandboxState,
    *,
    uid: int,
    kind: str,
    count: int,
    asset: str = "USDT",
    start_time_ms: int | None = None,
    step_ms: int = 1000,
    amount: str = "1",
    counterparty_uid: int | None = None,
    direction: str = "out",
    from_account: str | None = None,
    to_account: str | None = None,
) -> dict[str, Any]:
    """Append ``count`` historical records for ``uid`` in one go (100k takes well under a second)."""
    if count < 1:
        raise ValueError("count must be >= 1")
    amt = dec(amount)
    asset = asset.upper()
    with state.lock:
        acct = state.account(uid)
        if acct is None:
            raise ValueError(f"unknown uid {uid}")
        start = start_time_ms if start_time_ms is not None else state.now_ms() - count * step_ms
        first = state.next_seq(count)
        times = [start + i * step_ms for i in range(count)]
        if kind == "asset":
            src = from_account or "fund"
            dst = to_account or "spot"
            if src not in WALLETS or dst not in WALLETS or src == dst:
                raise ValueError("bad from_account/to_account")
            asset_recs = [
                AssetTransfer(
                    uid, TRAN_ID_BASE + first + i, str(TRANSFER_ID_BASE + first + i), asset, amt, src, dst, t
                )
                for i, t in enumerate(times)
            ]
            state.extend_records(asset=asset_recs)
            ids = [str(asset_recs[0].transfer_id), str(asset_recs[-1].transfer_id)]
        elif kind in ("inner", "sub_inner"):
            if counterparty_uid is None:
                if kind == "sub_inner":
                    if acct.master_uid is None:
                        raise ValueError("sub_inner records need a sub-account uid")
                    counterparty_uid = acct.master_uid
                else:
                    subs = state.subs_of(uid)
                    counterparty_uid = subs[0].uid if subs else EXTERNAL_COUNTERPARTY_UID
            payer, payee = (uid, counterparty_uid) if direction == "out" else (counterparty_uid, uid)
            inner_recs = [
                InnerTransfer(INNER_ID_BASE + (first + i) * 7, kind, asset, amt, payer, payee, "fund", t)
                for i, t in enumerate(times)
            ]
            state.extend_records(inner=inner_recs)
            ids = [str(inner_recs[0].id), str(inner_recs[-1].id)]
        elif kind == "family":
            master_uid = acct.uid if acct.is_master else acct.master_uid
            assert master_uid is not None
            if counterparty_uid is None:
                if acct.is_master:
                    subs = state.subs_of(uid)
                    if not subs:
                        raise ValueError("family records need a master with a sub-account")
                    counterparty_uid = subs[0].uid
                else:
                    counterparty_uid = master_uid
            src_uid, dst_uid = (uid, counterparty_uid) if direction == "out" else (counterparty_uid, uid)
            src_w = from_account or "fund"
            dst_w = to_account or "fund"
            fam_recs = [
                FamilyTransfer(
                    str(FAMILY_ID_BASE + first + i),
                    master_uid,
                    asset,
                    amt,
                    src_uid,
                    1 if src_uid == master_uid else 2,
                    src_w,
                    dst_uid,
                    1 if dst_uid == master_uid else 2,
                    dst_w,
                    t,
                )
                for i, t in enumerate(times)
            ]
            state.extend_records(family=fam_recs)
            ids = [fam_recs[0].tran_id, fam_recs[-1].tran_id]
        else:
            raise ValueError("kind must be one of asset, inner, sub_inner, family")
        return {"created": count, "first_id": ids[0], "last_id": ids[1]}


def _body(raw: bytes) -> Any:
    if not raw.strip():
        return None
    try:
        return json.loads(raw, parse_float=Decimal)
    except ValueError as exc:
        raise ControlError(400, f"invalid JSON body: {exc}") from exc


def _obj(raw: bytes) -> dict[str, Any]:
    body = _body(raw)
    if not isinstance(body, dict):
        raise ControlError(400, "JSON object body required")
    return body


def handle(app: SandboxApp, method: str, path: str, query: str, raw: bytes) -> tuple[int, Any]:
    """Dispatch one control request; returns (HTTP status, JSON-able body)."""
    q = {k: v[-1] for k, v in parse_qs(query).items()}
    try:
        if path == "/_sandbox/state" and method == "GET":
            include = q.get("records", "true").lower() not in ("0", "false", "no")
            return 200, app.snapshot(include_records=include)
        if path == "/_sandbox/reset" and method == "POST":
            seed = _body(raw)
            if seed is not None and not isinstance(seed, dict):
                raise ControlError(400, "seed must be a JSON object")
            app.reset(seed)
            return 200, {"ok": True}
        if path == "/_sandbox/faults":
            if method == "GET":
                return 200, {"faults": app.faults.list()}
            if method == "DELETE":
                app.faults.clear()
                return 200, {"ok": True}
            if method == "POST":
                b = _obj(raw)
                fault = app.faults.add(
                    path=str(b["path"]),
                    mode=str(b["mode"]),
                    count=int(b.get("count", 1)),
                    code=int(b["code"]) if b.get("code") is not None else None,
                    msg=b.get("msg"),
                    delay=float(b["delay"]) if b.get("delay") is not None else None,
                )
                return 200, {"ok": True, "fault": fault.to_dict()}
        if path == "/_sandbox/clock" and method == "POST":
            b = _obj(raw)
            app.set_clock_skew(int(b["skew_ms"]))
            return 200, {"skew_ms": app.state.clock_skew_ms, "server_time_ms": app.state.now_ms()}
        if path == "/_sandbox/journal":
            if method == "GET":
                since = q.get("since_seq")
                return 200, {"calls": app.journal.list(q.get("path"), int(since) if since else None)}
            if method == "DELETE":
                app.journal.clear()
                return 200, {"ok": True}
        if path == "/_sandbox/ratelimit" and method == "GET":
            return 200, app.limiter.settings()
        if path == "/_sandbox/ratelimit" and method == "POST":
            try:
                # Validated as a whole first: a bad value answers 400 and changes nothing.
                settings: dict[str, Any] = parse_rate_limit_settings(_obj(raw))
            except ValueError as exc:
                raise ControlError(400, str(exc)) from exc
            return 200, app.set_rate_limit(**settings)
        if path == "/_sandbox/variants":
            if method == "POST":
                wanted = _obj(raw).get("variants")
                if not isinstance(wanted, list):
                    raise ControlError(400, 'body must be {"variants": [names]}')
                try:
                    app.set_variants(wanted)  # validated as a whole: a bad name changes nothing
                except ValueError as exc:
                    raise ControlError(400, str(exc)) from exc
            if method in ("GET", "POST"):
                return 200, {"variants": list(app.variants), "available": dict(VARIANT_DESCRIPTIONS)}
        if path == "/_sandbox/accounts" and method == "POST":
            return 200, app.add_account(_obj(raw))
        if path == "/_sandbox/records/bulk" and method == "POST":
            b = _obj(raw)
            return 200, app.bulk_records(
                uid=int(b["uid"]),
                kind=str(b["kind"]),
                count=int(b["count"]),
                asset=str(b.get("asset", "USDT")),
                start_time_ms=int(b["start_time_ms"]) if b.get("start_time_ms") is not None else None,
                step_ms=int(b.get("step_ms", 1000)),
                amount=str(b.get("amount", "1")),
                counterparty_uid=int(b["counterparty_uid"])
                if b.get("counterparty_uid") is not None
                else None,
                direction=str(b.get("direction", "out")),
                from_account=b.get("from_account"),
                to_account=b.get("to_account"),
            )
    except ControlError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise ControlError(400, f"bad request: {exc!r}") from exc
    raise ControlError(404, f"unknown control endpoint {method} {path}")
