"""Response variants (bingx/sandbox/variants.py): each one switched on through every door (kwarg,
control API, CLI, environment) and the exact bodies it produces, checked with the independent signer."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
import requests

from bingx.sandbox import SandboxServer, make_app, variants

from .conftest import MAIN, SEED_PATH, SUB1, Client, client_for, key_of, wallet

TRANSFER = "/openApi/api/asset/v1/transfer"
LEGACY = "/openApi/api/v3/post/asset/transfer"
FAMILY = "/openApi/account/transfer/v1/subAccount/transferAsset"
SPOT_BALANCE = "/openApi/spot/v1/account/balance"
UID = "/openApi/account/v1/uid"
TOO_MUCH = {"fromAccount": "fund", "toAccount": "spot", "asset": "USDT", "amount": "999999"}


@pytest.fixture
def served() -> Iterator[SandboxServer]:
    """A sandbox with rate limits off and no variants, whatever BINGX_SANDBOX_VARIANTS says."""
    with SandboxServer(seed=SEED_PATH, rate_limits_enabled=False, variants=()) as server:
        yield server


def control_variants(server: SandboxServer, body: object = None) -> requests.Response:
    url = f"{server.base_url}/_sandbox/variants"
    if body is None:
        return requests.get(url, timeout=5)
    return requests.post(url, json=body, timeout=5)


# --- names ---------------------------------------------------------------------------------------


def test_variant_names_parse_from_text_lists_and_the_environment() -> None:
    assert variants.NAMES == ("string_code_timestamp", "top_level_transfer_error", "bare_transfer_error")
    assert variants.parse(" bare_transfer_error , string_code_timestamp,,") == (
        "string_code_timestamp",
        "bare_transfer_error",
    )
    assert variants.parse(["top_level_transfer_error", "top_level_transfer_error"]) == (
        "top_level_transfer_error",
    )
    assert variants.parse("") == variants.parse(None) == ()
    assert variants.from_env({variants.ENV_VAR: "string_code_timestamp"}) == ("string_code_timestamp",)
    assert variants.from_env({}) == ()
    with pytest.raises(ValueError, match="unknown response variant 'codes_as_strings'"):
        variants.parse("string_code_timestamp,codes_as_strings")
    with pytest.raises(ValueError, match="must be strings"):
        variants.parse([1])  # type: ignore[list-item]


def test_unknown_variant_is_refused_by_make_app_and_the_server() -> None:
    with pytest.raises(ValueError, match="unknown response variant"):
        make_app(variants=["nope"])
    with pytest.raises(ValueError, match="unknown response variant"):
        SandboxServer(seed=SEED_PATH, variants="nope")


# --- default rendering is unchanged -------------------------------------------------------------


def test_without_variants_codes_are_numbers_and_transfer_errors_sit_in_data(served: SandboxServer) -> None:
    main = client_for(served, MAIN)
    ok = main.get(UID).json()
    assert ok["code"] == 0
    assert isinstance(ok["timestamp"], int)
    refused = main.post(TRANSFER, TOO_MUCH).json()
    assert refused["data"] == {"transferErrorMsg": "Insufficient assets"}
    assert "transferErrorMsg" not in refused
    legacy = main.post(LEGACY, {"type": "FUND_PFUTURES", "asset": "USDT", "amount": "999999"}).json()
    assert legacy["code"] == 100202


# --- string_code_timestamp ----------------------------------------------------------------------


def test_string_code_timestamp_on_success_error_and_double_wrapped_envelopes(served: SandboxServer) -> None:
    served.set_variants(["string_code_timestamp"])
    main = client_for(served, MAIN)
    ok = main.get(UID).json()
    assert ok["code"] == "0"
    assert isinstance(ok["timestamp"], str)
    assert ok["timestamp"].isdigit()
    assert ok["data"] == {"uid": MAIN}  # the payload itself is untouched
    spot = main.get(SPOT_BALANCE).json()  # the spot family has no timestamp to turn into a string
    assert spot["code"] == "0"
    assert "timestamp" not in spot
    bad_key = Client(served.base_url, "unknown-key", "secret").get(SPOT_BALANCE).json()
    assert bad_key["code"] == "100413"
    assert isinstance(bad_key["timestamp"], str)
    family = main.post(
        FAMILY,
        {
            "assetName": "USDT",
            "transferAmount": "5",
            "fromUid": SUB1,
            "fromType": 2,
            "fromAccountType": 1,
            "toUid": MAIN,
            "toType": 1,
            "toAccountType": 1,
            "remark": "variant",
        },
        mode="json",
    ).json()
    assert family["code"] == "0"
    assert family["data"]["code"] == "0"
    assert isinstance(family["data"]["timestamp"], str)
    assert isinstance(family["data"]["data"]["tranId"], str)
    # Bare bodies have no code to turn into a string.
    records = main.get("/openApi/api/v3/asset/transferRecord", {"toAccount": "spot"}).json()
    assert set(records) == {"total", "rows"}
    assert isinstance(records["total"], int)


def test_string_code_timestamp_also_renders_injected_error_codes(served: SandboxServer) -> None:
    served.set_variants(["string_code_timestamp"])
    served.add_fault(SPOT_BALANCE, "error_code", code=100500)
    body = client_for(served, MAIN).get(SPOT_BALANCE).json()
    assert body["code"] == "100500"
    assert served.journal(path=SPOT_BALANCE)[-1]["code"] == 100500  # the journal keeps the number


# --- top_level_transfer_error -------------------------------------------------------------------


def test_top_level_transfer_error_moves_the_message_out_of_data(served: SandboxServer) -> None:
    served.set_variants(["top_level_transfer_error"])
    main = client_for(served, MAIN)
    refused = main.post(TRANSFER, TOO_MUCH).json()
    assert refused["code"] == 0
    assert refused["transferErrorMsg"] == "Insufficient assets"
    assert "data" not in refused
    illegal = main.post(TRANSFER, {**TOO_MUCH, "toAccount": "fund"}).json()
    assert illegal["transferErrorMsg"] == "illegal transferType"
    ok = main.post(TRANSFER, {**TOO_MUCH, "amount": "1"}).json()
    assert set(ok["data"]) == {"tranId", "transferId"}
    assert "transferErrorMsg" not in ok
    assert wallet(served, MAIN, "spot", "USDT") == "2501"


def test_variants_combine(served: SandboxServer) -> None:
    served.set_variants("top_level_transfer_error,string_code_timestamp")
    refused = client_for(served, MAIN).post(TRANSFER, TOO_MUCH).json()
    assert refused["code"] == "0"
    assert refused["transferErrorMsg"] == "Insufficient assets"


# --- bare_transfer_error ------------------------------------------------------------------------


def test_bare_transfer_error_answers_legacy_business_failures_without_envelope(
    served: SandboxServer,
) -> None:
    served.set_variants(["bare_transfer_error"])
    main = client_for(served, MAIN)
    params = {"type": "FUND_PFUTURES", "asset": "USDT", "amount": "999999"}
    poor = main.post(LEGACY, params)
    assert poor.status_code == 200
    assert poor.json() == {"transferErrorMsg": "Insufficient assets"}
    assert served.journal(path=LEGACY)[-1]["code"] == 100202
    assert main.post(LEGACY, {**params, "type": "FUND_NOWHERE"}).json() == {
        "transferErrorMsg": "illegal transferType"
    }
    # Errors before the business logic keep their coded envelope.
    signature = Client(served.base_url, main.api_key, "wrong-secret").post(LEGACY, params).json()
    assert signature["code"] == 100001
    missing = main.post(LEGACY, {"type": "FUND_PFUTURES", "asset": "USDT"}).json()
    assert missing["code"] == 100400
    ok = main.post(LEGACY, {**params, "amount": "3"}).json()
    assert set(ok) == {"tranId"}
    # Only the legacy endpoint answers bare; the new one keeps its envelope.
    assert "code" in main.post(TRANSFER, TOO_MUCH).json()


# --- the doors: control API, reset, CLI ---------------------------------------------------------


def test_control_api_sets_reads_and_refuses_bad_input_unchanged(served: SandboxServer) -> None:
    listing = control_variants(served).json()
    assert listing["variants"] == []
    assert set(listing["available"]) == set(variants.NAMES)
    set_ok = control_variants(served, {"variants": ["bare_transfer_error", "string_code_timestamp"]})
    assert set_ok.status_code == 200
    assert set_ok.json()["variants"] == ["string_code_timestamp", "bare_transfer_error"]
    for bad in (
        {"variants": ["string_code_timestamp", "nope"]},
        {"variants": "string_code_timestamp"},
        {"variants": [7]},
        {},
        ["string_code_timestamp"],
    ):
        resp = control_variants(served, bad)
        assert resp.status_code == 400, bad
        assert "error" in resp.json()
    assert control_variants(served).json()["variants"] == ["string_code_timestamp", "bare_transfer_error"]
    # A reset restores balances and clears faults, but variants are server configuration: they stay.
    assert requests.post(f"{served.base_url}/_sandbox/reset", timeout=5).status_code == 200
    assert served.app.variants == ("string_code_timestamp", "bare_transfer_error")
    assert control_variants(served, {"variants": []}).json()["variants"] == []
    assert client_for(served, MAIN).get(SPOT_BALANCE).json()["code"] == 0


def test_cli_refuses_an_unknown_variant_from_flag_or_environment() -> None:
    cli = [sys.executable, "-m", "bingx.sandbox", "--port", "0"]
    flag = subprocess.run([*cli, "--variants", "nope"], capture_output=True, text=True, timeout=30)
    assert flag.returncode == 2
    assert "unknown response variant 'nope'" in flag.stderr
    env_run = subprocess.run(
        cli, capture_output=True, text=True, timeout=30, env={**_env(), variants.ENV_VAR: "nope"}
    )
    assert env_run.returncode == 2
    assert "unknown response variant 'nope'" in env_run.stderr


def test_cli_serves_the_variants_named_on_the_command_line() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bingx.sandbox", "--port", "0", "--variants", "string_code_timestamp"],
        stdout=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        base_url = line.strip().rsplit(" ", 1)[-1]
        assert base_url.startswith("http://127.0.0.1:")
        assert requests.get(f"{base_url}/_sandbox/variants", timeout=5).json()["variants"] == [
            "string_code_timestamp"
        ]
        api_key, secret = key_of(MAIN)
        assert Client(base_url, api_key, secret).get(SPOT_BALANCE).json()["code"] == "0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != variants.ENV_VAR}
