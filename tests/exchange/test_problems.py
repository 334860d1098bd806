"""exchange_problem: every BingX failure family becomes a message an operator can act on."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from bingx.endpoints import FUND_BALANCE, INNER_TRANSFER_APPLY, SPOT_BALANCE, TRANSFER_RECORDS
from bingx.errors import (
    Ambiguous,
    AuthenticationError,
    BingXError,
    IPNotWhitelisted,
    NotSent,
    PermissionDenied,
    RateLimited,
    TimestampError,
)
from exchange.credentials import CredentialsUnavailable
from exchange.problems import ExchangeProblem, exchange_problem


@dataclass
class FakeKeySet:
    pk: int = 7
    uid: int | None = 10000001
    base_url: str = "http://127.0.0.1:8100"
    environment: str = "sandbox"

    def credentials(self) -> tuple[str, str]:
        raise AssertionError("exchange_problem never needs the credentials")


def problem(exc: Exception) -> ExchangeProblem:
    return exchange_problem(exc=exc, key_set=FakeKeySet())


def test_credentials_unavailable_is_shown_as_is():
    found = problem(CredentialsUnavailable("The stored API secret cannot be decrypted."))
    assert (found.kind, found.message, found.code) == (
        "secret",
        "The stored API secret cannot be decrypted.",
        None,
    )


def test_accounts_secret_unavailable_is_a_credentials_problem():
    from accounts.crypto import SecretUnavailable

    assert issubclass(SecretUnavailable, CredentialsUnavailable)
    assert problem(SecretUnavailable("nope")).kind == "secret"


def test_anything_else_names_only_the_exception_type():
    found = problem(RuntimeError("secret=abc internal detail"))
    assert found.kind == "error"
    assert found.message == "Unexpected failure talking to BingX (RuntimeError)."


@pytest.mark.parametrize(
    ("exc", "kind", "starts"),
    [
        (AuthenticationError("bad sig", code=100001), "auth", "Wrong API key or secret"),
        (IPNotWhitelisted("ip", code=100419), "ip", "IP not whitelisted"),
        (TimestampError("ts", code=100421), "clock", "Clock skew"),
        (NotSent("refused"), "unreachable", "Could not reach BingX at http://127.0.0.1:8100"),
        (Ambiguous("timeout", http_status=504), "unreachable", "BingX at http://127.0.0.1:8100 did not"),
        (BingXError("odd", code=123456), "rejected", "BingX refused the call (BingX code 123456): odd"),
    ],
)
def test_each_family_has_its_message(exc, kind, starts):
    found = problem(exc)
    assert found.kind == kind
    assert found.message.startswith(starts)


def test_code_falls_back_to_the_http_status():
    assert problem(Ambiguous("gateway", http_status=504)).code == 504
    assert problem(AuthenticationError("x", code=100001, http_status=200)).code == 100001


def test_rate_limit_names_the_time_in_utc_or_the_wait():
    # 2024-01-02 03:04:05.678 UTC
    after = problem(RateLimited("x", code=100410, retry_after_ms=1704164645678))
    assert after.kind == "rate_limit"
    assert (
        after.message == "Rate limited by BingX (BingX code 100410): try again after 2024-01-02 03:04:05 UTC."
    )
    assert problem(RateLimited("x", code=100410, retry_in_ms=2400)).message.endswith(
        "try again in 2 seconds."
    )
    assert problem(RateLimited("x", code=100410, retry_in_ms=10)).message.endswith("try again in 1 seconds.")
    assert problem(RateLimited("x", code=100410)).message.endswith("try again in a few minutes.")


@pytest.mark.parametrize(
    ("path", "needed"),
    [
        (FUND_BALANCE.path, "permission 4 (Universal transfer)"),
        (TRANSFER_RECORDS.path, "permission 4 (Universal transfer)"),
        (SPOT_BALANCE.path, "permission 2 (Read)"),
        (INNER_TRANSFER_APPLY.path, "permission 5 (Withdraw)"),
        ("/openApi/not/in/the/table", "permission 2 (Read)"),
        (None, "permission 2 (Read)"),
    ],
)
def test_missing_permission_is_read_from_the_endpoint_table(path, needed):
    found = problem(PermissionDenied("denied", code=100004, path=path))
    assert found.kind == "permission"
    assert found.message.startswith(f"Permission missing: the key lacks {needed}, which this call needs")


def test_the_desks_own_limiter_saying_not_now_reads_as_a_wait_not_a_failure():
    from exchange.ratelimit import RateLimitUnavailable

    problem = exchange_problem(
        exc=RateLimitUnavailable("no token within 10 s", retry_in=6.4), key_set=FakeKeySet()
    )
    assert problem.kind == "rate_limit"
    assert problem.message.startswith("Too many requests to BingX for this account right now")
    assert "nothing was sent" in problem.message
    assert problem.message.endswith("Try again in 6 s.")
    assert "Unexpected" not in problem.message
