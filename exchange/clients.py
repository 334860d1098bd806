"""The one place a key set becomes a signed BingX client, wired to the shared rate limiter."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings

from bingx import CallInfo, Client
from bingx.errors import RATE_LIMIT_CODES, parse_retry_after_ms
from exchange import health, ratelimit
from exchange.base_urls import base_url_ensure
from exchange.credentials import KeySetLike


def pacer_for(*, key_set: KeySetLike) -> ratelimit.Pacer:
    """Tokens from the shared rate limiter (exchange.ratelimit) per (BingX UID, endpoint), so every
    process on every machine stays under BingX's limits, counted from each call's answer."""
    return ratelimit.Pacer(scope=ratelimit.scope_for(uid=key_set.uid, key_set_id=key_set.pk))


def on_response_hook(
    *, key_set: KeySetLike, client: Client, pacer: ratelimit.Pacer | None = None
) -> Callable[[CallInfo], None]:
    """An `on_response=` callable: settles the call's rate-limit token, and a 100410 answer blocks
    that endpoint for every process until the time BingX names (read on the exchange clock, hence
    the client's server-time offset)."""
    scope = ratelimit.scope_for(uid=key_set.uid, key_set_id=key_set.pk)

    def hook(info: CallInfo) -> None:
        if pacer is not None:
            pacer.after_response(info.path)
        # what the banner "exchange unreachable" reads (exchange.health)
        health.exchange_call_record(
            base_url=info.base_url, answered=health.exchange_answered(info.http_status)
        )
        if info.code in RATE_LIMIT_CODES or info.http_status in (418, 429):
            named = parse_retry_after_ms(info.msg)
            retry_in = None if named is None else named - (int(time.time() * 1000) + client.time_offset_ms)
            ratelimit.block(scope=scope, path=info.path, retry_in_ms=retry_in)

    return hook


def client_for(*, key_set: KeySetLike) -> Client:
    """A client signing with this key set's credentials. Fails closed with CredentialsUnavailable
    (accounts.crypto.SecretUnavailable for a stored key set; exchange.base_urls.BaseUrlRefused for a
    server the key set may not call, e.g. one saved before the policy) before anything is sent."""
    base_url_ensure(environment=key_set.environment, base_url=key_set.base_url)
    api_key, secret = key_set.credentials()
    pacer = pacer_for(key_set=key_set)
    client = Client(
        api_key,
        secret,
        base_url=key_set.base_url,
        timeout=(settings.BINGX_TIMEOUT_CONNECT, settings.BINGX_TIMEOUT_READ),
        before_request=pacer.before_request,
    )
    client.on_response = on_response_hook(key_set=key_set, client=client, pacer=pacer)
    return client


def page_client_for(*, key_set: KeySetLike) -> Client:
    """A client for a call a person waits on (a page, a button): a short timeout
    (settings.EXCHANGE_PAGE_TIMEOUT_SECONDS) and no read retries, so a slow or frozen exchange costs
    the page seconds, not the 30 s of three 10 s reads. Workers keep `client_for`."""
    client = client_for(key_set=key_set)
    timeout = float(settings.EXCHANGE_PAGE_TIMEOUT_SECONDS)
    client.timeout = (min(float(settings.BINGX_TIMEOUT_CONNECT), timeout), timeout)
    client.read_retries = 0
    return client
