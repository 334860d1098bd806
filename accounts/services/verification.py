"""Verification: ask BingX who a key belongs to and what it may do, and record the report.

The call to BingX happens outside any transaction; only the recording of its result is transactional.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.audit import audit_record
from accounts.key_permissions import permission_report
from accounts.models import AccountKind, SubAccount, User
from accounts.services.key_sets import key_set_lock, key_set_readable
from exchange.clients import client_for, page_client_for
from exchange.problems import exchange_problem

logger = logging.getLogger(__name__)


def key_set_verify(
    *, key_set_id: int, actor: User | None = None, ip: str | None = None, page: bool = False
) -> dict[str, Any]:
    """Ask BingX who the key belongs to and what it may do, read a balance, and record the report.
    `page`: a person waits (short timeout, no read retries)."""
    key_set = key_set_readable(actor=actor, key_set_id=key_set_id)
    report: dict[str, Any] = {"ok": False, "error": "", "error_kind": "", "checks": {}}
    uid: int | None = None
    permissions: list[int] | None = None
    ip_whitelist: list[str] | None = None
    try:
        client = (page_client_for if page else client_for)(key_set=key_set)
        uid = int(client.uid())
        report["checks"]["uid"] = True
        perms = client.api_permissions()
        permissions = sorted({int(p) for p in perms.permissions})
        ip_whitelist = [str(a) for a in (perms.ip_addresses or [])]
        report["checks"]["permissions"] = True
        client.spot_balances()  # a balance read with permission 2 alone
        report["checks"]["balance_read"] = True
        report["ok"] = True
    except Exception as exc:
        problem = exchange_problem(exc=exc, key_set=key_set)
        report["error"], report["error_kind"] = problem.message, problem.kind
        logger.info("key set %s verification failed: %s", key_set.pk, problem.kind)
    now = timezone.now()
    with transaction.atomic():
        locked = key_set_lock(key_set_id=key_set.pk)
        before = {"uid": locked.uid, "permissions": locked.permissions, "ip_whitelist": locked.ip_whitelist}
        warnings: list[str] = []
        if uid is not None:
            if locked.uid is not None and locked.uid != uid:
                warnings.append(f"The key now belongs to BingX UID {uid}; it was UID {locked.uid} before.")
            if locked.account_kind == AccountKind.SUB and locked.parent_id is not None:
                known = SubAccount.objects.filter(main_key_set_id=locked.parent_id)
                if known.exists() and not known.filter(sub_uid=uid).exists():
                    warnings.append(
                        f"UID {uid} is not among the sub-accounts discovered from the main key set "
                        f"“{locked.parent.label if locked.parent else ''}”."
                    )
            locked.uid = uid
        if permissions is not None:
            locked.permissions = permissions
            locked.ip_whitelist = ip_whitelist or []
            summary = permission_report(
                account_kind=locked.account_kind, permissions=permissions, ip_whitelist=locked.ip_whitelist
            )
            report["needs"] = summary["needs"]
            warnings.extend(summary["warnings"])
        report["warnings"] = warnings
        report["uid"] = locked.uid
        report["checked_at"] = now.isoformat()
        locked.verification = report
        if report["ok"]:
            locked.last_verified_at = now
        locked.save(
            update_fields=[
                "uid",
                "permissions",
                "ip_whitelist",
                "verification",
                "last_verified_at",
                "updated_at",
            ]
        )
        audit_record(
            actor=actor,
            verb="keyset.verify",
            obj=locked,
            before=before,
            after={
                "ok": report["ok"],
                "uid": locked.uid,
                "permissions": locked.permissions,
                "ip_whitelist": locked.ip_whitelist,
                "error_kind": report["error_kind"],
            },
            ip=ip,
        )
    return report
