"""Second-factor pages: the login's second step, first enrolment, one's own factors. Parse, call, render."""

from __future__ import annotations

import base64
import secrets
from typing import Any

import segno
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from accounts.passkeys import PasskeyInvalid, passkey_register, passkey_registration_options
from accounts.second_factor import (
    SESSION_KEY,
    EnrolmentRefused,
    passkey_remove,
    recovery_codes_generate,
    second_factors_of,
    totp_enrol_confirm,
    totp_enrol_pending,
    totp_enrol_start,
    totp_secret_base32,
)
from accounts.stepup import StepUpRefused, stepup_challenge, stepup_verify
from accounts.web import client_ip, request_user

LOGIN_PURPOSE = "login"
REGISTRATION_CHALLENGE = "passkey_registration_challenge"


def _next_url(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return "/"


def _verified(request: HttpRequest) -> bool:
    return bool(request.session.get(SESSION_KEY))


def _mark_verified(request: HttpRequest, *, method: str) -> None:
    request.session.cycle_key()  # a new session id once the login is complete
    request.session[SESSION_KEY] = method


@require_http_methods(["GET", "POST"])
def second_factor_verify(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    if not second_factors_of(user=user).enrolled:
        return redirect(f"/account/second-factor/setup/?next={_next_url(request)}")
    status = 200
    if request.method == "POST":
        try:
            proof = stepup_verify(user=user, data=request.POST, purpose=LOGIN_PURPOSE, ip=client_ip(request))
        except StepUpRefused as exc:
            messages.error(request, str(exc))
            status = 400
        else:
            _mark_verified(request, method=proof.method)
            if proof.method == "recovery":
                left = second_factors_of(user=user).recovery_codes_left
                messages.warning(
                    request, f"Recovery code used; {left} left. Make new ones on your account page."
                )
            return redirect(_next_url(request))
    context = {
        "stepup": stepup_challenge(user=user, purpose=LOGIN_PURPOSE),
        "next": _next_url(request),
        "half_signed_in": not request.session.get(SESSION_KEY),
    }
    return render(request, "accounts/second_factor_verify.html", context, status=status)


def _registration_options(request: HttpRequest) -> str:
    challenge = secrets.token_bytes(32)
    request.session[REGISTRATION_CHALLENGE] = base64.urlsafe_b64encode(challenge).decode()
    return passkey_registration_options(user=request_user(request), challenge=challenge)


def _finish_enrolment(request: HttpRequest, *, method: str) -> HttpResponse:
    user = request_user(request)
    first = not _verified(request)
    if first:
        _mark_verified(request, method=method)
    if second_factors_of(user=user).recovery_codes_left == 0:
        codes = recovery_codes_generate(user=user, ip=client_ip(request))
        return render(request, "accounts/recovery_codes.html", {"codes": codes, "next": _next_url(request)})
    messages.success(request, "Second factor added.")
    return redirect(_next_url(request) if first else "second_factor:manage")


@require_http_methods(["GET", "POST"])
def second_factor_enrol(request: HttpRequest) -> HttpResponse:
    """First enrolment right after the password, or adding a factor from a verified session. A session
    that has only the password of someone already enrolled cannot add one (it must verify first)."""
    user = request_user(request)
    if second_factors_of(user=user).enrolled and not _verified(request):
        return redirect("second_factor:verify")
    status = 200
    if request.method == "POST":
        try:
            if request.POST.get("action") == "passkey":
                raw = request.session.pop(REGISTRATION_CHALLENGE, "")
                passkey_register(
                    user=user,
                    name=request.POST.get("name", ""),
                    response_json=request.POST.get("passkey_response", ""),
                    challenge=base64.urlsafe_b64decode(raw) if raw else b"",
                    ip=client_ip(request),
                )
                method = "webauthn"
            else:
                totp_enrol_confirm(user=user, code=request.POST.get("code", ""), ip=client_ip(request))
                method = "totp"
        except (EnrolmentRefused, PasskeyInvalid) as exc:
            messages.error(request, f"{exc} Nothing was changed.")
            status = 400
        else:
            return _finish_enrolment(request, method=method)
    device = totp_enrol_pending(user=user) or totp_enrol_start(user=user)
    qr = segno.make(device.config_url, error="m")
    context: dict[str, Any] = {
        "secret": totp_secret_base32(device=device),
        "otpauth": device.config_url,
        "qr_svg": qr.svg_inline(scale=4),
        "registration_options": _registration_options(request),
        "next": _next_url(request),
        "factors": second_factors_of(user=user),
        "half_signed_in": not request.session.get(SESSION_KEY),
    }
    return render(request, "accounts/second_factor_enrol.html", context, status=status)


@require_http_methods(["GET"])
def second_factor_manage(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    context = {
        "factors": second_factors_of(user=user),
        "passkeys": user.passkeys.order_by("created_at"),
        "stepup": stepup_challenge(user=user, purpose="recovery.regenerate"),
    }
    return render(request, "accounts/second_factor_manage.html", context)


@require_POST
def recovery_codes_regenerate(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    try:
        stepup_verify(user=user, data=request.POST, purpose="recovery.regenerate", ip=client_ip(request))
    except StepUpRefused as exc:
        messages.error(request, str(exc))
        return redirect("second_factor:manage")
    codes = recovery_codes_generate(user=user, ip=client_ip(request))
    return render(request, "accounts/recovery_codes.html", {"codes": codes, "next": "/account/security/"})


@require_POST
def passkey_delete(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        passkey_remove(user=request_user(request), credential_id=pk, ip=client_ip(request))
    except EnrolmentRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Passkey removed.")
    return redirect("second_factor:manage")
