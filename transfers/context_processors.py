"""Template context for every page: the menu's "Approvals (N)" counter.

Lazy and cached per request: counted (one query for requests, one for batches) only when a page
renders the menu, and at most once per request.
"""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from accounts.models import User


def _count(request: HttpRequest) -> int:
    cached = getattr(request, "_approvals_waiting", None)
    if cached is None:
        from transfers.batch_selectors import batches_queue_for
        from transfers.selectors import queue_for

        user = request.user
        cached = 0
        if isinstance(user, User) and user.is_active:
            cached = queue_for(user=user).count() + batches_queue_for(user=user).count()
        request._approvals_waiting = cached  # type: ignore[attr-defined]
    return cached


def approvals_waiting(request: HttpRequest) -> dict[str, object]:
    return {"approvals_waiting": SimpleLazyObject(lambda: _count(request))}
