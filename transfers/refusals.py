"""Refusals of the workflow's services: the message is for people and safe to show."""

from __future__ import annotations


class TransferRefused(Exception):
    """A workflow action was refused; the message is for people and safe to show."""


class RequestRefused(TransferRefused):
    """A new request was refused at submission; nothing was stored."""


class DecisionRefused(TransferRefused):
    """An approve, reject or cancel was refused. `code` says why, for views and tests."""

    def __init__(self, message: str, *, code: str = "refused") -> None:
        super().__init__(message)
        self.code = code


class PolicyRefused(TransferRefused):
    """A policy change was refused; nothing changed."""
