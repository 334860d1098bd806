"""The request being served, for audit events written by signal receivers that get no request: the
Django admin's LogEntry (accounts.break_glass) and a password saved anywhere (accounts.auth_events).
`RequestContextMiddleware` sets it for the length of one request; outside a request it is empty."""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass

from django.http import HttpRequest, HttpResponse

from accounts.models import User
from accounts.web import client_ip


@dataclass(frozen=True)
class RequestContext:
    request: HttpRequest

    @property
    def ip(self) -> str | None:
        return client_ip(self.request)

    @property
    def user(self) -> User | None:
        """The signed-in person, or None for an anonymous request (a password-set link, the login)."""
        user = getattr(self.request, "user", None)
        return user if isinstance(user, User) and user.is_authenticated else None


_current: ContextVar[RequestContext | None] = ContextVar("accounts_request_context", default=None)


def request_context_current() -> RequestContext | None:
    return _current.get()


class RequestContextMiddleware:
    """After AuthenticationMiddleware, so `request.user` is there when a receiver asks."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = _current.set(RequestContext(request))
        try:
            return self.get_response(request)
        finally:
            _current.reset(token)
