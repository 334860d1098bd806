"""Reads for key-set pages: always scoped to what the user may view."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.access import Capability, ensure_admin, key_sets_for, user_can
from accounts.models import (
    OVERVIEW_WALLET,
    AccountKind,
    ApiKeySet,
    AssetOverviewSnapshot,
    BalanceSnapshot,
    KeySetGrant,
    SubAccount,
    User,
    Wallet,
)


def key_set_list_for(*, user: User) -> QuerySet[ApiKeySet]:
    """Key sets the user may view, ordered by label."""
    return key_sets_for(user=user, capability=Capability.VIEW).select_related("parent").order_by("label")


def key_set_get_for(*, user: User, pk: int) -> ApiKeySet:
    """One key set the user may view; ApiKeySet.DoesNotExist otherwise (a guessed id looks absent)."""
    return key_set_list_for(user=user).get(pk=pk)


def key_set_admin_get(*, user: User, pk: int) -> ApiKeySet:
    """A key set for a management page: AccessDenied for non-administrators, DoesNotExist if absent."""
    ensure_admin(user=user)
    return ApiKeySet.objects.select_related("parent").get(pk=pk)


def key_set_rotation_overdue(*, key_set: ApiKeySet, today: dt.date | None = None) -> bool:
    return bool(key_set.rotate_by and key_set.rotate_by < (today or timezone.localdate()))


# BingX's asset overview has no row for the spot (trading) wallet: its "spot"/"sopt" row is the funding
# account (docs: "spot: spot (fund account)"). The spot wallet's value therefore comes from its synced
# per-asset balances: assets priced here count at that USDT price (USDT itself at face value); others
# have no price on the desk and are listed as not valued, so the total says what it leaves out.
SPOT_USDT_PRICES: dict[str, Decimal] = {"USDT": Decimal(1)}


@dataclass
class WalletBalances:
    wallet: str
    label: str
    rows: list[BalanceSnapshot] = field(default_factory=list)
    usdt_value: Decimal | None = None
    value_source: str = "asset overview"
    unvalued: list[BalanceSnapshot] = field(default_factory=list)  # rows the USDT value leaves out

    @property
    def per_asset(self) -> bool:
        return self.wallet in (Wallet.FUND, Wallet.SPOT)


@dataclass
class KeySetBalances:
    key_set: ApiKeySet
    taken_at: dt.datetime | None
    wallets: list[WalletBalances]
    other_overview: list[AssetOverviewSnapshot]

    @property
    def total_usdt(self) -> Decimal:
        """Asset overview (funding, futures and other wallets) plus the spot wallet's priced assets."""
        total = sum((w.usdt_value or Decimal(0) for w in self.wallets), Decimal(0))
        return total + sum((o.usdt_balance for o in self.other_overview), Decimal(0))

    @property
    def unvalued(self) -> list[BalanceSnapshot]:
        """Balances not in :attr:`total_usdt` (spot assets without a USDT price here)."""
        return [row for w in self.wallets for row in w.unvalued]


def _assemble(
    *, key_set: ApiKeySet, rows: list[BalanceSnapshot], overview: list[AssetOverviewSnapshot]
) -> KeySetBalances:
    wallets = {w: WalletBalances(wallet=w.value, label=w.label) for w in Wallet}
    for row in rows:
        wallets[Wallet(row.wallet)].rows.append(row)
    others = []
    for entry in overview:
        wallet = OVERVIEW_WALLET.get(entry.account_type)
        if wallet is None:
            if entry.usdt_balance:
                others.append(entry)
            continue
        current = wallets[wallet].usdt_value or Decimal(0)
        wallets[wallet].usdt_value = current + entry.usdt_balance
    for w in wallets.values():
        w.rows.sort(key=lambda r: r.asset)
    spot = wallets[Wallet.SPOT]
    spot.value_source = "spot USDT at face value"
    priced = [row for row in spot.rows if row.asset in SPOT_USDT_PRICES]
    spot.unvalued = [row for row in spot.rows if row.asset not in SPOT_USDT_PRICES and row.total]
    if priced:
        spot.usdt_value = sum((row.total * SPOT_USDT_PRICES[row.asset] for row in priced), Decimal(0))
    return KeySetBalances(
        key_set=key_set,
        taken_at=key_set.balances_synced_at,
        wallets=list(wallets.values()),
        other_overview=others,
    )


def balances_latest(*, key_set: ApiKeySet) -> KeySetBalances:
    """The key set's latest snapshot (every row of one sync shares its taken_at)."""
    if key_set.balances_synced_at is None:
        return _assemble(key_set=key_set, rows=[], overview=[])
    rows = list(BalanceSnapshot.objects.filter(key_set=key_set, taken_at=key_set.balances_synced_at))
    overview = list(
        AssetOverviewSnapshot.objects.filter(key_set=key_set, taken_at=key_set.balances_synced_at)
    )
    return _assemble(key_set=key_set, rows=rows, overview=overview)


@dataclass
class BalancesOverview:
    key_sets: list[KeySetBalances]
    totals: list[tuple[str, Decimal]]  # fund + spot per asset across all key sets shown
    total_usdt: Decimal  # asset overview + spot wallet's priced assets, across all key sets shown
    unvalued: list[tuple[str, Decimal]] = field(default_factory=list)  # per asset, left out of total_usdt


def balances_for_user(*, user: User) -> BalancesOverview:
    """Latest balances of every key set the user may view, and totals across them."""
    key_sets = list(key_set_list_for(user=user))
    synced = [k for k in key_sets if k.balances_synced_at is not None]
    latest = Q(pk__in=[])
    for k in synced:
        latest |= Q(key_set=k, taken_at=k.balances_synced_at)
    rows_by: dict[int, list[BalanceSnapshot]] = defaultdict(list)
    overview_by: dict[int, list[AssetOverviewSnapshot]] = defaultdict(list)
    if synced:
        for row in BalanceSnapshot.objects.filter(latest):
            rows_by[row.key_set_id].append(row)
        for entry in AssetOverviewSnapshot.objects.filter(latest):
            overview_by[entry.key_set_id].append(entry)
    result = [_assemble(key_set=k, rows=rows_by[k.pk], overview=overview_by[k.pk]) for k in key_sets]
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for rows in rows_by.values():
        for row in rows:
            totals[row.asset] += row.total
    unvalued: dict[str, Decimal] = defaultdict(Decimal)
    for kb in result:
        for row in kb.unvalued:
            unvalued[row.asset] += row.total
    return BalancesOverview(
        key_sets=result,
        totals=sorted(totals.items()),
        total_usdt=sum((kb.total_usdt for kb in result), Decimal(0)),
        unvalued=sorted(unvalued.items()),
    )


@dataclass
class FamilyMember:
    uid: int | None
    name: str
    note: str
    frozen: bool
    is_main: bool
    key_sets: list[ApiKeySet]  # key sets here for this UID that the user may view


@dataclass
class FamilyTree:
    main_key_set: ApiKeySet
    main: FamilyMember
    subs: list[FamilyMember]
    undiscovered_sub_key_sets: list[ApiKeySet]  # sub key sets under this main not (yet) seen on BingX


def family_tree(*, user: User, key_set: ApiKeySet) -> FamilyTree | None:
    """The main account and its discovered sub-accounts, each with the key sets here the user may see."""
    main = key_set if key_set.account_kind == AccountKind.MAIN else key_set.parent
    if main is None or not user_can(user=user, key_set=main, capability=Capability.VIEW):
        return None
    visible = key_set_list_for(user=user)
    discovered = list(SubAccount.objects.filter(main_key_set=main))
    uids = [s.sub_uid for s in discovered] + ([main.uid] if main.uid else [])
    by_uid: dict[int, list[ApiKeySet]] = defaultdict(list)
    for ks in visible.filter(uid__in=uids):
        by_uid[ks.uid or 0].append(ks)
    seen = {ks.pk for group in by_uid.values() for ks in group}
    subs = [
        FamilyMember(
            uid=s.sub_uid,
            name=s.name,
            note=s.note,
            frozen=s.frozen,
            is_main=False,
            key_sets=by_uid.get(s.sub_uid, []),
        )
        for s in discovered
    ]
    main_member = FamilyMember(
        uid=main.uid,
        name=main.label,
        note="",
        frozen=False,
        is_main=True,
        key_sets=by_uid.get(main.uid, [main]) if main.uid else [main],
    )
    loose = [ks for ks in visible.filter(parent=main) if ks.pk not in seen]
    return FamilyTree(main_key_set=main, main=main_member, subs=subs, undiscovered_sub_key_sets=loose)


def grant_list(*, user: User, key_set: ApiKeySet) -> QuerySet[KeySetGrant]:
    """Grants on a key set: administrators see them all; others see none."""
    ensure_admin(user=user)
    return key_set.grants.select_related("user", "group").order_by("group__name", "user__username")
