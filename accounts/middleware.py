"""Login is two steps: the password (Django's LoginView, django-axes), then the second factor. Until the
second completes, a session of someone who needs one reaches only enrolment, verification and logout."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from accounts.models import User
from accounts.second_factor import SESSION_KEY, second_factor_required, second_factors_of


class SecondFactorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def _exempt(self, path: str) -> bool:
        open_prefixes = (
            reverse("second_factor:verify"),
            reverse("second_factor:enrol"),
            reverse("logout"),
            reverse("login"),
            "/" + settings.STATIC_URL.lstrip("/"),
            "/health",
        )
        return path.startswith(open_prefixes)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if (
            isinstance(user, User)
            and user.is_authenticated
            and not request.session.get(SESSION_KEY)
            and not self._exempt(request.path_info)
            and second_factor_required(user=user)
        ):
            target = (
                "second_factor:verify" if second_factors_of(user=user).enrolled else "second_factor:enrol"
            )
            return HttpResponseRedirect(f"{reverse(target)}?{urlencode({'next': request.get_full_path()})}")
        return self.get_response(request)
