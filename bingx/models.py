"""Typed, frozen results returned by :class:`bingx.Client`.

Over 400 lines on purpose: one small dataclass per response shape, each next to its parser; split
up they would only be harder to compare with the spec.

Conventions: amounts are :class:`~decimal.Decimal`; exchange ids and UIDs are ``str`` (exact, even
above 2**53); times are epoch milliseconds (``int``). Record and result types keep the exchange's
original object in ``raw`` (excluded from equality and repr) so callers can store it.

Each ``from_raw`` raises ``KeyError``/``TypeError``/``ValueError`` on a shape it does not understand;
the client turns that into :class:`bingx.errors.Ambiguous`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Generic, TypeVar

__all__ = [
    "ApiPermissions",
    "AssetOverviewEntry",
    "Balance",
    "InnerTransferRecord",
    "InnerTransferResult",
    "LegacyTransferRecord",
    "Page",
    "RecordsPage",
    "ServerTime",
    "SubAccount",
    "SubAccountTransferRecord",
    "SubAccountTransferResult",
    "SubAccountTransferableCoin",
    "TransferRecord",
    "TransferResult",
    "TransferableCoin",
    "to_decimal",
    "to_id",
]

T = TypeVar("T")


def to_decimal(value: Any) -> Decimal:
    """Exchange amount (string, JSON number parsed as Decimal, or int) → finite Decimal."""
    if isinstance(value, (bool, float)):
        raise TypeError(f"unexpected amount type {type(value).__name__}")
    if isinstance(value, Decimal):
        d = value
    elif isinstance(value, int):
        d = Decimal(value)
    elif isinstance(value, str):
        try:
            d = Decimal(value.strip())
        except InvalidOperation as exc:
            raise ValueError(f"not a decimal amount: {value!r}") from exc
    else:
        raise TypeError(f"unexpected amount type {type(value).__name__}")
    if not d.is_finite():
        raise ValueError(f"not a finite amount: {value!r}")
    return d


def to_id(value: Any) -> str:
    """Exchange id/UID (int or str) → exact decimal string."""
    if isinstance(value, bool) or value is None:
        raise TypeError("missing id")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return str(int(value))
    if isinstance(value, str) and value.strip():
        return value.strip()
    raise TypeError(f"unexpected id {value!r}")


def _opt_id(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return to_id(value)


def _opt_int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    return int(value)


def _raw(obj: Any) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise TypeError(f"expected an object, got {type(obj).__name__}")
    return dict(obj)


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of records: ``total`` as reported by the exchange, ``rows`` on this page."""

    total: int
    rows: tuple[T, ...]

    def __iter__(self) -> Any:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)


RecordsPage = Page


@dataclass(frozen=True)
class ServerTime:
    server_time: int  # epoch ms on the exchange clock


@dataclass(frozen=True)
class ApiPermissions:
    """Permission codes: 1 spot trading, 2 read, 3 contract trading, 4 universal transfer,
    5 withdraw, 7 sub-account internal transfer. ``raw`` has the API key reduced to its last 4 chars."""

    permissions: tuple[int, ...]
    ip_addresses: tuple[str, ...]
    note: str
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_raw(cls, obj: Any) -> ApiPermissions:
        raw = _raw(obj)
        if "apiKey" in raw and isinstance(raw["apiKey"], str):
            raw["apiKey"] = "…" + raw["apiKey"][-4:] if raw["apiKey"] else ""
        perms = raw.get("permissions") or []
        ips = raw.get("ipAddresses") or []
        return cls(
            permissions=tuple(int(p) for p in perms),
            ip_addresses=tuple(str(ip) for ip in ips),
            note=str(raw.get("note") or ""),
            raw=raw,
        )


@dataclass(frozen=True)
class Balance:
    asset: str
    free: Decimal
    locked: Decimal
    display_name: str = ""
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def total(self) -> Decimal:
        return self.free + self.locked

    @classmethod
    def from_raw(cls, obj: Any) -> Balance:
        raw = _raw(obj)
        return cls(
            asset=str(raw["asset"]),
            free=to_decimal(raw.get("free", "0")),
            locked=to_decimal(raw.get("locked", "0")),
            display_name=str(raw.get("displayName") or raw.get("disPlayName") or raw["asset"]),
            raw=raw,
        )


@dataclass(frozen=True)
class AssetOverviewEntry:
    account_type: str  # as sent by the exchange ("sopt" means the funding/spot account)
    usdt_balance: Decimal
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_raw(cls, obj: Any) -> AssetOverviewEntry:
        raw = _raw(obj)
        return cls(str(raw["accountType"]), to_decimal(raw.get("usdtBalance", "0")), raw)


@dataclass(frozen=True)
class TransferResult:
    """Own-account transfer. ``transfer_id`` (new endpoint) and/or ``tran_id`` (both endpoints)."""

    tran_id: str | None
    transfer_id: str | None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def id(self) -> str:
        ident = self.transfer_id or self.tran_id
        assert ident is not None
        return ident

    @classmethod
    def from_raw(cls, obj: Any) -> TransferResult:
        raw = _raw(obj)
        result = cls(_opt_id(raw.get("tranId")), _opt_id(raw.get("transferId")), raw)
        if result.tran_id is None and result.transfer_id is None:
            raise KeyError("transfer response carries neither transferId nor tranId")
        return result


@dataclass(frozen=True)
class TransferableCoin:
    asset: str
    amount: Decimal
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_raw(cls, obj: Any) -> TransferableCoin:
        raw = _raw(obj)
        return cls(str(raw["asset"]), to_decimal(raw["amount"]), raw)


@dataclass(frozen=True)
class TransferRecord:
    """Row of :data:`bingx.endpoints.TRANSFER_RECORDS` (``Client.transfer_records``)."""

    transfer_id: str
    asset: str
    amount: Decimal
    status: str
    timestamp: int | None
    from_account: str
    to_account: str
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_raw(cls, obj: Any) -> TransferRecord:
        raw = _raw(obj)
        ident = raw.get("transferId")
        if ident in (None, ""):
            ident = raw.get("tranId")
        return cls(
            transfer_id=to_id(ident),
            asset=str(raw["asset"]),
            amount=to_decimal(raw["amount"]),
            status=str(raw.get("status") or ""),
            timestamp=_opt_int(raw.get("timestamp")),
            from_account=str(raw.get("fromAccount") or ""),
            to_account=str(raw.get("toAccount") or ""),
            raw=raw,
        )


@dataclass(frozen=True)
class LegacyTransferRecord:
    """Row of :data:`bingx.endpoints.LEGACY_TRANSFER_RECORDS` (legacy ``type`` enum: ``FUND_PFUTURES``…)."""

    tran_id: str
    asset: str
    amount: Decimal
    type: str
    status: str
    timestamp: int | None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_raw(cls, obj: Any) -> LegacyTransferRecord:
        raw = _raw(obj)
        return cls(
            tran_id=to_id(raw["tranId"]),
            asset=str(raw["asset"]),
            amount=to_decimal(raw["amount"]),
            type=str(raw.get("type") or ""),
            status=str(raw.get("status") or ""),
            timestamp=_opt_int(raw.get("timestamp")),
            raw=raw,
        )


@dataclass(frozen=True)
class InnerTransferResult:
    id: str
    transfer_client_id: str | None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_raw(cls, obj: Any) -> InnerTransferResult:
        raw = _raw(obj)
        client_id = raw.get("transferClientId")
        return cls(to_id(raw["id"]), str(client_id) if client_id else None, raw)


@dataclass(frozen=True)
class InnerTransferRecord:
    """Row of the (sub-account) inner-transfer records. ``status``: 4 pending review, 5 failed, 6 completed.
    ``record_type``: ``"out"`` or ``"in"`` from the viewer's side."""

    id: str
    coin: str
    receiver: str
    amount: Decimal
    status: int
    time: int | None
    transfer_client_id: str | None
    from_uid: str | None
    record_type: str
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_raw(cls, obj: Any) -> InnerTransferRecord:
        raw = _raw(obj)
        client_id = raw.get("transferClientId")
        return cls(
            id=to_id(raw["id"]),
            coin=str(raw["coin"]),
            receiver=to_id(raw["receiver"]),
            amount=to_decimal(raw["amount"]),
            status=int(raw["status"]),
            time=_opt_int(raw.get("time")),
            transfer_client_id=str(client_id) if client_id else None,
            from_uid=_opt_id(raw.get("fromUid")),
            record_type=str(raw.get("recordType") or ""),
            raw=raw,
        )


@dataclass(frozen=True)
class SubAccountTransferResult:
    """Master-driven family transfer (``subAccount/transferAsset``)."""

    tran_id: str
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_raw(cls, obj: Any) -> SubAccountTransferResult:
        raw = _raw(obj)
        return cls(to_id(raw["tranId"]), raw)


@dataclass(frozen=True)
class SubAccountTransferableCoin:
    name: str
    available_amount: Decimal
    show_name: str = ""
    id: int | None = None
    usdt_rate: Decimal | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def asset(self) -> str:
        return self.name

    @classmethod
    def from_raw(cls, obj: Any) -> SubAccountTransferableCoin:
        raw = _raw(obj)
        rate = raw.get("usdtRate")
        return cls(
            name=str(raw["name"]),
            available_amount=to_decimal(raw["availableAmount"]),
            show_name=str(raw.get("showName") or raw["name"]),
            id=_opt_int(raw.get("id")),
            usdt_rate=None if rate in (None, "") else to_decimal(rate),
            raw=raw,
        )


@dataclass(frozen=True)
class SubAccountTransferRecord:
    """Row of the master's sub/mother transfer history; ``type`` e.g. ``MAIN_CAPITAL_TO_SUB_SWAP``."""

    tran_id: str
    asset: str
    amount: Decimal
    type: str
    status: str
    timestamp: int | None
    from_uid: str | None
    to_uid: str | None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_raw(cls, obj: Any) -> SubAccountTransferRecord:
        raw = _raw(obj)
        return cls(
            tran_id=to_id(raw["tranId"]),
            asset=str(raw["asset"]),
            amount=to_decimal(raw["amount"]),
            type=str(raw.get("type") or ""),
            status=str(raw.get("status") or ""),
            timestamp=_opt_int(raw.get("timestamp")),
            from_uid=_opt_id(raw.get("fromUid")),
            to_uid=_opt_id(raw.get("toUid")),
            raw=raw,
        )


@dataclass(frozen=True)
class SubAccount:
    sub_uid: str
    sub_account_string: str
    note: str
    freeze: bool
    create_time: int | None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_raw(cls, obj: Any) -> SubAccount:
        raw = _raw(obj)
        freeze = raw.get("freeze", False)
        if isinstance(freeze, str):
            freeze = freeze.lower() == "true"
        return cls(
            sub_uid=to_id(raw["subUid"]),
            sub_account_string=str(raw.get("subAccountString") or ""),
            note=str(raw.get("note") or ""),
            freeze=bool(freeze),
            create_time=_opt_int(raw.get("createTime")),
            raw=raw,
        )
