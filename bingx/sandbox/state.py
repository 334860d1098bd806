"""Exchange state of the sandbox: accounts, API keys, wallets and transfer records.

Over 400 lines on purpose: the whole exchange state and every balance move live under one lock.

Everything that moves money or reads balances happens under ``SandboxState.lock`` (one re-entrant
lock) so a transfer is atomic with respect to every other request. Amounts are ``Decimal`` internally
and serialised as strings in the JSON state file.

The JSON form produced by :meth:`SandboxState.to_dict` is also a valid seed (see the package
docstring for the seed format), which is how ``--state`` persistence survives restarts.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

WALLETS: tuple[str, ...] = ("fund", "spot", "stdFutures", "USDTMPerp", "coinMPerp")

# walletType (inner transfers, §6.9/§6.11) and from/toAccountType (family transfers, §6.14).
WALLET_BY_CODE: dict[int, str] = {1: "fund", 2: "stdFutures", 3: "USDTMPerp"}
CODE_BY_WALLET: dict[str, int] = {v: k for k, v in WALLET_BY_CODE.items()}

# Legacy transfer ``type`` names (§6.7/§6.8) for the wallets that have one.
LEGACY_NAME_BY_WALLET: dict[str, str] = {"fund": "FUND", "stdFutures": "SFUTURES", "USDTMPerp": "PFUTURES"}
LEGACY_WALLET_BY_NAME: dict[str, str] = {v: k for k, v in LEGACY_NAME_BY_WALLET.items()}

# Family-history type fragments (§6.16): CAPITAL = funding, CONTRACT = std futures, SWAP = perpetual.
FAMILY_NAME_BY_WALLET: dict[str, str] = {"fund": "CAPITAL", "stdFutures": "CONTRACT", "USDTMPerp": "SWAP"}
FAMILY_SIDE_BY_TYPE: dict[int, str] = {1: "MAIN", 2: "SUB"}  # fromType/toType 1 = master, 2 = sub


def family_type(from_type: int, from_wallet: str, to_type: int, to_wallet: str) -> str:
    """The history ``type`` of a family transfer, e.g. ``MAIN_CAPITAL_TO_SUB_SWAP`` (§6.16)."""
    src, dst = FAMILY_SIDE_BY_TYPE[from_type], FAMILY_SIDE_BY_TYPE[to_type]
    return f"{src}_{FAMILY_NAME_BY_WALLET[from_wallet]}_TO_{dst}_{FAMILY_NAME_BY_WALLET[to_wallet]}"


# Every type a family record can carry, built by the one function that names records, so the history
# filter accepts exactly what the history emits. BingX's documented enum is the master ↔ sub part
# (DOCUMENTED_FAMILY_TRANSFER_TYPES, 18 names); transferAsset also allows sub → sub and master → master
# moves, whose types (``SUB_CAPITAL_TO_SUB_SWAP``, ``MAIN_SWAP_TO_MAIN_CAPITAL``…) the docs do not list.
FAMILY_TRANSFER_TYPES: tuple[str, ...] = tuple(
    family_type(a, x, b, y)
    for a in FAMILY_SIDE_BY_TYPE
    for b in FAMILY_SIDE_BY_TYPE
    for x in FAMILY_NAME_BY_WALLET
    for y in FAMILY_NAME_BY_WALLET
)
DOCUMENTED_FAMILY_TRANSFER_TYPES: frozenset[str] = frozenset(
    t for t in FAMILY_TRANSFER_TYPES if t.startswith("MAIN_") != t.split("_TO_")[1].startswith("MAIN_")
)

# Decimal places an amount may have, per asset (seed ``"precision"``); assets not listed get the default.
DEFAULT_PRECISION = 8

DEFAULT_PRICES: dict[str, str] = {"USDT": "1", "BTC": "60000", "ETH": "3000"}

# Id bases chosen to look like real BingX ids (§3: some exceed 2^53, §13 P14).
TRAN_ID_BASE = 1933130865269936128
TRANSFER_ID_BASE = 1051461075661819338791
INNER_ID_BASE = 1251111922229444400
FAMILY_ID_BASE = 1051323892566796963873


def now_ms_real() -> int:
    return int(time.time() * 1000)


def dec(value: Any) -> Decimal:
    """Parse a seed/state amount; rejects floats' binary noise by going through ``str``."""
    try:
        result = Decimal(str(value))
    except InvalidOperation as exc:
        raise ValueError(f"not a decimal amount: {value!r}") from exc
    if not result.is_finite():
        raise ValueError(f"not a finite amount: {value!r}")
    return result


def fmt_dec(value: Decimal) -> str:
    """Plain decimal text without exponent and without trailing zeros ("12.5", "0")."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def fmt_dec20(value: Decimal) -> str:
    """Amount with 20 decimal places, as BingX shows in transfer records (§6.6/§6.7/§6.16)."""
    return format(value, ".20f")


@dataclass
class Balance:
    free: Decimal = Decimal(0)
    locked: Decimal = Decimal(0)


@dataclass
class ApiKey:
    api_key: str
    secret: str
    uid: int
    permissions: set[int] = field(default_factory=set)
    ip_whitelist: list[str] = field(default_factory=list)
    note: str = ""

    def to_dict(self, *, mask_secret: bool) -> dict[str, Any]:
        return {
            "api_key": self.api_key,
            "secret": "***" if mask_secret else self.secret,
            "permissions": sorted(self.permissions),
            "ip_whitelist": list(self.ip_whitelist),
            "note": self.note,
        }


@dataclass
class Account:
    uid: int
    email: str | None = None
    phone: str | None = None
    calling_code: str | None = None
    is_master: bool = True
    master_uid: int | None = None
    sub_account_string: str | None = None
    note: str = ""
    freeze: bool = False
    create_time: int = 0
    wallets: dict[str, dict[str, Balance]] = field(default_factory=dict)
    api_keys: list[ApiKey] = field(default_factory=list)

    def balance(self, wallet: str, asset: str) -> Balance:
        """Balance row, created on demand (a wallet may receive an asset it never held)."""
        assets = self.wallets.setdefault(wallet, {})
        bal = assets.get(asset)
        if bal is None:
            bal = assets[asset] = Balance()
        return bal

    def free(self, wallet: str, asset: str) -> Decimal:
        bal = self.wallets.get(wallet, {}).get(asset)
        return bal.free if bal else Decimal(0)

    def to_dict(self, *, mask_secret: bool) -> dict[str, Any]:
        wallets: dict[str, dict[str, Any]] = {}
        for wallet in WALLETS:
            rows = self.wallets.get(wallet, {})
            wallets[wallet] = {
                asset: (
                    fmt_dec(bal.free)
                    if bal.locked == 0
                    else {"free": fmt_dec(bal.free), "locked": fmt_dec(bal.locked)}
                )
                for asset, bal in sorted(rows.items())
            }
        return {
            "uid": self.uid,
            "email": self.email,
            "phone": self.phone,
            "calling_code": self.calling_code,
            "is_master": self.is_master,
            "master_uid": self.master_uid,
            "sub_account_string": self.sub_account_string,
            "note": self.note,
            "freeze": self.freeze,
            "create_time": self.create_time,
            "wallets": wallets,
            "api_keys": [k.to_dict(mask_secret=mask_secret) for k in self.api_keys],
        }


@dataclass
class AssetTransfer:
    """Own-account wallet transfer (§6.4 new endpoint and §6.8 legacy endpoint)."""

    uid: int
    tran_id: int
    transfer_id: str
    asset: str
    amount: Decimal
    from_account: str
    to_account: str
    timestamp: int
    status: str = "CONFIRMED"

    @property
    def legacy_type(self) -> str | None:
        a = LEGACY_NAME_BY_WALLET.get(self.from_account)
        b = LEGACY_NAME_BY_WALLET.get(self.to_account)
        return f"{a}_{b}" if a and b else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "uid": self.uid,
            "tran_id": self.tran_id,
            "transfer_id": self.transfer_id,
            "asset": self.asset,
            "amount": fmt_dec(self.amount),
            "from_account": self.from_account,
            "to_account": self.to_account,
            "timestamp": self.timestamp,
            "status": self.status,
        }


@dataclass
class InnerTransfer:
    """User-to-user internal transfer: ``kind`` "inner" (§6.9, main payer) or "sub_inner" (§6.11)."""

    id: int
    kind: str
    coin: str
    amount: Decimal
    from_uid: int
    to_uid: int
    wallet: str
    time: int
    transfer_client_id: str | None = None
    status: int = 6

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "coin": self.coin,
            "amount": fmt_dec(self.amount),
            "from_uid": self.from_uid,
            "to_uid": self.to_uid,
            "wallet": self.wallet,
            "time": self.time,
            "transfer_client_id": self.transfer_client_id,
            "status": self.status,
        }


@dataclass
class FamilyTransfer:
    """Master-initiated move inside a family (§6.14)."""

    tran_id: str
    master_uid: int
    asset: str
    amount: Decimal
    from_uid: int
    from_type: int
    from_account: str
    to_uid: int
    to_type: int
    to_account: str
    timestamp: int
    remark: str = ""
    status: str = "CONFIRMED"

    @property
    def type(self) -> str:
        return family_type(self.from_type, self.from_account, self.to_type, self.to_account)

    def to_dict(self) -> dict[str, Any]:
        return {
            "tran_id": self.tran_id,
            "master_uid": self.master_uid,
            "asset": self.asset,
            "amount": fmt_dec(self.amount),
            "from_uid": self.from_uid,
            "from_type": self.from_type,
            "from_account": self.from_account,
            "to_uid": self.to_uid,
            "to_type": self.to_type,
            "to_account": self.to_account,
            "timestamp": self.timestamp,
            "remark": self.remark,
            "status": self.status,
        }


def _parse_balance(value: Any) -> Balance:
    if isinstance(value, dict):
        return Balance(dec(value.get("free", "0")), dec(value.get("locked", "0")))
    return Balance(dec(value))


def load_seed(seed: dict[str, Any] | str | Path | None) -> dict[str, Any]:
    """Seed as a dict: a dict is used as-is, a str/Path is a JSON file path, None → bundled demo seed."""
    if seed is None:
        seed = Path(__file__).parent / "seeds" / "demo.json"
    if isinstance(seed, dict):
        return seed
    with open(seed, encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
    return data


class SandboxState:
    """All mutable exchange data; guarded by ``self.lock`` (callers hold it while reading/mutating)."""

    def __init__(
        self, seed: dict[str, Any] | str | Path | None = None, *, persist_path: str | Path | None = None
    ):
        self.lock = threading.RLock()
        self.persist_path = Path(persist_path) if persist_path else None
        self.clock_skew_ms = 0
        # Injectable base clock (ms); tests may replace it, skew is added on top.
        self.base_clock: Callable[[], int] = now_ms_real
        self.original_seed = load_seed(seed)
        self.load(self.original_seed)

    # -- clock -------------------------------------------------------------------------------------
    def now_ms(self) -> int:
        return self.base_clock() + self.clock_skew_ms

    # -- loading / saving ---------------------------------------------------------------------------
    def load(self, seed: dict[str, Any]) -> None:
        with self.lock:
            self.accounts: dict[int, Account] = {}
            self.keys: dict[str, ApiKey] = {}
            self.authorised_subs: set[int] = set()
            self.asset_transfers: list[AssetTransfer] = []
            self.inner_transfers: list[InnerTransfer] = []
            self.family_transfers: list[FamilyTransfer] = []
            # (payer uid, transferClientId) → record: makes duplicate client ids idempotent in O(1).
            self.inner_by_client_id: dict[tuple[int, str], InnerTransfer] = {}
            self.prices: dict[str, Decimal] = {k: dec(v) for k, v in DEFAULT_PRICES.items()}
            self.prices.update({k: dec(v) for k, v in (seed.get("prices") or {}).items()})
            self.precision: dict[str, int] = {}
            for asset, places in (seed.get("precision") or {}).items():
                if isinstance(places, bool) or not isinstance(places, int) or not 0 <= places <= 18:
                    raise ValueError(f"precision of {asset!r} must be an integer from 0 to 18")
                self.precision[str(asset).upper()] = places
            counters = seed.get("counters") or {}
            self._seq = int(counters.get("seq", 0))
            for raw in seed.get("accounts", []):
                self.add_account(raw, persist=False)
            self.authorised_subs = {int(u) for u in seed.get("authorised_subs", [])}
            records = seed.get("records") or {}
            for r in records.get("asset", []):
                self.asset_transfers.append(self._asset_from_dict(r))
            for r in records.get("inner", []):
                self.add_inner(self._inner_from_dict(r))
            for r in records.get("family", []):
                self.family_transfers.append(self._family_from_dict(r))
            # Never reuse an id that a loaded record already holds.
            used = [r.tran_id - TRAN_ID_BASE for r in self.asset_transfers]
            used += [(r.id - INNER_ID_BASE) // 7 for r in self.inner_transfers]
            used += [int(r.tran_id) - FAMILY_ID_BASE for r in self.family_transfers]
            self._seq = max([self._seq, *used])
            self._dirty_sort = True

    def add_account(self, raw: dict[str, Any], *, persist: bool = True) -> Account:
        with self.lock:
            uid = int(raw["uid"])
            if uid in self.accounts:
                raise ValueError(f"account {uid} already exists")
            master_uid = raw.get("master_uid")
            acct = Account(
                uid=uid,
                email=raw.get("email"),
                phone=raw.get("phone"),
                calling_code=str(raw["calling_code"]) if raw.get("calling_code") is not None else None,
                is_master=bool(raw.get("is_master", master_uid is None)),
                master_uid=int(master_uid) if master_uid is not None else None,
                sub_account_string=raw.get("sub_account_string"),
                note=raw.get("note", ""),
                freeze=bool(raw.get("freeze", False)),
                create_time=int(raw.get("create_time") or 1700847351000),
            )
            for wallet, assets in (raw.get("wallets") or {}).items():
                if wallet not in WALLETS:
                    raise ValueError(f"unknown wallet {wallet!r} for uid {uid}")
                acct.wallets[wallet] = {asset.upper(): _parse_balance(v) for asset, v in assets.items()}
            for k in raw.get("api_keys", []):
                if k["api_key"] in self.keys:
                    raise ValueError(f"duplicate api_key {k['api_key']!r}")
                key = ApiKey(
                    api_key=k["api_key"],
                    secret=k["secret"],
                    uid=uid,
                    permissions={int(p) for p in k.get("permissions", [])},
                    ip_whitelist=list(k.get("ip_whitelist") or []),
                    note=k.get("note", ""),
                )
                acct.api_keys.append(key)
                self.keys[key.api_key] = key
            self.accounts[uid] = acct
            if persist:
                self.changed()
            return acct

    @staticmethod
    def _asset_from_dict(r: dict[str, Any]) -> AssetTransfer:
        return AssetTransfer(
            uid=int(r["uid"]),
            tran_id=int(r["tran_id"]),
            transfer_id=str(r["transfer_id"]),
            asset=r["asset"],
            amount=dec(r["amount"]),
            from_account=r["from_account"],
            to_account=r["to_account"],
            timestamp=int(r["timestamp"]),
            status=r.get("status", "CONFIRMED"),
        )

    @staticmethod
    def _inner_from_dict(r: dict[str, Any]) -> InnerTransfer:
        return InnerTransfer(
            id=int(r["id"]),
            kind=r.get("kind", "inner"),
            coin=r["coin"],
            amount=dec(r["amount"]),
            from_uid=int(r["from_uid"]),
            to_uid=int(r["to_uid"]),
            wallet=r.get("wallet", "fund"),
            time=int(r["time"]),
            transfer_client_id=r.get("transfer_client_id"),
            status=int(r.get("status", 6)),
        )

    @staticmethod
    def _family_from_dict(r: dict[str, Any]) -> FamilyTransfer:
        return FamilyTransfer(
            tran_id=str(r["tran_id"]),
            master_uid=int(r["master_uid"]),
            asset=r["asset"],
            amount=dec(r["amount"]),
            from_uid=int(r["from_uid"]),
            from_type=int(r["from_type"]),
            from_account=r["from_account"],
            to_uid=int(r["to_uid"]),
            to_type=int(r["to_type"]),
            to_account=r["to_account"],
            timestamp=int(r["timestamp"]),
            remark=r.get("remark", ""),
            status=r.get("status", "CONFIRMED"),
        )

    def to_dict(self, *, mask_secrets: bool = False, include_records: bool = True) -> dict[str, Any]:
        with self.lock:
            out: dict[str, Any] = {
                "accounts": [a.to_dict(mask_secret=mask_secrets) for a in self.accounts.values()],
                "authorised_subs": sorted(self.authorised_subs),
                "prices": {k: fmt_dec(v) for k, v in self.prices.items()},
                "precision": dict(sorted(self.precision.items())),
                "counters": {"seq": self._seq},
                "clock_skew_ms": self.clock_skew_ms,
            }
            if include_records:
                out["records"] = {
                    "asset": [r.to_dict() for r in self.asset_transfers],
                    "inner": [r.to_dict() for r in self.inner_transfers],
                    "family": [r.to_dict() for r in self.family_transfers],
                }
            else:
                out["record_counts"] = {
                    "asset": len(self.asset_transfers),
                    "inner": len(self.inner_transfers),
                    "family": len(self.family_transfers),
                }
            return out

    def changed(self) -> None:
        """Called after every mutation; persists atomically when a state file is configured."""
        self._dirty_sort = True
        if self.persist_path is not None:
            self.save(self.persist_path)

    def save(self, path: str | Path) -> None:
        with self.lock:
            data = self.to_dict(mask_secrets=False)
            target = Path(path)
            target.parent.mkdir(parents=True, exist_ok=True)
            # Write to a temp file in the same directory and rename: a crash never leaves half a file.
            fd, tmp = tempfile.mkstemp(prefix=target.name + ".", suffix=".tmp", dir=target.parent)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    json.dump(data, fh, separators=(",", ":"))
                os.replace(tmp, target)
            except BaseException:
                if os.path.exists(tmp):
                    os.unlink(tmp)
                raise

    # -- ids ----------------------------------------------------------------------------------------
    def next_seq(self, n: int = 1) -> int:
        """Reserve ``n`` consecutive sequence numbers and return the first one."""
        with self.lock:
            first = self._seq + 1
            self._seq += n
            return first

    # -- lookups ------------------------------------------------------------------------------------
    def account(self, uid: int) -> Account | None:
        return self.accounts.get(uid)

    def subs_of(self, master_uid: int) -> list[Account]:
        return sorted((a for a in self.accounts.values() if a.master_uid == master_uid), key=lambda a: a.uid)

    def find_payee(self, account_type: int, account: str, calling_code: str | None) -> Account | None:
        for acct in self.accounts.values():
            if account_type == 1 and str(acct.uid) == account:
                return acct
            if (
                account_type == 2
                and acct.phone == account
                and (acct.calling_code or "") == (calling_code or "")
            ):
                return acct
            if account_type == 3 and acct.email and acct.email.lower() == account.lower():
                return acct
        return None

    def precision_of(self, asset: str) -> int:
        """Decimal places ``asset`` amounts may carry (seed ``"precision"``, else DEFAULT_PRECISION)."""
        return self.precision.get(asset, DEFAULT_PRECISION)

    def value_usdt(self, acct: Account, wallet: str) -> Decimal:
        total = Decimal(0)
        for asset, bal in acct.wallets.get(wallet, {}).items():
            total += (bal.free + bal.locked) * self.prices.get(asset, Decimal(0))
        return total

    # -- money movement -----------------------------------------------------------------------------
    def move(
        self, src: Account, src_wallet: str, dst: Account, dst_wallet: str, asset: str, amount: Decimal
    ) -> bool:
        """Atomically move ``amount`` of free balance; False (and nothing changes) when insufficient."""
        with self.lock:
            if src.free(src_wallet, asset) < amount:
                return False
            src.balance(src_wallet, asset).free -= amount
            dst.balance(dst_wallet, asset).free += amount
            return True

    def add_inner(self, rec: InnerTransfer) -> None:
        self.inner_transfers.append(rec)
        if rec.transfer_client_id:
            self.inner_by_client_id.setdefault((rec.from_uid, rec.transfer_client_id), rec)

    def sorted_records(self) -> None:
        """Keep record lists newest-first by (time, id) so paging is deterministic."""
        if not getattr(self, "_dirty_sort", True):
            return
        self.asset_transfers.sort(key=lambda r: (r.timestamp, r.tran_id), reverse=True)
        self.inner_transfers.sort(key=lambda r: (r.time, r.id), reverse=True)
        self.family_transfers.sort(key=lambda r: (r.timestamp, int(r.tran_id)), reverse=True)
        self._dirty_sort = False

    def extend_records(
        self,
        asset: Iterable[AssetTransfer] = (),
        inner: Iterable[InnerTransfer] = (),
        family: Iterable[FamilyTransfer] = (),
    ) -> None:
        with self.lock:
            self.asset_transfers.extend(asset)
            for rec in inner:
                self.add_inner(rec)
            self.family_transfers.extend(family)
            self.changed()
