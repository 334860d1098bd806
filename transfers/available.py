"""What the exchange says can be moved from a request's source, and when it said so.

One read per source: own wallets ask BingX's transferable-coins endpoint for the wallet pair, an
inner transfer from the funding wallet reads the funding balances (from a futures wallet: the
transferable coins towards funding), a family move asks the sub-account transferable-coins endpoint.
The answer is kept as the "last known" value (Django's cache, keyed by the key set's uuid) and read
again when older than settings.TRANSFER_BALANCE_MAX_AGE_SECONDS. Page-time reads use a short timeout
and no retries; when the exchange cannot be reached the last known value (or the last balance sync
for the funding and spot wallets) is used, with its age.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from accounts.models import ApiKeySet, BalanceSnapshot
from bingx import Client
from exchange.clients import client_for
from exchange.problems import exchange_problem
from transfers.filters import ascii_int
from transfers.models import TransferKind
from transfers.payload import FAMILY_ACCOUNT_TYPES, WALLET_TYPE_TO_WALLET, WALLETS

CACHE_PREFIX = "bx:available:"
CACHE_SECONDS = 7 * 24 * 3600  # the "last known" value outlives its freshness by far


@dataclass(frozen=True)
class Source:
    """Where a request's money is taken from, and how the exchange is asked about it."""

    key_set: ApiKeySet
    key: str  # cache discriminator, e.g. "wallet:fund:spot"
    label: str  # for people: "fund → spot (own wallets)"
    read: tuple[str, tuple[Any, ...]]  # client method and its arguments
    amount_attr: str  # the coin attribute holding the movable amount
    asset_attr: str = "asset"
    snapshot_wallet: str | None = None  # a BalanceSnapshot wallet of key_set to fall back on
    what: str = ""  # the panel's heading, e.g. "Transferable from fund to spot"


@dataclass(frozen=True)
class Available:
    """What was said, per asset (None: nothing known), when, and why it is not fresh, if so."""

    coins: dict[str, Decimal] | None = None
    as_of: dt.datetime | None = None
    label: str = ""
    fresh: bool = False
    problem: str = ""
    origin: str = ""  # "exchange" (read now), "last known", "balance sync"
    source_key: str = ""
    assets_listed: list[str] = field(default_factory=list)
    what: str = ""

    @property
    def known(self) -> bool:
        return self.coins is not None

    def amount(self, asset: str) -> Decimal | None:
        """Available of `asset`; 0 for an asset the exchange does not list; None when nothing is known."""
        if self.coins is None:
            return None
        return self.coins.get(asset.upper(), Decimal(0))

    @property
    def age_seconds(self) -> int | None:
        if self.as_of is None:
            return None
        return max(0, int((timezone.now() - self.as_of).total_seconds()))

    @property
    def rows(self) -> list[tuple[str, Decimal]]:
        return sorted((self.coins or {}).items())

    @property
    def rows_text(self) -> list[tuple[str, Decimal, str]]:
        """(asset, amount, amount as a plain decimal for the amount field: no separators, no exponent)."""
        return [(asset, amount, format(amount.normalize(), "f")) for asset, amount in self.rows]

    @property
    def age_text(self) -> str:
        seconds = self.age_seconds
        if seconds is None:
            return "never read"
        if seconds < 90:
            return f"{seconds} s ago"
        if seconds < 5400:
            return f"{seconds // 60} min ago"
        return f"{seconds // 3600} h ago"

    def facts(self, *, asset: str) -> dict[str, Any]:
        """For the audit trail: what the exchange said about `asset` and when."""
        amount = self.amount(asset)
        return {
            "available": None if amount is None else format(amount.normalize(), "f"),
            "as_of": self.as_of.isoformat() if self.as_of else None,
            "origin": self.origin,
            "source": self.label,
            "source_key": self.source_key,
        }


def _int(value: Any) -> int:
    number = ascii_int(value)
    return 0 if number is None else number


def source_for(*, key_set: ApiKeySet, kind: str, fields: dict[str, Any]) -> Source | None:
    """The source of a request (or of the form's current choices); None while the choice is incomplete."""
    if kind == TransferKind.WALLET:
        src, dst = str(fields.get("from_wallet") or ""), str(fields.get("to_wallet") or "")
        if src not in WALLETS or dst not in WALLETS or src == dst:
            return None
        return Source(
            key_set=key_set,
            key=f"wallet:{src}:{dst}",
            label=f"{src} → {dst} (own wallets)",
            read=("transferable_coins", (src, dst)),
            amount_attr="amount",
            snapshot_wallet=src if src in ("fund", "spot") else None,
            what=f"Transferable from {src} to {dst}",
        )
    if kind in (TransferKind.INNER, TransferKind.SUB_INNER):
        wallet = WALLET_TYPE_TO_WALLET.get(_int(fields.get("wallet_type")))
        if wallet is None:
            return None
        if wallet == "fund":
            return Source(
                key_set=key_set,
                key="fund",
                label=f"funding wallet of {key_set.label}",
                read=("fund_balances", ()),
                amount_attr="free",
                snapshot_wallet="fund",
                what=f"Funding wallet balance of {key_set.label}",
            )
        return Source(
            key_set=key_set,
            key=f"wallet:{wallet}:fund",
            label=f"{wallet} wallet of {key_set.label}",
            read=("transferable_coins", (wallet, "fund")),
            amount_attr="amount",
            what=f"Transferable from {wallet} to fund",
        )
    if kind == TransferKind.FAMILY:
        names = ("from_uid", "from_account_type", "to_uid", "to_account_type")
        from_uid, from_type, to_uid, to_type = (_int(fields.get(n)) for n in names)
        if not (
            from_uid and to_uid and from_type in FAMILY_ACCOUNT_TYPES and to_type in FAMILY_ACCOUNT_TYPES
        ):
            return None
        own_fund = key_set.uid is not None and from_uid == int(key_set.uid) and from_type == 1
        return Source(
            key_set=key_set,
            key=f"family:{from_uid}:{from_type}:{to_uid}:{to_type}",
            label=f"UID {from_uid} · {FAMILY_ACCOUNT_TYPES[from_type]}",
            read=("sub_account_transferable_coins", (from_uid, from_type, to_uid, to_type)),
            amount_attr="available_amount",
            snapshot_wallet="fund" if own_fund else None,
            what=f"Transferable from {from_uid} to {to_uid}",
        )
    return None


def _cache_key(source: Source) -> str:
    return f"{CACHE_PREFIX}{source.key_set.uuid}:{source.key}"


def _page_client(key_set: ApiKeySet) -> Client:
    """A client for a page: a short timeout and no retries (a person is waiting)."""
    client = client_for(key_set=key_set)
    timeout = float(settings.TRANSFER_BALANCE_READ_TIMEOUT_SECONDS)
    client.timeout = (min(float(settings.BINGX_TIMEOUT_CONNECT), timeout), timeout)
    client.read_retries = 0
    return client


def _decimal(value: Any) -> Decimal | None:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return amount if amount.is_finite() else None


def _read(source: Source) -> dict[str, Decimal]:
    method, args = source.read
    with _page_client(source.key_set) as client:
        coins = getattr(client, method)(*args)
    out: dict[str, Decimal] = {}
    for coin in coins:
        asset = str(getattr(coin, source.asset_attr, "") or getattr(coin, "name", "")).upper()
        amount = _decimal(getattr(coin, source.amount_attr, None))
        if asset and amount is not None:
            out[asset] = out.get(asset, Decimal(0)) + amount
    return out


def _from_cache(source: Source) -> Available | None:
    stored = cache.get(_cache_key(source))
    if not isinstance(stored, dict):
        return None
    try:
        as_of = dt.datetime.fromisoformat(stored["as_of"])
        coins = {str(k): Decimal(v) for k, v in stored["coins"].items()}
    except (KeyError, TypeError, ValueError, InvalidOperation):
        return None
    return Available(
        coins=coins,
        as_of=as_of,
        label=source.label,
        what=source.what,
        origin="last known",
        source_key=source.key,
        assets_listed=sorted(coins),
    )


def _from_snapshot(source: Source) -> Available | None:
    if source.snapshot_wallet is None:
        return None
    latest = (
        BalanceSnapshot.objects.filter(key_set=source.key_set, wallet=source.snapshot_wallet)
        .order_by("-taken_at")
        .values_list("taken_at", flat=True)
        .first()
    )
    if latest is None:
        return None
    rows = BalanceSnapshot.objects.filter(
        key_set=source.key_set, wallet=source.snapshot_wallet, taken_at=latest
    ).values_list("asset", "free")
    coins = {asset.upper(): Decimal(free) for asset, free in rows}
    return Available(
        coins=coins,
        as_of=latest,
        label=source.label,
        what=source.what,
        origin="balance sync",
        source_key=source.key,
        assets_listed=sorted(coins),
    )


def _last_known(source: Source, *, use_snapshot: bool = True) -> Available | None:
    """The freshest of the remembered exchange answer and the last balance sync."""
    snapshot = _from_snapshot(source) if use_snapshot else None
    found = [a for a in (_from_cache(source), snapshot) if a is not None and a.as_of]
    return max(found, key=lambda a: a.as_of) if found else None  # type: ignore[arg-type,return-value]


def available_remember(*, source: Source, coins: dict[str, Decimal], as_of: dt.datetime) -> None:
    cache.set(
        _cache_key(source),
        {"as_of": as_of.isoformat(), "coins": {k: format(v, "f") for k, v in coins.items()}},
        CACHE_SECONDS,
    )


def available_for_source(
    *, source: Source, max_age: int | None = None, read: bool = True, use_snapshot: bool = True
) -> Available:
    """The last known answer when younger than `max_age` seconds, else a fresh read (when `read`);
    when the exchange cannot be reached, the last known value with `problem` saying why.
    `use_snapshot=False`: the remembered answer only (no database read, for lists)."""
    max_age = settings.TRANSFER_BALANCE_MAX_AGE_SECONDS if max_age is None else max_age
    known = _last_known(source, use_snapshot=use_snapshot)
    if known is not None and known.age_seconds is not None and known.age_seconds <= max_age:
        return known
    if not read:
        return known or Available(label=source.label, what=source.what, source_key=source.key)
    try:
        coins = _read(source)
    except Exception as exc:
        problem = exchange_problem(exc=exc, key_set=source.key_set).message
        if known is not None:
            return Available(**{**known.__dict__, "problem": problem})
        return Available(label=source.label, what=source.what, problem=problem, source_key=source.key)
    now = timezone.now()
    available_remember(source=source, coins=coins, as_of=now)
    return Available(
        coins=coins,
        as_of=now,
        label=source.label,
        what=source.what,
        fresh=True,
        origin="exchange",
        source_key=source.key,
        assets_listed=sorted(coins),
    )


def available_for(
    *, key_set: ApiKeySet, kind: str, fields: dict[str, Any], max_age: int | None = None, read: bool = True
) -> Available:
    """What can be moved for a request's (or the form's) key set, kind and fields."""
    source = source_for(key_set=key_set, kind=kind, fields=fields)
    if source is None:
        return Available(problem="Choose where the money comes from to see what can be moved.")
    return available_for_source(source=source, max_age=max_age, read=read)
