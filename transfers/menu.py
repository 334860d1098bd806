"""What the menu offers a person: only pages and forms they can use (issue 13, part 8).

`menu_context` is a template context processor: `menu` is computed lazily (a few existence queries,
once per request, only when a page renders the menu)."""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from accounts.access import Capability, key_sets_for, user_is_admin
from accounts.audit_access import audit_reads_everything
from accounts.models import KeySetStatus, User


@dataclass(frozen=True)
class Menu:
    can_request: bool  # an active key set they may request on: "New transfer"
    can_approve: bool  # the approve grant somewhere: "Approvals"
    can_audit: bool  # auditors, administrators and approvers: "Audit log"
    is_admin: bool


NOTHING = Menu(can_request=False, can_approve=False, can_audit=False, is_admin=False)


def menu_for(*, user: User) -> Menu:
    if not user.is_active:
        return NOTHING
    is_admin = user_is_admin(user=user)
    can_approve = key_sets_for(user=user, capability=Capability.APPROVE).exists()
    return Menu(
        can_request=key_sets_for(user=user, capability=Capability.REQUEST)
        .filter(status=KeySetStatus.ACTIVE)
        .exists(),
        can_approve=can_approve,
        can_audit=is_admin or can_approve or audit_reads_everything(user=user),
        is_admin=is_admin,
    )


def menu_context(request: HttpRequest) -> dict[str, object]:
    def build() -> Menu:
        user = getattr(request, "user", None)
        return menu_for(user=user) if isinstance(user, User) else NOTHING

    return {"menu": SimpleLazyObject(build)}
