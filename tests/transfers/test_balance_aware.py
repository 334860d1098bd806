"""Balance-aware requests (issue 13, part 1): the amount is a plain decimal, it is compared with what
BingX last said is available (read again when older than TRANSFER_BALANCE_MAX_AGE_SECONDS, with a
short timeout and no retries), above it only with an audited override, and approvers see it.

The key sets talk to the in-process sandbox exchange over HTTP (the demo main account holds
10000 USDT, 0.5 BTC and 4 ETH in its funding wallet, 2500 USDT and 0.1 BTC in spot)."""

from __future__ import annotations

import re
import time
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from hypothesis import given, settings
from hypothesis import strategies as st

from accounts.models import AuditEvent, User
from bingx import endpoints
from tests.transfers.execution_support import MAIN_UID, Sandbox, make_key_set
from tests.transfers.workflow_support import grant, make_main_key_set
from transfers.amounts import AmountTextError, amount_parse_text
from transfers.available import available_for
from transfers.balance_selectors import balance_facts_one, over_balance_among
from transfers.models import Status, TransferKind, TransferRequest
from transfers.refusals import RequestRefused
from transfers.services.requests import OverBalance, transfer_request_create

SUPPORT_COINS = endpoints.ASSET_TRANSFER_SUPPORT_COINS.path
FUND_TO_SPOT = {"from_wallet": "fund", "to_wallet": "spot"}
PLAIN = re.compile(r"[0-9]+(\.[0-9]+)?", re.ASCII)


@pytest.fixture
def desk(db: None, sandbox: Sandbox, limiter_dir: Any, alice: User, bob: User, carol: User) -> Any:
    key_set = make_key_set(sandbox=sandbox, uid=MAIN_UID, label="Demo main")
    key_set.permissions = [1, 2, 4, 5]
    key_set.save(update_fields=["permissions"])
    grant(key_set, alice, request=True, approve=True)
    grant(key_set, bob, approve=True)
    grant(key_set, carol, approve=True)
    return key_set


def submit(
    *, requester: User, key_set: Any, amount: Any, asset: str = "USDT", **extra: Any
) -> TransferRequest:
    return transfer_request_create(
        requester=requester,
        key_set_id=key_set.pk,
        kind=TransferKind.WALLET,
        asset=asset,
        amount=amount,
        fields=dict(FUND_TO_SPOT),
        **extra,
    )


def support_calls(sandbox: Sandbox) -> int:
    return len(sandbox.calls(SUPPORT_COINS))


# --- amounts: plain decimals only -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1e3", "no exponent"),
        ("1E3", "no exponent"),
        (" 25 ", "Remove the spaces"),
        ("25 ", "Remove the spaces"),
        ("1 000", "Remove the spaces"),
        ("1\u00a0000", "Remove the spaces"),
        ("1,000", "no thousands separators"),
        ("1'000", "no thousands separators"),
        ("25,5", "no thousands separators"),
        ("1_000", "no thousands separators"),
        ("+5", "without a sign"),
        ("-5", "greater than zero"),
        ("٢٥", "plain decimal"),  # Arabic-Indic digits: Decimal() would take them
        ("\uff12\uff15", "plain decimal"),  # full-width digits
        ("NaN", "plain decimal"),
        ("Infinity", "plain decimal"),
        ("0x10", "plain decimal"),
        ("5.", "plain decimal"),
        (".5", "plain decimal"),
        ("", "Enter the amount"),
    ],
)
def test_typed_amount_must_be_a_plain_decimal(text: str, message: str) -> None:
    with pytest.raises(AmountTextError, match=message):
        amount_parse_text(text)


@pytest.mark.parametrize("text", ["25", "0.015", "1000.12345678", "007"])
def test_plain_decimals_are_taken_exactly(text: str) -> None:
    assert amount_parse_text(text) == Decimal(text)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=20))
def test_any_text_that_is_not_a_plain_decimal_is_refused_with_a_message(text: str) -> None:
    if PLAIN.fullmatch(text):
        assert amount_parse_text(text) == Decimal(text)
        return
    with pytest.raises(AmountTextError) as caught:
        amount_parse_text(text)
    assert str(caught.value).strip()  # always a message for the person


@settings(max_examples=200, deadline=None)
@given(st.decimals(min_value=Decimal("0.00000001"), max_value=Decimal("1e14"), places=8))
def test_every_plain_amount_round_trips(amount: Decimal) -> None:
    text = format(amount, "f")
    assert amount_parse_text(text) == amount


@pytest.mark.parametrize("text", ["1e3", " 25 ", "1,000"])
def test_service_refuses_a_typed_amount_that_is_not_plain_and_stores_nothing(alice: User, text: str) -> None:
    key_set = make_main_key_set()
    grant(key_set, alice, request=True)
    with pytest.raises(RequestRefused):
        submit(requester=alice, key_set=key_set, amount=text)
    assert not TransferRequest.objects.exists()


# --- the balance check against the exchange -------------------------------------------------------


def test_above_the_available_balance_is_refused_and_nothing_is_stored(desk: Any, alice: User) -> None:
    with pytest.raises(OverBalance, match=r"Only 10000 USDT is available in fund → spot .*99999999 USDT"):
        submit(requester=alice, key_set=desk, amount="99999999")
    assert not TransferRequest.objects.exists()


def test_up_to_the_available_balance_passes_and_the_check_is_audited(desk: Any, alice: User) -> None:
    req = submit(requester=alice, key_set=desk, amount="10000")
    event = AuditEvent.objects.get(verb="transfer.request", object_id=str(req.pk))
    check = event.after["balance_check"]
    assert check["check"] == "ok"
    assert check["available"] == "10000"
    assert check["origin"] == "exchange"
    assert not AuditEvent.objects.filter(verb="transfer.balance_override").exists()


def test_an_asset_the_exchange_does_not_list_is_refused_naming_what_it_lists(desk: Any, alice: User) -> None:
    with pytest.raises(OverBalance, match=r"lists no DOGE .*it lists BTC, ETH, USDT"):
        submit(requester=alice, key_set=desk, amount="1", asset="DOGE")


def test_override_needs_a_reason_is_audited_and_shown_to_approvers(desk: Any, alice: User, bob: User) -> None:
    with pytest.raises(OverBalance):
        submit(requester=alice, key_set=desk, amount="12000", balance_override_reason="   ")
    req = submit(
        requester=alice, key_set=desk, amount="12000", balance_override_reason="deposit of 5000 lands at noon"
    )
    override = AuditEvent.objects.get(verb="transfer.balance_override", object_id=str(req.pk))
    assert override.actor_id == alice.pk
    assert override.after["override_reason"] == "deposit of 5000 lands at noon"
    assert override.after["available"] == "10000"
    assert override.after["amount"] == "12000"

    facts = balance_facts_one(user=bob, req=req)
    assert facts is not None
    assert facts.check == "override"
    assert facts.override_reason == "deposit of 5000 lands at noon"
    assert facts.balance_after == Decimal("-2000")
    assert [f.request_id for f in over_balance_among(user=bob, requests=[req])] == [req.pk]

    c = Client()
    c.force_login(bob)
    detail = c.get(reverse("transfers:request_detail", args=[req.pk])).content.decode()
    assert "deposit of 5000 lands at noon" in detail
    assert 'id="balance-after"' in detail
    assert re.search(r"-2,?000 USDT", detail)
    queue = c.get(reverse("transfers:queue")).content.decode()
    assert f'id="over-balance-{req.pk}"' in queue


def test_a_request_within_the_balance_is_not_flagged_in_the_queue(desk: Any, alice: User, bob: User) -> None:
    req = submit(requester=alice, key_set=desk, amount="25")
    facts = balance_facts_one(user=bob, req=req)
    assert facts is not None
    assert facts.balance_after == Decimal("9975")
    c = Client()
    c.force_login(bob)
    assert f'id="over-balance-{req.pk}"' not in c.get(reverse("transfers:queue")).content.decode()


def test_the_last_answer_is_reused_while_young_and_read_again_when_old(
    desk: Any, alice: User, sandbox: Sandbox, settings: Any
) -> None:
    settings.TRANSFER_BALANCE_MAX_AGE_SECONDS = 60
    submit(requester=alice, key_set=desk, amount="1")
    first = support_calls(sandbox)
    submit(requester=alice, key_set=desk, amount="1")
    assert support_calls(sandbox) == first  # young: no second read
    settings.TRANSFER_BALANCE_MAX_AGE_SECONDS = 0
    time.sleep(1.1)
    submit(requester=alice, key_set=desk, amount="1")
    assert support_calls(sandbox) == first + 1


def test_exchange_down_falls_back_to_the_last_answer_with_its_age_without_retrying(
    desk: Any, alice: User, sandbox: Sandbox, settings: Any
) -> None:
    available_for(key_set=desk, kind=TransferKind.WALLET, fields=FUND_TO_SPOT)  # remembered
    settings.TRANSFER_BALANCE_MAX_AGE_SECONDS = 0
    time.sleep(1.1)
    sandbox.fault(SUPPORT_COINS, "http_500", count=3)
    before = support_calls(sandbox)
    a = available_for(key_set=desk, kind=TransferKind.WALLET, fields=FUND_TO_SPOT)
    assert support_calls(sandbox) == before + 1  # one attempt, no retries at page time
    assert a.problem
    assert a.origin == "last known"
    assert not a.fresh
    assert a.amount("USDT") == Decimal("10000")
    assert a.age_seconds is not None
    assert a.age_seconds >= 1
    # The check still holds against the last known figure.
    with pytest.raises(OverBalance, match="as BingX said"):
        submit(requester=alice, key_set=desk, amount="10001")


def test_a_slow_exchange_costs_the_page_the_short_timeout_only(
    desk: Any, sandbox: Sandbox, settings: Any
) -> None:
    settings.TRANSFER_BALANCE_READ_TIMEOUT_SECONDS = 0.5
    sandbox.fault(SUPPORT_COINS, "slow", delay=5, count=1)
    started = time.monotonic()
    a = available_for(key_set=desk, kind=TransferKind.WALLET, fields=FUND_TO_SPOT)
    elapsed = time.monotonic() - started
    print(f"available read against a 5 s slow exchange returned in {elapsed:.2f} s")
    assert elapsed < 2.0
    assert not a.known
    assert a.problem


def test_unreachable_exchange_and_nothing_known_accepts_and_records_not_checked(
    alice: User, bob: User
) -> None:
    key_set = make_main_key_set()  # an address nothing listens on
    grant(key_set, alice, request=True)
    grant(key_set, bob, approve=True)
    req = submit(requester=alice, key_set=key_set, amount="99999999")
    event = AuditEvent.objects.get(verb="transfer.request", object_id=str(req.pk))
    assert event.after["balance_check"]["check"] == "unknown"
    assert event.after["balance_check"]["available"] is None
    c = Client()
    c.force_login(bob)
    assert "not checked" in c.get(reverse("transfers:request_detail", args=[req.pk])).content.decode()


# --- the form and the Available panel --------------------------------------------------------------


def _post_form(user: User, key_set: Any, **data: Any) -> Any:
    c = Client()
    c.force_login(user)
    body = {"kind": "wallet", "key_set": key_set.pk, "asset": "USDT", "note": "", **FUND_TO_SPOT, **data}
    return c.post(reverse("transfers:request_new"), body)


@pytest.mark.parametrize(("amount", "message"), [(" 25 ", "Remove the spaces"), ("1e3", "no exponent")])
def test_form_shows_why_an_amount_is_refused(desk: Any, alice: User, amount: str, message: str) -> None:
    response = _post_form(alice, desk, amount=amount)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not TransferRequest.objects.exists()


def test_form_refuses_above_available_then_accepts_the_override_with_reason(desk: Any, alice: User) -> None:
    response = _post_form(alice, desk, amount="20000")
    assert response.status_code == 400
    page = response.content.decode()
    assert "Only 10000 USDT is available" in page
    assert '<details id="balance-override" open>' in page
    response = _post_form(alice, desk, amount="20000", balance_override="on")
    assert response.status_code == 400
    assert "Say why" in response.content.decode()
    response = _post_form(
        alice, desk, amount="20000", balance_override="on", balance_override_reason="top-up"
    )
    assert response.status_code == 302
    req = TransferRequest.objects.get()
    assert req.status == Status.PENDING
    assert req.amount == Decimal("20000")


def test_reason_without_the_box_ticked_overrides_nothing(desk: Any, alice: User) -> None:
    response = _post_form(alice, desk, amount="20000", balance_override_reason="forgot the box")
    assert response.status_code == 400
    assert not TransferRequest.objects.exists()


def test_available_panel_names_an_unknown_asset_and_offers_max_as_plain_text(desk: Any, alice: User) -> None:
    c = Client()
    c.force_login(alice)
    url = reverse("transfers:request_available")
    query = {"kind": "wallet", "key_set": desk.pk, **FUND_TO_SPOT}
    page = c.get(url, {**query, "asset": "doge"}).content.decode()
    assert "BingX lists no DOGE that can be moved from here; it lists BTC, ETH, USDT." in page
    page = c.get(url, {**query, "asset": "USDT", "amount": "20000"}).content.decode()
    assert 'data-max-asset="USDT" data-max-amount="10000"' in page
    assert 'id="available-over"' in page
    assert '<option value="BTC">' in page  # the asset picker's choices


def test_available_panel_answers_within_the_short_timeout_when_the_exchange_hangs(
    desk: Any, alice: User, sandbox: Sandbox, settings: Any
) -> None:
    c = Client()
    c.force_login(alice)
    url = reverse("transfers:request_available")
    query = {"kind": "wallet", "key_set": desk.pk, "asset": "USDT", **FUND_TO_SPOT}
    assert "read from BingX just now" in c.get(url, query).content.decode()
    settings.TRANSFER_BALANCE_MAX_AGE_SECONDS = 0
    settings.TRANSFER_BALANCE_READ_TIMEOUT_SECONDS = 1.0
    time.sleep(1.1)
    sandbox.fault(SUPPORT_COINS, "slow", delay=15, count=3)
    started = time.monotonic()
    page = c.get(url, query).content.decode()
    elapsed = time.monotonic() - started
    print(f"Available panel with the exchange hanging: {elapsed:.2f} s (read timeout 1 s, no retries)")
    assert elapsed < 2.5
    assert 'id="available-problem"' in page
    assert "Showing the last known figures." in page
    assert re.search(r"last known, \d+ s ago", page)
    assert 'data-max-amount="10000"' in page
