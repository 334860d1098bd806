"""The desk's side of talking to BingX: one signed client per key set, one shared rate limiter, and
error messages people can act on.

Layering (shared/DESIGN.md §2): `exchange` imports `bingx` and Django settings, never `accounts` or
`transfers`. What it needs from a key set is the `KeySetLike` protocol (exchange.credentials).

    exchange.clients      client_for(key_set=...), the before_request / on_response hooks
    exchange.credentials  KeySetLike, CredentialsUnavailable
    exchange.problems     ExchangeProblem, exchange_problem(exc=..., key_set=...)
    exchange.ratelimit    the shared per-UID, per-endpoint rate limiter
    exchange.redaction    values that must never reach a log line
    exchange.timeutil     epoch milliseconds <-> aware datetimes
"""
