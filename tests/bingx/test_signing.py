"""Known-answer vectors from spec §2.4 and the value-formatting rules of §2.3."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from bingx import sign
from bingx.signing import build, canonical_value, encode_query, json_body, prepare_items

DEMO_SECRET = "mheO6dR8ovSsxZQCOYEFCtelpuxcWGTfHw7te326y6jOwq5WpvFQ9JNljoTwBXZGv5It07m9RXSPpDQEK2w"


def test_docs_demo_strings_sign_to_the_corrected_values():
    assert sign(DEMO_SECRET, {"recvWindow": 0, "symbol": "BTC-USDT", "timestamp": 1696751141337}) == (
        "recvWindow=0&symbol=BTC-USDT&timestamp=1696751141337",
        "f8d883609dfd31c824feb4de865b071008dedb1d461451fa70847875c8e7a7a2",
    )
    assert sign(DEMO_SECRET, {"subAccountString": "abc12345", "timestamp": 1696751141337, "recvWindow": 0})[
        1
    ] == ("8d0d3ea9b592be3678c33332ab13e9102e093e67255921e15a581146c87c272f")


def test_vector_1_fund_balance_query():
    signed = build({"asset": "USDT"}, DEMO_SECRET, timestamp_ms=1702624167523, recv_window=5000)
    assert signed.canonical == "asset=USDT&recvWindow=5000&timestamp=1702624167523"
    assert signed.signature == "658f0213be7d097b1ae38118f0df159364a439fe83eb1549d4213e85911f04f0"
    assert signed.query == (
        "asset=USDT&recvWindow=5000&timestamp=1702624167523"
        "&signature=658f0213be7d097b1ae38118f0df159364a439fe83eb1549d4213e85911f04f0"
    )
    assert signed.body is None


def test_vector_2_asset_transfer_new():
    params = {"fromAccount": "fund", "toAccount": "USDTMPerp", "asset": "USDT", "amount": Decimal("10")}
    signed = build(params, DEMO_SECRET, timestamp_ms=1702619257404, recv_window=5000)
    assert signed.canonical == (
        "amount=10&asset=USDT&fromAccount=fund&recvWindow=5000&timestamp=1702619257404&toAccount=USDTMPerp"
    )
    assert signed.signature == "16550b793b1cab58f76309c61b02e408f070652cc4014119f53be32129d4e242"


def test_vector_3_inner_transfer_keeps_decimal_text_and_sorts_keys():
    params = {
        "coin": "USDT",
        "userAccount": "16779999",
        "userAccountType": 1,
        "walletType": 1,
        "amount": Decimal("10.0"),
        "timestamp": 1702558152381,
    }
    canonical, signature = sign(DEMO_SECRET, params)
    assert canonical == (
        "amount=10.0&coin=USDT&timestamp=1702558152381&userAccount=16779999&userAccountType=1&walletType=1"
    )
    assert signature == "37cd07ac45bbda567ae0eb9759cf49cac74561c0087a540f63f81ba27954b1eb"


def test_vector_4_json_body_for_sub_mother_transfer():
    params = {
        "assetName": "USDT",
        "transferAmount": Decimal("1.1"),
        "fromUid": 25472377,
        "fromType": 2,
        "fromAccountType": 2,
        "toUid": 25316652,
        "toType": 1,
        "toAccountType": 1,
        "remark": "rebalance",
    }
    signed = build(params, DEMO_SECRET, timestamp_ms=1702619257404, recv_window=6000, mode="json")
    assert signed.canonical == (
        "assetName=USDT&fromAccountType=2&fromType=2&fromUid=25472377&recvWindow=6000&remark=rebalance"
        "&timestamp=1702619257404&toAccountType=1&toType=1&toUid=25316652&transferAmount=1.1"
    )
    assert signed.signature == "574324d3df4db84a37394bcbd3acb9db213a397b03aec620a71e1bdc268822e7"
    assert signed.body == (
        '{"assetName":"USDT","fromAccountType":2,"fromType":2,"fromUid":25472377,"recvWindow":6000,'
        '"remark":"rebalance","timestamp":1702619257404,"toAccountType":1,"toType":1,"toUid":25316652,'
        '"transferAmount":"1.1","signature":"574324d3df4db84a37394bcbd3acb9db213a397b03aec620a71e1bdc268822e7"}'
    )
    assert signed.query == ""


def test_json_body_values_rederive_to_the_signed_text():
    signed = build(
        {"transferAmount": Decimal("1E+2"), "fromUid": 2**62, "flag": False, "remark": "a b&c"},
        DEMO_SECRET,
        timestamp_ms=1,
        mode="json",
    )
    obj = json.loads(signed.body or "", parse_int=str, parse_float=str)
    obj.pop("signature")

    def text(v: object) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        return str(v)

    assert "&".join(f"{k}={text(obj[k])}" for k in sorted(obj)) == signed.canonical


def test_vector_5_comma_list_is_signed_raw_and_sent_encoded():
    signed = build(
        {"subUids": [16789999, 16789998], "transferable": True}, DEMO_SECRET, timestamp_ms=1702520269455
    )
    assert signed.canonical == "subUids=16789999,16789998&timestamp=1702520269455&transferable=true"
    assert signed.signature == "98f8ac9c88bb231c8fb7c8d646c4257da35776cef2e6139a6184d7c951203176"
    assert signed.query == (
        "subUids=16789999%2C16789998&timestamp=1702520269455&transferable=true"
        "&signature=98f8ac9c88bb231c8fb7c8d646c4257da35776cef2e6139a6184d7c951203176"
    )


def test_zero_and_false_are_kept_only_none_is_dropped():
    canonical, _ = sign("s", {"offset": 0, "transferable": False, "id": None, "coin": "USDT"})
    assert canonical == "coin=USDT&offset=0&transferable=false"


def test_decimal_never_uses_exponent_notation():
    assert canonical_value(Decimal("1E+2")) == "100"
    assert canonical_value(Decimal("0.00000001")) == "0.00000001"
    assert canonical_value(Decimal("1E-8")) == "0.00000001"
    assert canonical_value(Decimal("1.10")) == "1.10"


def test_float_amounts_are_refused():
    with pytest.raises(TypeError):
        sign("s", {"amount": 1.5})
    with pytest.raises(TypeError):
        canonical_value(0.1)


def test_non_finite_decimals_are_refused():
    with pytest.raises(ValueError):
        canonical_value(Decimal("NaN"))
    with pytest.raises(ValueError):
        canonical_value(Decimal("Infinity"))


def test_values_are_percent_encoded_keys_are_not():
    items = prepare_items({"note": "a b+c@d", "email": "x@y.org", "name": "MØTH"})
    assert encode_query(items, "sig") == ("email=x%40y.org&name=M%C3%98TH&note=a%20b%2Bc%40d&signature=sig")


def test_signature_is_last_in_json_body():
    body = json_body(prepare_items({"b": 1, "a": "x"}), "abc")
    assert body == '{"a":"x","b":1,"signature":"abc"}'


def test_recv_window_above_60000_is_refused():
    with pytest.raises(ValueError):
        build({}, "s", timestamp_ms=1, recv_window=60001)


def test_signed_request_repr_hides_signature():
    signed = build({"asset": "USDT"}, DEMO_SECRET, timestamp_ms=1)
    assert signed.signature not in repr(signed)
