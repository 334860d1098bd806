"""What the exchange layer needs from a key set, without knowing the model that stores it."""

from __future__ import annotations

from typing import Protocol


class CredentialsUnavailable(Exception):
    """The key set's credentials cannot be had (missing or wrong key, tampered token). Nothing was sent;
    the message is safe to show. accounts.crypto.SecretUnavailable is the concrete kind."""


class KeySetLike(Protocol):
    """A key set as the exchange layer sees it (accounts.models.ApiKeySet is one)."""

    @property
    def pk(self) -> int: ...

    @property
    def uid(self) -> int | None: ...

    @property
    def base_url(self) -> str: ...

    @property
    def environment(self) -> str:
        """The exchange: bingx or sandbox (exchange.base_urls decides which servers each may call)."""
        ...

    def credentials(self) -> tuple[str, str]:
        """(API key, secret) in plain text; raises CredentialsUnavailable rather than return anything
        else (fail closed: never a ciphertext, never an empty string)."""
        ...
