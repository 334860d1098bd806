"""Sub-account discovery: list a main account's sub-accounts on BingX and mirror them here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction

import bingx
from accounts.audit import audit_record
from accounts.models import AccountKind, SubAccount, User
from accounts.services.key_sets import KeySetRefused, key_set_lock, key_set_readable
from exchange.clients import client_for, page_client_for
from exchange.problems import exchange_problem
from exchange.timeutil import ms_to_datetime


@dataclass(frozen=True)
class DiscoveryResult:
    found: int
    added: int
    removed: int


def sub_accounts_discover(
    *, key_set_id: int, actor: User | None = None, ip: str | None = None, page: bool = False
) -> DiscoveryResult:
    """List a main account's sub-accounts on BingX and mirror them as SubAccount rows.
    `page`: a person waits (short timeout, no read retries)."""
    key_set = key_set_readable(actor=actor, key_set_id=key_set_id)
    if key_set.account_kind != AccountKind.MAIN:
        raise KeySetRefused("Sub-accounts can only be discovered from a main-account key set.")
    limit = 100
    rows: list[bingx.SubAccount] = []
    try:
        client = (page_client_for if page else client_for)(key_set=key_set)
        for number in range(1, 101):  # 10,000 sub-accounts at most; BingX allows far fewer
            batch = client.sub_accounts(page=number, limit=limit)
            rows.extend(batch.rows)
            if len(batch.rows) < limit or len(rows) >= batch.total:
                break
    except Exception as exc:
        raise exchange_problem(exc=exc, key_set=key_set) from None
    found: dict[int, dict[str, Any]] = {}
    for row in rows:
        created = row.create_time
        found[int(row.sub_uid)] = {
            "name": row.sub_account_string[:100],
            "note": row.note[:200],
            "frozen": row.freeze,
            "created_on_exchange": ms_to_datetime(created) if created else None,
        }
    with transaction.atomic():
        locked = key_set_lock(key_set_id=key_set.pk)
        existing = set(SubAccount.objects.filter(main_key_set=locked).values_list("sub_uid", flat=True))
        for sub_uid, fields in found.items():
            SubAccount.objects.update_or_create(main_key_set=locked, sub_uid=sub_uid, defaults=fields)
        gone = existing - set(found)
        SubAccount.objects.filter(main_key_set=locked, sub_uid__in=gone).delete()
        result = DiscoveryResult(found=len(found), added=len(set(found) - existing), removed=len(gone))
        audit_record(
            actor=actor,
            verb="keyset.discover_subs",
            obj=locked,
            before={"sub_uids": sorted(existing)},
            after={"sub_uids": sorted(found)},
            ip=ip,
        )
    return result
