"""Moved to the exchange package (exchange.clients, exchange.problems)."""

# shim: removed when transfers/ is restructured

from exchange.clients import before_request_hook, client_for, on_response_hook
from exchange.problems import ExchangeProblem, exchange_problem

__all__ = ["ExchangeProblem", "before_request_hook", "client_for", "exchange_problem", "on_response_hook"]
