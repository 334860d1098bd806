"""The canonical payload: stable text, stable hash, plain decimal amounts, tamper detection."""

import json
from decimal import Decimal

import pytest

from tests.transfers.workflow_support import MAIN_UID, SUB1_UID
from transfers.payload import (
    PayloadError,
    amount_clean,
    amount_text,
    asset_clean,
    new_client_id,
    payload_build,
    payload_json,
    payload_sha256,
    payload_verify,
)


@pytest.mark.parametrize(
    ("raw", "text"),
    [("100", "100"), ("1E+2", "100"), ("10.50", "10.5"), ("0.00000001", "0.00000001"), ("25.000", "25")],
)
def test_amount_is_a_plain_normalised_decimal_string(raw, text):
    assert amount_text(amount_clean(raw)) == text


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("0", "greater than zero"),
        ("-1", "greater than zero"),
        ("abc", "decimal number"),
        ("NaN", "decimal number"),
        ("Infinity", "decimal number"),
        ("0.000000001", "8 decimal places"),
        ("", "decimal number"),
    ],
)
def test_bad_amounts_are_refused_with_a_reason(raw, message):
    with pytest.raises(PayloadError, match=message):
        amount_clean(raw)


def test_floats_are_never_accepted():
    with pytest.raises(PayloadError, match="never floats"):
        amount_clean(0.1)


def test_asset_is_upper_case_and_checked():
    assert asset_clean(" usdt ") == "USDT"
    with pytest.raises(PayloadError):
        asset_clean("US-DT")
    with pytest.raises(PayloadError):
        asset_clean("")


@pytest.mark.parametrize(
    "raw", ["ß", "straße", "\ufb01", "\uff35\uff33\uff24\uff34", "USD\u0166", "US DT", "\u0663", "\u00b2"]
)
def test_asset_accepts_ascii_symbols_only(raw):
    # Unicode upper-casing would turn "ß" into "SS" and "ﬁ" into "FI"; nothing outside A-Z/0-9 gets in.
    with pytest.raises(PayloadError, match="A-Z"):
        asset_clean(raw)


def test_client_id_is_32_alphanumeric_characters():
    ids = {new_client_id() for _ in range(50)}
    assert len(ids) == 50
    assert all(len(i) == 32 and i.isalnum() for i in ids)


def test_payload_is_canonical_and_hash_is_of_sorted_compact_json(key_set):
    payload = payload_build(
        kind="inner",
        key_set=key_set,
        asset="usdt",
        amount=Decimal("25.50"),
        client_id="c" * 32,
        policy_version=3,
        recipient_type="1",
        recipient_account=str(SUB1_UID),
        calling_code="",
        wallet_type=1,
    )
    assert payload == {
        "version": 1,
        "key_set": str(key_set.uuid),
        "kind": "inner",
        "asset": "USDT",
        "amount": "25.5",
        "client_id": "c" * 32,
        "policy_version": 3,
        "recipient_type": 1,
        "recipient_account": str(SUB1_UID),
        "calling_code": "",
        "wallet_type": 1,
    }
    text = payload_json(payload)
    assert text == json.dumps(payload, sort_keys=True, separators=(",", ":"))
    assert " " not in text
    import hashlib

    assert payload_sha256(payload) == hashlib.sha256(text.encode()).hexdigest()
    # key order does not matter
    assert payload_sha256(dict(reversed(list(payload.items())))) == payload_sha256(payload)


def test_missing_or_extra_fields_are_refused(key_set):
    with pytest.raises(PayloadError, match="from_wallet"):
        payload_build(
            kind="wallet", key_set=key_set, asset="USDT", amount=Decimal(1), client_id="x", to_wallet="spot"
        )
    with pytest.raises(PayloadError, match="Unexpected"):
        payload_build(
            kind="wallet",
            key_set=key_set,
            asset="USDT",
            amount=Decimal(1),
            client_id="x",
            from_wallet="fund",
            to_wallet="spot",
            to_uid=MAIN_UID,
        )


def test_verify_detects_any_change_to_payload_or_columns(pending):
    assert payload_verify(request=pending)
    pending.payload = {**pending.payload, "amount": "2500"}
    assert not payload_verify(request=pending)
    pending.refresh_from_db()
    pending.amount = Decimal("2500")  # the column no longer agrees with the hashed payload
    assert not payload_verify(request=pending)
