"""Registered secrets are redacted from log lines; short values are not registered."""

from __future__ import annotations

import uuid

from bingxadmin.logging import REDACTED, redact
from exchange.redaction import MIN_LENGTH, secret_register, secrets_registered


def test_a_registered_value_is_redacted_longest_first():
    short = uuid.uuid4().hex[:10]
    longer = short + "-and-more"
    secret_register(short)
    secret_register(longer)
    assert redact(f"got {longer} and {short}") == f"got {REDACTED} and {REDACTED}"
    found = secrets_registered()
    assert found.index(longer) < found.index(short)


def test_short_or_empty_values_are_ignored():
    before = secrets_registered()
    secret_register("")
    secret_register("x" * (MIN_LENGTH - 1))
    assert secrets_registered() == before
