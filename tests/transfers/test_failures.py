"""Failure messages in words, with the BingX code as detail (transfers.failures)."""

from __future__ import annotations

import pytest

from transfers.failures import failure_text


@pytest.mark.parametrize(
    ("code", "message", "text", "detail"),
    [
        (
            "0",
            "Insufficient balance",
            "The source wallet did not hold enough USDT for this transfer; nothing moved.",
            "Insufficient balance",
        ),
        (
            "100202",
            "Insufficient assets",
            "The source wallet did not hold enough USDT for this transfer; nothing moved.",
            "BingX code 100202; Insufficient assets",
        ),
        ("100004", "", "The key set's API key lacks the BingX permission", "BingX code 100004"),
        ("", "Outcome unknown: read timed out.", "The outcome is not known yet", "Outcome unknown"),
        ("not_found", "Not found after 60 s", "BingX has no record of this transfer", "Not found"),
        ("999999", "odd", "BingX refused the transfer; nothing moved.", "BingX code 999999; odd"),
    ],
)
def test_failures_read_as_sentences_with_the_code_as_detail(code, message, text, detail) -> None:
    failure = failure_text(code=code, message=message, asset="USDT")
    assert failure.text.startswith(text)
    assert failure.detail.startswith(detail)
    assert not failure.text.startswith("BingX 0")


def test_no_failure_is_empty() -> None:
    assert not failure_text(code="", message="")
