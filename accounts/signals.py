"""Signals accounts sends so that higher layers can react without accounts importing them.

`key_set_changed`: a key set changed in a way that voids what was decided against it — its
credentials were replaced, or it was deactivated. Sent synchronously inside the service's
transaction (a receiver's writes commit or roll back with the change), with `sender=ApiKeySet` and
the keyword arguments `key_set`, `actor` (the User, or None for the system), `reason` (words for
people, recorded by receivers) and `ip` (or None). A receiver returns how many pending transfer
requests it marked stale (transfers.receivers does); the service records the total in its audit event.
"""

from __future__ import annotations

from typing import Any

from django.dispatch import Signal

from accounts.models import ApiKeySet, User

key_set_changed = Signal()


def key_set_changed_send(*, key_set: ApiKeySet, actor: User | None, reason: str, ip: str | None) -> int:
    """Send `key_set_changed`; returns the number of pending requests the receivers marked stale."""
    responses: list[tuple[Any, Any]] = key_set_changed.send(
        sender=ApiKeySet, key_set=key_set, actor=actor, reason=reason, ip=ip
    )
    return sum(response for _, response in responses if isinstance(response, int))
