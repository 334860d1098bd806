"""client_for: any KeySetLike becomes a signed client with the settings' timeouts and the shared
limiter's hooks; it fails closed before anything is built when the credentials are unavailable."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

import pytest

from bingx import CallInfo, Client
from bingx.endpoints import INNER_TRANSFER_APPLY
from exchange import ratelimit
from exchange.clients import client_for, on_response_hook
from exchange.credentials import CredentialsUnavailable, KeySetLike

API_KEY = "fake-api-key-0123456789abcdefABCDEF"
SECRET = "fake-secret-0123456789abcdefABCDEF"


@dataclass
class FakeKeySet:
    pk: int = 7
    uid: int | None = None
    base_url: str = "http://127.0.0.1:9"
    environment: str = "sandbox"
    asked: list[str] = field(default_factory=list)
    fail: bool = False

    def credentials(self) -> tuple[str, str]:
        self.asked.append("credentials")
        if self.fail:
            raise CredentialsUnavailable("No API secret is stored for this key set.")
        return API_KEY, SECRET


@pytest.fixture
def file_limiter(settings, tmp_path):
    settings.RATE_LIMIT_URL = ""
    settings.VAR_DIR = tmp_path
    settings.BINGX_RATE_LIMIT_SCALE = 1.0


def test_the_client_signs_with_the_key_sets_credentials_and_the_settings_timeouts(settings, file_limiter):
    settings.BINGX_TIMEOUT_CONNECT, settings.BINGX_TIMEOUT_READ = 1.5, 7.0
    key_set = FakeKeySet(uid=10000001)
    client = client_for(key_set=key_set)
    assert isinstance(client, Client)
    assert key_set.asked == ["credentials"]
    assert client.api_key == API_KEY
    assert client.base_url == key_set.base_url
    assert client.timeout == (1.5, 7.0)
    assert client.before_request is not None
    assert client.on_response is not None
    assert SECRET not in repr(client)


def test_unavailable_credentials_fail_closed():
    with pytest.raises(CredentialsUnavailable, match="No API secret"):
        client_for(key_set=FakeKeySet(fail=True))


def test_the_client_takes_rate_limit_tokens_per_uid_and_endpoint(file_limiter):
    key_set = FakeKeySet(pk=uuid.uuid4().int % 10**9, uid=None)  # no UID yet: scoped by key set id
    client = client_for(key_set=key_set)
    assert client.before_request is not None
    client.before_request("POST", INNER_TRANSFER_APPLY.path)
    client.before_request("POST", INNER_TRANSFER_APPLY.path)
    scope = ratelimit.scope_for(uid=None, key_set_id=key_set.pk)
    with pytest.raises(ratelimit.RateLimitUnavailable):
        ratelimit.acquire(scope=scope, path=INNER_TRANSFER_APPLY.path, max_wait=0.2)


def test_a_100410_answer_blocks_the_endpoint_for_every_process(file_limiter):
    key_set = FakeKeySet(uid=uuid.uuid4().int % 10**9)
    client = client_for(key_set=key_set)
    hook = on_response_hook(key_set=key_set, client=client)
    unblocked_at = int(time.time() * 1000) + client.time_offset_ms + 3000
    hook(
        CallInfo(
            method="POST",
            path=INNER_TRANSFER_APPLY.path,
            params={},
            http_status=200,
            code=100410,
            msg=f"rate limited, unblocked after {unblocked_at}",
            duration_ms=5,
        )
    )
    scope = ratelimit.scope_for(uid=key_set.uid, key_set_id=key_set.pk)
    with pytest.raises(ratelimit.RateLimitUnavailable) as info:
        ratelimit.acquire(scope=scope, path=INNER_TRANSFER_APPLY.path, max_wait=0.5)
    assert info.value.retry_in > 2


def test_an_ordinary_answer_blocks_nothing(file_limiter):
    key_set = FakeKeySet(uid=uuid.uuid4().int % 10**9)
    client = client_for(key_set=key_set)
    hook = on_response_hook(key_set=key_set, client=client)
    hook(CallInfo("POST", INNER_TRANSFER_APPLY.path, {}, 200, 0, "", 5))
    scope = ratelimit.scope_for(uid=key_set.uid, key_set_id=key_set.pk)
    started = time.monotonic()
    ratelimit.acquire(scope=scope, path=INNER_TRANSFER_APPLY.path, max_wait=0.2)
    assert time.monotonic() - started < 0.2


def test_the_stored_key_set_model_is_a_key_set_like():
    from accounts.models import ApiKeySet

    key_set: KeySetLike = ApiKeySet(uid=1, base_url="http://127.0.0.1:9")  # type-checked by mypy
    assert callable(key_set.credentials)
