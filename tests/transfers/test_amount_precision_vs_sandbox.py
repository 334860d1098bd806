"""The desk never sends an amount the exchange would refuse for precision: its amount rule (at most 8
decimal places, trailing zeros not counted) is no looser than the sandbox's per-asset precision."""

import json
from decimal import Decimal
from pathlib import Path

import pytest

from bingx.sandbox import SandboxState
from bingx.sandbox.state import DEFAULT_PRECISION
from transfers.payload import AMOUNT_DECIMALS, PayloadError, amount_clean, amount_text

SEED = json.loads((Path(__file__).resolve().parents[2] / "bingx/sandbox/seeds/demo.json").read_text())


def test_desk_decimals_fit_every_seeded_precision() -> None:
    state = SandboxState(SEED)
    assert AMOUNT_DECIMALS <= DEFAULT_PRECISION
    assert all(places >= AMOUNT_DECIMALS for places in state.precision.values())


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("1.12345678", True),
        ("1.123456780000", True),
        ("0.00000001", True),
        ("1.123456789", False),
        ("0.000000000000000000001", False),
    ],
)
def test_desk_and_sandbox_agree_on_decimal_places(text: str, ok: bool) -> None:
    if ok:
        wire = amount_text(amount_clean(text))
        exponent = Decimal(wire).as_tuple().exponent
        assert isinstance(exponent, int)
        assert -exponent <= DEFAULT_PRECISION
    else:
        with pytest.raises(PayloadError, match="at most 8 decimal places"):
            amount_clean(text)
