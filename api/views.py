"""Pages of the api app: a person's own API tokens; webhook endpoints, their deliveries and attempts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts.access import AccessDenied, user_is_admin
from accounts.web import client_ip, request_user
from api.forms import EndpointForm, TokenForm
from api.models import WebhookDelivery, WebhookEndpoint
from api.services import webhooks as webhooks
from api.services.tokens import (
    TokenRefused,
    api_token_create,
    api_token_revoke,
    tokens_all,
    tokens_of,
)


@require_http_methods(["GET", "POST"])
def tokens(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    form = TokenForm(request.POST or None, user=user)
    created = None
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            d = form.cleaned_data
            try:
                token, raw = api_token_create(
                    user=user,
                    name=d["name"],
                    days=d["days"],
                    scope=d["scope"],
                    key_set_ids=[ks.pk for ks in d["key_sets"]],
                    allowed_ips=(d["allowed_ips"] or "").splitlines(),
                    ip=client_ip(request),
                )
            except TokenRefused as exc:
                form.add_error(None, str(exc))
            else:
                created = {"token": token, "raw": raw}
                form = TokenForm(user=user)
                status = 201
    is_admin = user_is_admin(user=user)
    others = tokens_all(actor=user).exclude(user=user).filter(revoked_at__isnull=True) if is_admin else []
    return render(
        request,
        "api/tokens.html",
        {
            "form": form,
            "created": created,
            "tokens": tokens_of(user=user),
            "others": others,
            "is_admin": is_admin,
        },
        status=status,
    )


@require_POST
def token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        token = api_token_revoke(actor=request_user(request), token_id=pk, ip=client_ip(request))
    except TokenRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Token “{token.name}” ({token.prefix}…) revoked.")
    return redirect("api:tokens")


def _admin(request: HttpRequest) -> Any:
    user = request_user(request)
    if not user_is_admin(user=user):
        raise PermissionDenied("Only administrators manage webhooks.")
    return user


@require_http_methods(["GET", "POST"])
def webhooks_list(request: HttpRequest) -> HttpResponse:
    user = _admin(request)
    form = EndpointForm(request.POST or None)
    created = None
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            d = form.cleaned_data
            try:
                endpoint, secret = webhooks.webhook_endpoint_request(
                    actor=user,
                    url=d["url"],
                    event_types=d["event_types"],
                    description=d["description"],
                    ip=client_ip(request),
                )
            except webhooks.WebhookRefused as exc:
                form.add_error(None, str(exc))
            else:
                created = {"endpoint": endpoint, "secret": secret}
                form = EndpointForm()
                status = 201
    return render(
        request,
        "api/webhooks.html",
        {"form": form, "created": created, "endpoints": webhooks.endpoints_list(actor=user)},
        status=status,
    )


def webhook_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = _admin(request)
    try:
        endpoint = webhooks.endpoint_get(actor=user, endpoint_id=pk)
    except WebhookEndpoint.DoesNotExist:
        return render(request, "api/webhook_detail.html", {"endpoint": None}, status=404)
    deliveries = (
        WebhookDelivery.objects.filter(endpoint=endpoint)
        .prefetch_related("attempts")
        .order_by("-created_at", "-id")[:100]
    )
    return render(
        request, "api/webhook_detail.html", {"endpoint": endpoint, "deliveries": deliveries, "user": user}
    )


def _act(request: HttpRequest, pk: int, action: Callable[..., Any], done: str, **extra: Any) -> HttpResponse:
    user = _admin(request)
    try:
        action(actor=user, endpoint_id=pk, ip=client_ip(request), **extra)
    except (webhooks.WebhookRefused, AccessDenied) as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, done)
    return redirect("api:webhook_detail", pk=pk)


@require_POST
def webhook_approve(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        webhooks.webhook_endpoint_approve,
        "Endpoint approved: it receives events now.",
        stepup=request.POST,
    )


@require_POST
def webhook_reject(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(request, pk, webhooks.webhook_endpoint_reject, "Endpoint rejected.", stepup=request.POST)


@require_POST
def webhook_remove(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request, pk, webhooks.webhook_endpoint_remove, "Endpoint removed: nothing more is sent to it."
    )


@require_POST
def webhook_resume(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(
        request, pk, webhooks.webhook_endpoint_resume, "Endpoint resumed; its pending deliveries go again."
    )


@require_POST
def webhook_redeliver(request: HttpRequest, pk: int) -> HttpResponse:
    user = _admin(request)
    delivery = WebhookDelivery.objects.filter(pk=pk).first()
    if delivery is None:
        messages.error(request, "No such delivery.")
        return redirect("api:webhooks")
    try:
        webhooks.webhook_redeliver(actor=user, delivery_id=pk, ip=client_ip(request))
    except webhooks.WebhookRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Delivery #{pk} is being sent again.")
    return redirect("api:webhook_detail", pk=delivery.endpoint_id)
