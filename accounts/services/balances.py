"""Balance snapshots: read fund and spot balances and the asset overview from BingX, keep the history."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

import bingx
from accounts.audit import audit_record
from accounts.models import AssetOverviewSnapshot, BalanceSnapshot, User, Wallet
from accounts.services.key_sets import key_set_lock, key_set_readable
from exchange.clients import client_for
from exchange.problems import exchange_problem


@dataclass(frozen=True)
class SyncResult:
    taken_at: dt.datetime
    balances: int
    overview: int
    notes: tuple[str, ...] = ()


def balances_sync(*, key_set_id: int, actor: User | None = None, ip: str | None = None) -> SyncResult:
    """Snapshot fund and spot balances per asset, and the USDT value of every wallet.

    BingX's account API in this client's scope has no per-asset balance read for the standard-futures,
    USDT-M and COIN-M wallets; their USDT value comes from the asset overview and is shown as such.
    All reads happen first; a failing read writes nothing. History is kept (one taken_at per sync).
    Periodic syncs by the system are not audited (they change no decision); on-demand syncs are.
    """
    key_set = key_set_readable(actor=actor, key_set_id=key_set_id)
    notes: list[str] = []
    try:
        client = client_for(key_set=key_set)
        spot = client.spot_balances()
        overview = client.asset_overview()
        try:
            fund: tuple[bingx.Balance, ...] = client.fund_balances()
        except bingx.PermissionDenied as exc:
            # BingX reads the funding wallet only with permission 4; its USDT value still shows.
            fund = ()
            notes.append(exchange_problem(exc=exc, key_set=key_set).message)
    except Exception as exc:
        raise exchange_problem(exc=exc, key_set=key_set) from None
    taken_at = timezone.now()
    snapshots = [
        BalanceSnapshot(
            key_set=key_set,
            wallet=wallet,
            asset=str(b.asset).upper()[:20],
            free=Decimal(b.free),
            locked=Decimal(b.locked),
            taken_at=taken_at,
        )
        for wallet, rows in ((Wallet.FUND, fund), (Wallet.SPOT, spot))
        for b in rows
        if Decimal(b.free) or Decimal(b.locked)
    ]
    overviews = [
        AssetOverviewSnapshot(
            key_set=key_set,
            account_type=str(e.account_type)[:32],
            usdt_balance=Decimal(e.usdt_balance),
            taken_at=taken_at,
        )
        for e in overview
    ]
    with transaction.atomic():
        locked = key_set_lock(key_set_id=key_set.pk)
        BalanceSnapshot.objects.bulk_create(snapshots)
        AssetOverviewSnapshot.objects.bulk_create(overviews)
        locked.balances_synced_at = taken_at
        locked.save(update_fields=["balances_synced_at", "updated_at"])
        if actor is not None:
            audit_record(
                actor=actor,
                verb="keyset.balances_sync",
                obj=locked,
                after={
                    "balances": len(snapshots),
                    "overview": len(overviews),
                    "taken_at": taken_at,
                    "notes": notes,
                },
                ip=ip,
            )
    return SyncResult(taken_at=taken_at, balances=len(snapshots), overview=len(overviews), notes=tuple(notes))
