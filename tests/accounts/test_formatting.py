"""One formatting for money and time (accounts.formatting, the `display` template filters)."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from decimal import Decimal

import pytest
from django.template import Context, Template
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from accounts.formatting import diff_rows, money_text, when_text

money_values = st.decimals(
    min_value=Decimal("-1e15"), max_value=Decimal("1e15"), places=18, allow_nan=False, allow_infinity=False
)


@given(money_values)
def test_money_is_exact_plain_and_grouped(value: Decimal) -> None:
    text = money_text(value)
    assert "E" not in text
    assert "e" not in text
    assert Decimal(text.replace(",", "")) == value  # nothing lost
    if "." in text:
        assert not text.endswith("0")  # no trailing zeros
        assert not text.endswith(".")
    whole = text.lstrip("-").split(".")[0]
    groups = whole.split(",")
    assert all(len(g) == 3 for g in groups[1:])
    assert 1 <= len(groups[0]) <= 3


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("0.050000000000000000", "0.05"),
        (Decimal("10000.000000000000000000"), "10,000"),
        (Decimal("1E+4"), "10,000"),
        ("99999999", "99,999,999"),
        ("1234567.891", "1,234,567.891"),
        ("0.00000001", "0.00000001"),
        (Decimal("-0.000"), "0"),
        (None, ""),
        ("n/a", "n/a"),
    ],
)
def test_money_examples(value: object, shown: str) -> None:
    assert money_text(value) == shown


def test_audit_label_of_a_request_has_no_18_decimals(db: None) -> None:
    from tests.transfers.workflow_support import grant, make_main_key_set, member, new_request
    from transfers.models import TransferRequest

    alice, bob = member("alice", "requester"), member("bob", "approver")
    key_set = make_main_key_set()
    grant(key_set, alice, request=True)
    grant(key_set, bob, approve=True)
    req = new_request(requester=alice, key_set=key_set, asset="BTC", amount="0.05")
    assert str(TransferRequest.objects.get(pk=req.pk)).startswith(f"#{req.pk} 0.05 BTC")


def test_time_is_shown_in_the_active_zone_with_the_zone_named() -> None:
    moment = dt.datetime(2026, 7, 1, 10, 0, 5, tzinfo=dt.UTC)
    assert when_text(moment) == "2026-07-01 10:00:05 UTC"
    with timezone.override(zoneinfo.ZoneInfo("Europe/Berlin")):
        assert when_text(moment) == "2026-07-01 12:00:05 CEST"
        assert when_text(moment, seconds=False) == "2026-07-01 12:00 CEST"
    with timezone.override(zoneinfo.ZoneInfo("Asia/Kolkata")):
        assert when_text(moment) == "2026-07-01 15:30:05 IST"


def test_filters_in_a_template() -> None:
    html = Template("{% load display %}{{ a|money }} · {{ t|when }}").render(
        Context({"a": Decimal("1234.5000"), "t": dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)})
    )
    assert html == "1,234.5 · 2026-01-02 03:04:05 UTC"


def test_before_after_diff_is_readable() -> None:
    rows = diff_rows(
        {"status": "pending", "limit": "10000.000000000000000000"},
        {"status": "approved", "limit": "10000.000000000000000000", "stale_requests": 3},
    )
    assert rows == [
        ("status", "pending", "approved", True),
        ("limit", "10,000", "10,000", False),
        ("stale requests", "—", "3", True),
    ]
