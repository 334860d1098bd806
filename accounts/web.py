"""Request helpers shared by every app's views: who is asking, from where, and domain errors as HTTP."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse

from accounts.access import AccessDenied
from accounts.models import User

View = Callable[..., HttpResponse]


def request_user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # LoginRequiredMiddleware guarantees a signed-in user
    return user


def client_ip(request: HttpRequest) -> str | None:
    """The address recorded in the audit log. Behind our proxy (DJANGO_BEHIND_PROXY) it is the
    right-most X-Forwarded-For entry: the one our proxy appended, which a client cannot forge."""
    if settings.BEHIND_PROXY:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        if forwarded and forwarded[-1]:
            return forwarded[-1]
    return request.META.get("REMOTE_ADDR") or None


def denied_as_http(*, not_found: type[ObjectDoesNotExist], what: str) -> Callable[[View], View]:
    """AccessDenied from a service or selector becomes 403; an object the user may not see, 404."""

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            try:
                return view(request, *args, **kwargs)
            except AccessDenied as exc:
                raise PermissionDenied(str(exc)) from None
            except not_found:
                raise Http404(f"No such {what}.") from None

        return wrapper

    return decorate
