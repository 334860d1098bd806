"""One handler per BingX endpoint (spec §5/§6), and the route table pairing each handler with its
:mod:`bingx.endpoints` entry (which holds method, path, transport, permission and per-UID rate limit).
Over 400 lines on purpose: one handler per endpoint, side by side with the route table.

Handlers run with the state lock held (the app takes it), so every balance check + move is atomic.
They raise :class:`ApiError` for BingX errors and return a :class:`Reply` otherwise.

Record order (all record endpoints): newest first by (time, id), ties broken by id descending, so
paging is deterministic as long as no new transfer arrives between page requests.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

from .. import endpoints as registry
from ..endpoints import Endpoint
from .envelopes import MSG_INSUFFICIENT, MSG_INVALID, ApiError, Reply, std
from .state import (
    CODE_BY_WALLET,
    FAMILY_ID_BASE,
    FAMILY_NAME_BY_WALLET,
    FAMILY_TRANSFER_TYPES,
    INNER_ID_BASE,
    LEGACY_WALLET_BY_NAME,
    TRAN_ID_BASE,
    TRANSFER_ID_BASE,
    WALLET_BY_CODE,
    WALLETS,
    Account,
    ApiKey,
    AssetTransfer,
    FamilyTransfer,
    InnerTransfer,
    SandboxState,
    fmt_dec,
    fmt_dec20,
)

LEGACY_TRANSFER_TYPES = (
    "FUND_SFUTURES",
    "SFUTURES_FUND",
    "FUND_PFUTURES",
    "PFUTURES_FUND",
    "SFUTURES_PFUTURES",
    "PFUTURES_SFUTURES",
)
LEGACY_RECORD_TYPES = (
    *LEGACY_TRANSFER_TYPES,
    "FUND_STRADING",
    "STRADING_FUND",
    "FUND_CTRADING",
    "SFUTURES_CTRADING",
    "PFUTURES_CTRADING",
    "CTRADING_FUND",
    "CTRADING_SFUTURES",
    "CTRADING_PFUTURES",
)
OVERVIEW_TYPES = (
    "spot",
    "sopt",
    "stdFutures",
    "coinMPerp",
    "USDTMPerp",
    "copyTrading",
    "grid",
    "eran",
    "c2c",
)

_AMOUNT_RE = re.compile(r"^[0-9]+(\.[0-9]+)?$")
# Asset names: upper-case letters and digits (after upper-casing the input, as BingX accepts "usdt").
_ASSET_RE = re.compile(r"^[A-Z0-9]{1,20}$")
# UIDs: positive integers of at most 19 digits (int64).
_UID_RE = re.compile(r"^[0-9]{1,19}$")
_CLIENT_ID_STRICT = re.compile(r"^[A-Za-z0-9]{1,99}$")
_CLIENT_ID_LENIENT = re.compile(r"^[A-Za-z0-9_\-]{1,99}$")


@dataclass
class Ctx:
    state: SandboxState
    params: dict[str, str]
    now: int
    strict: bool
    path: str
    key: ApiKey | None = None

    @property
    def account(self) -> Account:
        assert self.key is not None
        acct = self.state.accounts[self.key.uid]
        return acct

    # -- parameter helpers ------------------------------------------------------------------------
    def opt(self, name: str) -> str | None:
        value = self.params.get(name)
        return None if value is None or value == "" else value

    def req(self, name: str) -> str:
        value = self.opt(name)
        if value is None:
            raise ApiError(100400, f"miss arguments: {name}")
        return value

    def int_opt(
        self, name: str, default: int | None = None, lo: int | None = None, hi: int | None = None
    ) -> int:
        text = self.opt(name)
        if text is None:
            if default is None:
                raise ApiError(100400, f"miss arguments: {name}")
            return default
        if not re.fullmatch(r"-?[0-9]+", text):
            raise invalid(f"{name} must be an integer")
        value = int(text)
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise invalid(f"{name} out of range")
        return value

    def int_req(self, name: str, lo: int | None = None, hi: int | None = None) -> int:
        self.req(name)
        return self.int_opt(name, lo=lo, hi=hi)

    def amount(self, name: str, asset: str) -> Decimal:
        text = self.req(name)
        # Plain decimal text only: no sign, no exponent ("1e3"), no "NaN"; must be > 0.
        if not _AMOUNT_RE.match(text):
            raise invalid(f"{name} is not a valid amount")
        value = Decimal(text)
        if value <= 0:
            raise invalid(f"{name} must be greater than 0")
        # At most the asset's precision in decimal places (trailing zeros do not count): never round.
        places = self.state.precision_of(asset)
        exponent = value.normalize().as_tuple().exponent
        if isinstance(exponent, int) and -exponent > places:
            raise invalid(f"{name} has more than {places} decimal places, the precision of {asset}")
        return value

    def asset(self, name: str) -> str:
        return asset_name(name, self.req(name))

    def asset_opt(self, name: str) -> str | None:
        text = self.opt(name)
        return None if text is None else asset_name(name, text)

    def uid_req(self, name: str) -> int:
        return uid_value(name, self.req(name))

    def uid_opt(self, name: str) -> int | None:
        text = self.opt(name)
        return None if text is None else uid_value(name, text)

    def time_opt(self, name: str) -> int | None:
        """A millisecond time filter: absent → None; negative or not an integer → 80014."""
        if self.opt(name) is None:
            return None
        value = self.int_opt(name)
        if value < 0:
            raise invalid(f"{name} must not be negative")
        return value


def invalid(detail: str) -> ApiError:
    return ApiError(80014, f"{MSG_INVALID}, err: {detail}")


def asset_name(name: str, text: str) -> str:
    asset = text.upper()
    if not _ASSET_RE.match(asset):
        raise invalid(f"{name} must be 1 to 20 letters or digits")
    return asset


def uid_value(name: str, text: str) -> int:
    """A UID parameter: a positive integer (digits only, no sign), else 80014."""
    if not _UID_RE.match(text) or int(text) <= 0:
        raise invalid(f"{name} must be a positive integer")
    return int(text)


def not_master() -> ApiError:
    return ApiError(100004, "Permission denied: this api is only available for master accounts")


def not_sub() -> ApiError:
    return ApiError(100004, "Permission denied: the user who signs this api must be a sub-account")


T = TypeVar("T")


def page(rows: Sequence[T], start: int, size: int) -> list[T]:
    return list(rows[start : start + size])


def in_range(t: int, start: int | None, end: int | None) -> bool:
    return (start is None or t >= start) and (end is None or t <= end)


def time_filters(ctx: Ctx) -> tuple[int | None, int | None]:
    return ctx.time_opt("startTime"), ctx.time_opt("endTime")


def balance_rows(acct: Account, wallet: str, asset: str | None = None) -> list[dict[str, Any]]:
    rows = []
    for name, bal in sorted(acct.wallets.get(wallet, {}).items()):
        if asset is not None and name != asset:
            continue
        rows.append(
            {"asset": name, "displayName": name, "free": fmt_dec(bal.free), "locked": fmt_dec(bal.locked)}
        )
    return rows


def insufficient() -> ApiError:
    return ApiError(100202, MSG_INSUFFICIENT)


# ---------------------------------------------------------------------------------------------------
# public / identity
# ---------------------------------------------------------------------------------------------------
def server_time(ctx: Ctx) -> Reply:
    return Reply({"code": 0, "msg": "", "timestamp": ctx.now, "data": {"serverTime": ctx.now}})


def account_uid(ctx: Ctx) -> Reply:
    return Reply(std({"uid": ctx.account.uid}, ctx.now))


def api_permissions(ctx: Ctx) -> Reply:
    assert ctx.key is not None
    # Bare object per the docs example (§4, §6.18).
    return Reply(
        {
            "apiKey": ctx.key.api_key,
            "permissions": sorted(ctx.key.permissions),
            "ipAddresses": list(ctx.key.ip_whitelist),
            "note": ctx.key.note,
        }
    )


# ---------------------------------------------------------------------------------------------------
# balances
# ---------------------------------------------------------------------------------------------------
def spot_balance(ctx: Ctx) -> Reply:
    return Reply(std({"balances": balance_rows(ctx.account, "spot")}, ctx.now, debug_msg=True))


def fund_balance(ctx: Ctx) -> Reply:
    asset = ctx.asset_opt("asset")
    # Production answers `data.assets` although the docs say `balances` (§6.2, P9).
    return Reply(std({"assets": balance_rows(ctx.account, "fund", asset)}, ctx.now))


def _overview(state: SandboxState, acct: Account, account_type: str | None) -> list[dict[str, str]]:
    # "spot" in this endpoint's enum means the funding account (docs: "spot: spot (fund account)");
    # the docs example spells it "sopt", so that is what the sandbox emits.
    values: dict[str, Decimal] = {
        "sopt": state.value_usdt(acct, "fund"),
        "stdFutures": state.value_usdt(acct, "stdFutures"),
        "coinMPerp": state.value_usdt(acct, "coinMPerp"),
        "USDTMPerp": state.value_usdt(acct, "USDTMPerp"),
        "copyTrading": Decimal(0),
        "grid": Decimal(0),
        "eran": Decimal(0),
        "c2c": Decimal(0),
    }
    if account_type is not None:
        wanted = "sopt" if account_type in ("spot", "sopt") else account_type
        values = {wanted: values[wanted]}
    return [{"accountType": k, "usdtBalance": fmt_dec(v)} for k, v in values.items()]


def all_account_balance(ctx: Ctx) -> Reply:
    account_type = ctx.opt("accountType")
    if account_type is not None and account_type not in OVERVIEW_TYPES:
        raise invalid("accountType")
    result = _overview(ctx.state, ctx.account, account_type)
    return Reply(std({"result": result, "pageId": 1, "total": len(result)}, ctx.now))


# ---------------------------------------------------------------------------------------------------
# own-account transfers
# ---------------------------------------------------------------------------------------------------
def _new_asset_transfer(ctx: Ctx, asset: str, amount: Decimal, src: str, dst: str) -> AssetTransfer:
    seq = ctx.state.next_seq()
    rec = AssetTransfer(
        uid=ctx.account.uid,
        tran_id=TRAN_ID_BASE + seq,
        transfer_id=str(TRANSFER_ID_BASE + seq),
        asset=asset,
        amount=amount,
        from_account=src,
        to_account=dst,
        timestamp=ctx.now,
    )
    ctx.state.asset_transfers.append(rec)
    return rec


def asset_transfer(ctx: Ctx) -> Reply:
    src = ctx.req("fromAccount")
    dst = ctx.req("toAccount")
    asset = ctx.asset("asset")
    amount = ctx.amount("amount", asset)

    def fail(msg: str) -> Reply:
        # Business failures arrive with code 0 and data.transferErrorMsg (§6.4, P8).
        # "Insufficient assets" counts toward the 100202 lockout (§9) like a raised 100202.
        return Reply(
            std({"transferErrorMsg": msg}, ctx.now), msg=msg, insufficient=msg == "Insufficient assets"
        )

    if src not in WALLETS or dst not in WALLETS or src == dst:
        return fail("illegal transferType")
    acct = ctx.account
    if not ctx.state.move(acct, src, acct, dst, asset, amount):
        return fail("Insufficient assets")
    rec = _new_asset_transfer(ctx, asset, amount, src, dst)
    return Reply(
        std({"tranId": rec.tran_id, "transferId": rec.transfer_id}, ctx.now),
        applied=True,
        transfer_id=rec.transfer_id,
    )


def asset_support_coins(ctx: Ctx) -> Reply:
    src = ctx.req("fromAccount")
    dst = ctx.req("toAccount")
    if src not in WALLETS or dst not in WALLETS or src == dst:
        raise invalid("illegal transferType")
    coins = [
        {"asset": asset, "amount": fmt_dec(bal.free)}
        for asset, bal in sorted(ctx.account.wallets.get(src, {}).items())
        if bal.free > 0
    ]
    return Reply(std({"coins": coins}, ctx.now, debug_msg=True))


def transfer_record(ctx: Ctx) -> Reply:
    src = ctx.opt("fromAccount")
    dst = ctx.opt("toAccount")
    wanted_id = ctx.opt("transferId") or ctx.opt("tranId")
    if wanted_id is None and dst is None:
        raise ApiError(100400, "miss arguments: toAccount or transferId")
    for name in (src, dst):
        if name is not None and name not in WALLETS:
            raise invalid("illegal account type")
    page_index = ctx.int_opt("pageIndex", 1, lo=1)
    page_size = ctx.int_opt("pageSize", 10, lo=1, hi=100)
    start, end = time_filters(ctx)
    uid = ctx.account.uid
    ctx.state.sorted_records()
    rows = [
        r
        for r in ctx.state.asset_transfers
        if r.uid == uid
        and (src is None or r.from_account == src)
        and (dst is None or r.to_account == dst)
        and (wanted_id is None or wanted_id in (r.transfer_id, str(r.tran_id)))
        and in_range(r.timestamp, start, end)
    ]
    out = [
        {
            "asset": r.asset,
            "amount": fmt_dec20(r.amount),
            "status": r.status,
            "transferId": r.transfer_id,
            "timestamp": r.timestamp,
            "fromAccount": r.from_account,
            "toAccount": r.to_account,
        }
        for r in page(rows, (page_index - 1) * page_size, page_size)
    ]
    return Reply({"total": len(rows), "rows": out})


def legacy_transfer_records(ctx: Ctx) -> Reply:
    type_ = ctx.opt("type")
    tran_id = ctx.opt("tranId")
    if type_ is None and tran_id is None:
        raise ApiError(100400, "miss arguments: type")
    if type_ is not None and type_ not in LEGACY_RECORD_TYPES:
        raise invalid("type")
    current = ctx.int_opt("current", 1, lo=1)
    size = ctx.int_opt("size", 10, lo=1, hi=100)
    start, end = time_filters(ctx)
    uid = ctx.account.uid
    ctx.state.sorted_records()
    rows = [
        r
        for r in ctx.state.asset_transfers
        if r.uid == uid
        and r.legacy_type is not None
        and (type_ is None or r.legacy_type == type_)
        and (tran_id is None or tran_id == str(r.tran_id))
        and in_range(r.timestamp, start, end)
    ]
    out = [
        {
            "asset": r.asset,
            "amount": fmt_dec20(r.amount),
            "type": r.legacy_type,
            "status": r.status,
            "tranId": r.tran_id,
            "timestamp": r.timestamp,
        }
        for r in page(rows, (current - 1) * size, size)
    ]
    return Reply({"total": len(rows), "rows": out})


def legacy_transfer(ctx: Ctx) -> Reply:
    type_ = ctx.req("type")
    asset = ctx.asset("asset")
    amount = ctx.amount("amount", asset)
    if type_ not in LEGACY_TRANSFER_TYPES:
        raise invalid("type")
    a, b = type_.split("_")
    src, dst = LEGACY_WALLET_BY_NAME[a], LEGACY_WALLET_BY_NAME[b]
    acct = ctx.account
    if not ctx.state.move(acct, src, acct, dst, asset, amount):
        raise insufficient()
    rec = _new_asset_transfer(ctx, asset, amount, src, dst)
    return Reply({"tranId": rec.tran_id}, applied=True, transfer_id=str(rec.tran_id))


# ---------------------------------------------------------------------------------------------------
# inner transfers (user to user)
# ---------------------------------------------------------------------------------------------------
def _inner_apply(ctx: Ctx, kind: str) -> Reply:
    payer = ctx.account
    if kind == "inner" and not payer.is_master:
        raise not_master()
    if kind == "sub_inner" and payer.is_master:
        raise not_sub()
    coin = ctx.asset("coin")
    account_type = ctx.int_req("userAccountType")
    if account_type not in (1, 2, 3):
        raise invalid("userAccountType")
    user_account = ctx.req("userAccount")
    if account_type == 1:
        user_account = str(ctx.uid_req("userAccount"))
    amount = ctx.amount("amount", coin)
    wallet_type = ctx.int_req("walletType")
    if wallet_type not in WALLET_BY_CODE:
        raise invalid("walletType")
    calling_code = ctx.opt("callingCode")
    if account_type == 2 and calling_code is None:
        raise ApiError(100400, "miss arguments: callingCode")
    client_id = ctx.opt("transferClientId")
    if client_id is not None:
        pattern = _CLIENT_ID_STRICT if ctx.strict else _CLIENT_ID_LENIENT
        if not pattern.match(client_id):
            raise invalid("transferClientId must be letters and digits, shorter than 100 characters")
        original = ctx.state.inner_by_client_id.get((payer.uid, client_id))
        if original is not None:
            # Idempotency: a repeated transferClientId never moves money again; answer the original id.
            return Reply(
                std({"id": str(original.id), "transferClientId": client_id}, ctx.now),
                transfer_id=str(original.id),
            )
    payee = ctx.state.find_payee(account_type, user_account, calling_code)
    if payee is None:
        raise invalid("the receiving account does not exist")
    if payee.uid == payer.uid:
        raise invalid("cannot transfer to yourself")
    if kind == "inner":
        if not (payee.is_master or payee.master_uid == payer.uid):
            raise invalid(
                "transfers are only allowed between main accounts and from a main account to its sub-accounts"
            )
    else:
        if payee.uid == payer.master_uid:
            pass  # sub → own master is allowed by default (§6.13)
        elif payee.master_uid is not None and payee.master_uid == payer.master_uid:
            if payer.uid not in ctx.state.authorised_subs:
                raise ApiError(100004, "Permission denied: sub-account internal transfer is not authorised")
        else:
            raise invalid(
                "sub-accounts may only transfer to their master or to sub-accounts of the same master"
            )
    wallet = WALLET_BY_CODE[wallet_type]
    # The receiver is credited in the funding account.
    if not ctx.state.move(payer, wallet, payee, "fund", coin, amount):
        raise insufficient()
    rec = InnerTransfer(
        id=INNER_ID_BASE + ctx.state.next_seq() * 7,
        kind=kind,
        coin=coin,
        amount=amount,
        from_uid=payer.uid,
        to_uid=payee.uid,
        wallet=wallet,
        time=ctx.now,
        transfer_client_id=client_id,
    )
    ctx.state.add_inner(rec)
    return Reply(
        std({"id": str(rec.id), "transferClientId": client_id or ""}, ctx.now),
        applied=True,
        transfer_id=str(rec.id),
    )


def inner_transfer_apply(ctx: Ctx) -> Reply:
    return _inner_apply(ctx, "inner")


def sub_inner_transfer_apply(ctx: Ctx) -> Reply:
    return _inner_apply(ctx, "sub_inner")


def _inner_records(ctx: Ctx) -> Reply:
    coin = ctx.asset("coin")
    wanted_id = ctx.opt("id")
    client_id = ctx.opt("transferClientId")
    start, end = time_filters(ctx)
    offset = ctx.int_opt("offset", 0, lo=0)
    limit = ctx.int_opt("limit", 100, lo=1, hi=1000)
    uid = ctx.account.uid
    ctx.state.sorted_records()
    rows = []
    for r in ctx.state.inner_transfers:
        if r.coin != coin or (r.from_uid != uid and r.to_uid != uid) or not in_range(r.time, start, end):
            continue
        if wanted_id is not None:
            # The platform id wins when both are given (§6.10).
            if str(r.id) != wanted_id:
                continue
        elif client_id is not None and not (r.from_uid == uid and r.transfer_client_id == client_id):
            continue
        rows.append(r)
    out = []
    for r in page(rows, offset, limit):
        out_record = r.from_uid == uid
        out.append(
            {
                "id": r.id,
                "coin": r.coin,
                "receiver": r.to_uid,
                "amount": Decimal(fmt_dec(r.amount)),
                "time": r.time,
                "status": r.status,
                "transferClientId": (r.transfer_client_id or "") if out_record else "",
                "fromUid": r.from_uid,
                "recordType": "out" if out_record else "in",
            }
        )
    return Reply(std({"data": out, "total": len(rows)}, ctx.now))


def inner_transfer_records(ctx: Ctx) -> Reply:
    if not ctx.account.is_master:
        raise not_master()
    return _inner_records(ctx)


def sub_inner_transfer_records(ctx: Ctx) -> Reply:
    if ctx.account.is_master:
        raise not_sub()
    return _inner_records(ctx)


def authorize_sub_account(ctx: Ctx) -> Reply:
    master = ctx.account
    if not master.is_master:
        raise not_master()
    raw = ctx.req("subUids")
    transferable_text = ctx.req("transferable")
    if transferable_text not in ("true", "false"):
        raise invalid("transferable must be true or false")
    uids: list[int] = []
    for part in raw.split(","):
        uid = uid_value("subUids", part)  # no spaces: each item is a bare positive integer
        sub = ctx.state.account(uid)
        if sub is None or sub.master_uid != master.uid:
            raise invalid(f"{uid} is not a sub-account of this account")
        uids.append(sub.uid)
    if transferable_text == "true":
        ctx.state.authorised_subs.update(uids)
    else:
        ctx.state.authorised_subs.difference_update(uids)
    ctx.state.changed()
    return Reply(std(True, ctx.now))


# ---------------------------------------------------------------------------------------------------
# family (master ↔ sub) transfers — JSON endpoints
# ---------------------------------------------------------------------------------------------------
def _family_member(ctx: Ctx, uid_name: str, type_name: str | None) -> Account:
    master = ctx.account
    uid = ctx.uid_req(uid_name)
    acct = ctx.state.account(uid)
    if acct is None or not (acct.uid == master.uid or acct.master_uid == master.uid):
        raise invalid(f"{uid_name} is not this account or one of its sub-accounts")
    if type_name is not None:
        type_ = ctx.int_req(type_name)
        if type_ not in (1, 2):
            raise invalid(type_name)
        if (type_ == 1) != (acct.uid == master.uid):
            raise invalid(f"{type_name} does not match {uid_name}")
    return acct


def _family_wallet(ctx: Ctx, name: str) -> str:
    code = ctx.int_req(name)
    if code not in WALLET_BY_CODE:
        raise invalid(name)
    return WALLET_BY_CODE[code]


def sub_transfer_asset(ctx: Ctx) -> Reply:
    master = ctx.account
    if not master.is_master:
        raise not_master()
    asset = ctx.asset("assetName")
    amount = ctx.amount("transferAmount", asset)
    src = _family_member(ctx, "fromUid", "fromType")
    src_wallet = _family_wallet(ctx, "fromAccountType")
    dst = _family_member(ctx, "toUid", "toType")
    dst_wallet = _family_wallet(ctx, "toAccountType")
    # remark is "required" in the docs table but absent from the docs' own payload example.
    remark = ctx.req("remark") if ctx.strict else (ctx.opt("remark") or "")
    if src.uid == dst.uid and src_wallet == dst_wallet:
        raise invalid("from and to are the same account")
    if not ctx.state.move(src, src_wallet, dst, dst_wallet, asset, amount):
        raise insufficient()
    rec = FamilyTransfer(
        tran_id=str(FAMILY_ID_BASE + ctx.state.next_seq()),
        master_uid=master.uid,
        asset=asset,
        amount=amount,
        from_uid=src.uid,
        from_type=1 if src.uid == master.uid else 2,
        from_account=src_wallet,
        to_uid=dst.uid,
        to_type=1 if dst.uid == master.uid else 2,
        to_account=dst_wallet,
        timestamp=ctx.now,
        remark=remark,
    )
    ctx.state.family_transfers.append(rec)
    inner = {"code": 0, "timestamp": ctx.now, "data": {"tranId": rec.tran_id}}
    # Double-wrapped per the docs (§4, §6.14).
    return Reply(std(inner, ctx.now), applied=True, transfer_id=rec.tran_id)


def sub_transfer_support_coins(ctx: Ctx) -> Reply:
    master = ctx.account
    if not master.is_master:
        raise not_master()
    src = _family_member(ctx, "fromUid", None)
    src_wallet = _family_wallet(ctx, "fromAccountType")
    _family_member(ctx, "toUid", None)
    _family_wallet(ctx, "toAccountType")
    coins = []
    for i, (asset, bal) in enumerate(sorted(src.wallets.get(src_wallet, {}).items()), start=1):
        if bal.free <= 0:
            continue
        coins.append(
            {
                "id": i,
                "name": asset,
                "showName": asset,
                "icon": {"id": i, "uri": ""},
                "type": 0,
                "fiatSymbol": "$",
                "availableAmount": fmt_dec(bal.free),
                "usdtRate": fmt_dec(ctx.state.prices.get(asset, Decimal(0))),
            }
        )
    return Reply(std({"coins": coins}, ctx.now))


def sub_transfer_history(ctx: Ctx) -> Reply:
    master = ctx.account
    if not master.is_master:
        raise not_master()
    member = _family_member(ctx, "uid", None)
    type_ = ctx.opt("type")
    if type_ is not None and type_ not in FAMILY_TRANSFER_TYPES:
        raise invalid("type")
    tran_id = ctx.opt("tranId")
    start, end = time_filters(ctx)
    page_id = ctx.int_opt("pageId", 1, lo=1)
    paging_size = ctx.int_opt("pagingSize", 10, lo=1, hi=100)
    ctx.state.sorted_records()
    rows = [
        r
        for r in ctx.state.family_transfers
        if r.master_uid == master.uid
        and member.uid in (r.from_uid, r.to_uid)
        and (type_ is None or r.type == type_)
        and (tran_id is None or r.tran_id == tran_id)
        and in_range(r.timestamp, start, end)
    ]
    out = [
        {
            "asset": r.asset,
            "amount": fmt_dec20(r.amount),
            "type": r.type,
            "status": r.status,
            "tranId": r.tran_id,
            "timestamp": r.timestamp,
            "fromUid": r.from_uid,
            "toUid": r.to_uid,
        }
        for r in page(rows, (page_id - 1) * paging_size, paging_size)
    ]
    return Reply({"total": len(rows), "rows": out})


# ---------------------------------------------------------------------------------------------------
# sub-account management (read side)
# ---------------------------------------------------------------------------------------------------
def sub_account_list(ctx: Ctx) -> Reply:
    master = ctx.account
    if not master.is_master:
        raise not_master()
    page_no = ctx.int_req("page", lo=1)
    limit = ctx.int_req("limit", lo=1, hi=1000)
    sub_uid = ctx.uid_opt("subUid")
    sub_string = ctx.opt("subAccountString")
    freeze = ctx.opt("isFeeze")
    if freeze is not None and freeze not in ("true", "false"):
        raise invalid("isFeeze")
    subs = [
        s
        for s in ctx.state.subs_of(master.uid)
        if (sub_uid is None or s.uid == sub_uid)
        and (sub_string is None or s.sub_account_string == sub_string)
        and (freeze is None or s.freeze == (freeze == "true"))
    ]
    result = [
        {
            "subUid": str(s.uid),
            "subAccountString": s.sub_account_string or "",
            "note": s.note,
            "freeze": s.freeze,
            "createTime": s.create_time,
        }
        for s in page(subs, (page_no - 1) * limit, limit)
    ]
    return Reply(std({"result": result, "pageId": page_no, "total": len(subs)}, ctx.now))


def _own_sub(ctx: Ctx, uid: int) -> Account:
    sub = ctx.state.account(uid)
    if sub is None or sub.master_uid != ctx.account.uid:
        raise invalid("subUid is not a sub-account of this account")
    return sub


def sub_account_assets(ctx: Ctx) -> Reply:
    if not ctx.account.is_master:
        raise not_master()
    sub = _own_sub(ctx, ctx.uid_req("subUid"))
    # Numbers, not strings, in this endpoint's docs example (§6.17).
    balances = [
        {"asset": asset, "free": Decimal(fmt_dec(bal.free)), "locked": Decimal(fmt_dec(bal.locked))}
        for asset, bal in sorted(sub.wallets.get("fund", {}).items())
    ]
    return Reply(std({"balances": balances}, ctx.now))


def sub_all_account_balance(ctx: Ctx) -> Reply:
    master = ctx.account
    if not master.is_master:
        raise not_master()
    page_index = ctx.int_req("pageIndex", lo=1)
    page_size = ctx.int_req("pageSize", lo=1, hi=10)
    account_type = ctx.opt("accountType")
    if account_type is not None and account_type not in OVERVIEW_TYPES:
        raise invalid("accountType")
    sub_uid = ctx.uid_opt("subUid")
    subs = [_own_sub(ctx, sub_uid)] if sub_uid is not None else ctx.state.subs_of(master.uid)
    result = [
        {"subUid": str(s.uid), "accountBalances": _overview(ctx.state, s, account_type)}
        for s in page(subs, (page_index - 1) * page_size, page_size)
    ]
    return Reply(std({"result": result, "pageId": page_index, "total": len(subs)}, ctx.now))


# ---------------------------------------------------------------------------------------------------
# route table: one handler per registry endpoint
# ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Route:
    """A :class:`bingx.endpoints.Endpoint` served by ``handler``. Method, path, transport, the required
    API-key permission and the per-UID rate limit all come from the endpoint table."""

    endpoint: Endpoint
    handler: Callable[[Ctx], Reply]

    @property
    def method(self) -> str:
        return self.endpoint.method

    @property
    def path(self) -> str:
        return self.endpoint.path


ROUTES: dict[str, Route] = {
    r.path: r
    for r in (
        Route(registry.SERVER_TIME, server_time),
        Route(registry.SPOT_SERVER_TIME, server_time),
        Route(registry.ACCOUNT_UID, account_uid),
        Route(registry.API_PERMISSIONS, api_permissions),
        Route(registry.SPOT_BALANCE, spot_balance),
        Route(registry.FUND_BALANCE, fund_balance),
        Route(registry.ASSET_OVERVIEW, all_account_balance),
        Route(registry.ASSET_TRANSFER, asset_transfer),
        Route(registry.ASSET_TRANSFER_SUPPORT_COINS, asset_support_coins),
        Route(registry.TRANSFER_RECORDS, transfer_record),
        Route(registry.LEGACY_TRANSFER_RECORDS, legacy_transfer_records),
        Route(registry.LEGACY_TRANSFER, legacy_transfer),
        Route(registry.INNER_TRANSFER_APPLY, inner_transfer_apply),
        Route(registry.INNER_TRANSFER_RECORDS, inner_transfer_records),
        Route(registry.SUB_INNER_TRANSFER_APPLY, sub_inner_transfer_apply),
        Route(registry.SUB_INNER_TRANSFER_RECORDS, sub_inner_transfer_records),
        Route(registry.AUTHORIZE_SUB_ACCOUNT, authorize_sub_account),
        Route(registry.SUB_TRANSFER_ASSET, sub_transfer_asset),
        Route(registry.SUB_TRANSFER_SUPPORT_COINS, sub_transfer_support_coins),
        Route(registry.SUB_TRANSFER_HISTORY, sub_transfer_history),
        Route(registry.SUB_ACCOUNT_LIST, sub_account_list),
        Route(registry.SUB_ACCOUNT_ASSETS, sub_account_assets),
        Route(registry.SUB_ALL_ACCOUNT_BALANCE, sub_all_account_balance),
    )
}

__all__ = ["CODE_BY_WALLET", "FAMILY_NAME_BY_WALLET", "ROUTES", "Ctx", "Route"]
