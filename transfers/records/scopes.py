"""Which record scopes a key set has (wallet pairs, legacy types, coins, family members), each with
its endpoint's own paging convention (see transfers.records.sync for the table)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import bingx
from accounts.models import AccountKind, ApiKeySet, BalanceSnapshot, SubAccount, Wallet
from transfers.models import RecordSource, SyncCursor, TransferRecord, TransferRequest
from transfers.records.rows import LEGACY_TYPES, Row, asset_row, family_row, inner_row, legacy_row

ASSET_PAGE_SIZE = 100  # pageSize ≤ 100 (§6.6)
LEGACY_PAGE_SIZE = 100  # size ≤ 100 (§6.7)
INNER_PAGE_SIZE = 1000  # limit ≤ 1000 (§6.10, §6.12)
FAMILY_PAGE_SIZE = 100  # pagingSize ≤ 100 (§6.16)

WALLETS: tuple[str, ...] = tuple(w.value for w in Wallet)
# Every ordered pair of the five wallets: the endpoint is queried per pair (toAccount is required and
# BingX answers reliably only for the pair), and any pair can carry a transfer made outside the desk.
WALLET_PAIRS: tuple[tuple[str, str], ...] = tuple((a, b) for a in WALLETS for b in WALLETS if a != b)

_COIN_RE = re.compile(r"^[A-Z0-9]{1,20}$")

MAIN_SOURCES = (RecordSource.ASSET, RecordSource.LEGACY_ASSET, RecordSource.INNER, RecordSource.FAMILY)
SUB_SOURCES = (RecordSource.ASSET, RecordSource.LEGACY_ASSET, RecordSource.SUB_INNER)


Fetch = Callable[[int | None, int, int], "bingx.Page[Any]"]  # (start_ms, end_ms, page number from 0)


@dataclass(frozen=True)
class Scope:
    source: RecordSource
    scope: str
    page_size: int
    fetch: Fetch
    convert: Callable[[Any], Row]


def coins_for(*, key_set: ApiKeySet, source: str) -> list[str]:
    """Coins to ask the per-coin endpoints about: USDT, plus every asset this key set has held,
    requested or seen in records, plus coins synced before (so a coin never drops out of the sync)."""
    found: set[str] = {"USDT"}
    found.update(BalanceSnapshot.objects.filter(key_set=key_set).values_list("asset", flat=True).distinct())
    found.update(TransferRequest.objects.filter(key_set=key_set).values_list("asset", flat=True).distinct())
    found.update(TransferRecord.objects.filter(key_set=key_set).values_list("asset", flat=True).distinct())
    found.update(SyncCursor.objects.filter(key_set=key_set, source=source).values_list("scope", flat=True))
    return sorted({c.upper() for c in found if c and _COIN_RE.match(c.upper())})


def family_uids(*, key_set: ApiKeySet, client: bingx.Client) -> tuple[str, list[str]]:
    """The main account's uid and the sub-account uids whose history the master can read."""
    main_uid = str(key_set.uid) if key_set.uid else client.uid()
    subs = {str(u) for u in SubAccount.objects.filter(main_key_set=key_set).values_list("sub_uid", flat=True)}
    subs.update(
        str(u)
        for u in ApiKeySet.objects.filter(parent=key_set, uid__isnull=False).values_list("uid", flat=True)
    )
    subs.discard(main_uid)
    return main_uid, sorted(subs, key=int)


def scopes_for(*, key_set: ApiKeySet, client: bingx.Client, source: str) -> Iterable[Scope]:
    """The scopes of one source, each with its endpoint's own paging convention."""
    if source == RecordSource.ASSET:
        for src, dst in WALLET_PAIRS:
            yield Scope(
                RecordSource.ASSET,
                f"{src}>{dst}",
                ASSET_PAGE_SIZE,
                lambda s, e, n, src=src, dst=dst: client.transfer_records(  # type: ignore[misc]
                    from_account=src,
                    to_account=dst,
                    start_time=s,
                    end_time=e,
                    page_index=n + 1,
                    page_size=ASSET_PAGE_SIZE,
                ),
                asset_row,
            )
    elif source == RecordSource.LEGACY_ASSET:
        for type_ in LEGACY_TYPES:
            yield Scope(
                RecordSource.LEGACY_ASSET,
                type_,
                LEGACY_PAGE_SIZE,
                lambda s, e, n, type_=type_: client.legacy_transfer_records(  # type: ignore[misc]
                    type=type_, start_time=s, end_time=e, current=n + 1, size=LEGACY_PAGE_SIZE
                ),
                legacy_row,
            )
    elif source in (RecordSource.INNER, RecordSource.SUB_INNER):
        method = (
            client.inner_transfer_records
            if source == RecordSource.INNER
            else client.sub_account_inner_transfer_records
        )
        for coin in coins_for(key_set=key_set, source=source):
            yield Scope(
                RecordSource(source),
                coin,
                INNER_PAGE_SIZE,
                lambda s, e, n, coin=coin: method(  # type: ignore[misc]
                    coin=coin, start_time=s, end_time=e, offset=n * INNER_PAGE_SIZE, limit=INNER_PAGE_SIZE
                ),
                inner_row,
            )
    elif source == RecordSource.FAMILY:
        main_uid, subs = family_uids(key_set=key_set, client=client)
        for uid in (main_uid, *subs):
            yield Scope(
                RecordSource.FAMILY,
                uid,
                FAMILY_PAGE_SIZE,
                lambda s, e, n, uid=uid: client.sub_account_transfer_history(  # type: ignore[misc]
                    uid=uid, start_time=s, end_time=e, page_id=n + 1, paging_size=FAMILY_PAGE_SIZE
                ),
                lambda r: family_row(r, main_uid=main_uid),
            )


def sources_for(*, key_set: ApiKeySet) -> tuple[RecordSource, ...]:
    return MAIN_SOURCES if key_set.account_kind == AccountKind.MAIN else SUB_SOURCES
