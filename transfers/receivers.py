"""Receivers of the lower layers' signals: accounts tells, transfers reacts (shared/DESIGN.md §2).

Connected once, in TransfersConfig.ready().
"""

from __future__ import annotations

from typing import Any

from accounts.models import ApiKeySet, User
from accounts.signals import key_set_changed


def key_set_changed_requests_stale(
    sender: type[ApiKeySet],
    *,
    key_set: ApiKeySet,
    actor: User | None,
    reason: str,
    ip: str | None = None,
    **kwargs: Any,
) -> int:
    """The key set's credentials were replaced or it was deactivated: what was approved against it no
    longer holds, so its pending requests go STALE (one audit event each, in the sender's transaction).
    Returns how many."""
    # Imported here, not at module level: this module is imported while the app registry is being
    # readied, and the services pull in half of the project.
    from transfers.models import TransferRequest
    from transfers.services.requests import requests_mark_stale

    return requests_mark_stale(
        requests=TransferRequest.objects.filter(key_set=key_set).order_by("pk"),
        actor=actor,
        reason=reason,
        ip=ip,
    )


def connect() -> None:
    key_set_changed.connect(
        key_set_changed_requests_stale,
        sender=ApiKeySet,
        dispatch_uid="transfers.key_set_changed_requests_stale",
    )
