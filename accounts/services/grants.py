"""Grants: who may view, request and approve on a key set. Administrators only, audited."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group
from django.db import transaction

from accounts.access import ensure_admin
from accounts.audit import audit_record
from accounts.models import KeySetGrant, User
from accounts.services.key_sets import KeySetRefused, key_set_lock


def _grant_state(grant: KeySetGrant) -> dict[str, Any]:
    return {
        "user": grant.user.get_username() if grant.user else None,
        "group": grant.group.name if grant.group else None,
        "view": grant.can_view,
        "request": grant.can_request,
        "approve": grant.can_approve,
    }


@transaction.atomic
def grant_set(
    *,
    actor: User,
    key_set_id: int,
    user: User | None = None,
    group: Group | None = None,
    can_view: bool = True,
    can_request: bool = False,
    can_approve: bool = False,
    ip: str | None = None,
) -> KeySetGrant:
    """Create or change one user's or group's grant on a key set."""
    ensure_admin(user=actor)
    key_set = key_set_lock(key_set_id=key_set_id)
    if (user is None) == (group is None):
        raise KeySetRefused("Choose either a user or a group.")
    if not (can_view or can_request or can_approve):
        raise KeySetRefused("Choose at least one capability (to remove access, revoke the grant).")
    if (can_request or can_approve) and not can_view:
        raise KeySetRefused("Requesting and approving need the view capability too.")
    who: dict[str, Any] = {"user": user} if user is not None else {"group": group}
    grant = KeySetGrant.objects.select_for_update().filter(key_set=key_set, **who).first()
    before = _grant_state(grant) if grant else {}
    if grant is None:
        grant = KeySetGrant(key_set=key_set, created_by=actor, **who)
    grant.can_view, grant.can_request, grant.can_approve = can_view, can_request, can_approve
    grant.save()
    audit_record(actor=actor, verb="grant.set", obj=grant, before=before, after=_grant_state(grant), ip=ip)
    return grant


@transaction.atomic
def grant_revoke(*, actor: User, grant_id: int, key_set_id: int | None = None, ip: str | None = None) -> None:
    ensure_admin(user=actor)
    grant = (
        # of=("self",): PostgreSQL cannot lock the nullable side of the user/group outer joins.
        KeySetGrant.objects.select_for_update(of=("self",))
        .select_related("user", "group")
        .filter(pk=grant_id)
        .first()
    )
    if grant is None or (key_set_id is not None and grant.key_set_id != key_set_id):
        raise KeySetRefused("That grant does not exist.")
    before = _grant_state(grant)
    audit_record(actor=actor, verb="grant.revoke", obj=grant, before=before, after={}, ip=ip)
    grant.delete()
