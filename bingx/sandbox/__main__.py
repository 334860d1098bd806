"""CLI: ``python -m bingx.sandbox --port 8100 --seed bingx/sandbox/seeds/demo.json [--state FILE]``."""

from __future__ import annotations

import argparse
import os
import sys

from .ratelimit import ANSWERS, DEFAULT_PENALTY_MS, PENALTY_WINDOW, WINDOWS, Penalty, validate_penalty
from .server import SandboxServer
from .variants import ENV_VAR as VARIANTS_ENV_VAR
from .variants import NAMES as VARIANT_NAMES
from .variants import parse as parse_variants


def _penalty(text: str) -> Penalty:
    try:
        return validate_penalty(text if text == PENALTY_WINDOW else int(text))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f'expected milliseconds >= 0 or "{PENALTY_WINDOW}": {text!r}'
        ) from exc


def _variants(text: str) -> tuple[str, ...]:
    try:
        return parse_variants(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def build_server(argv: list[str] | None = None) -> SandboxServer:
    """Parse the command line into a (not yet started) :class:`SandboxServer`."""
    parser = argparse.ArgumentParser(prog="python -m bingx.sandbox", description="Sandbox BingX exchange")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument("--seed", default=None, help="seed JSON file (default: bundled demo seed)")
    parser.add_argument("--state", default=None, help="persist state to this file; resume from it if present")
    parser.add_argument("--lenient", action="store_true", help="also accept non-canonical signatures")
    parser.add_argument("--rate-limit-scale", type=float, default=1.0)
    parser.add_argument("--no-rate-limits", action="store_true")
    parser.add_argument(
        "--rate-limit-window",
        choices=WINDOWS,
        default="sliding",
        help="sliding: at most N accepted requests in any 1000 ms (BingX); fixed: 1 s windows",
    )
    parser.add_argument(
        "--rate-limit-penalty-ms",
        type=_penalty,
        default=DEFAULT_PENALTY_MS,
        metavar="MS|window",
        help=f"disabled period after exceeding a rate limit (default {DEFAULT_PENALTY_MS}, as BingX); "
        f'"{PENALTY_WINDOW}": until the window ends + 1 s',
    )
    parser.add_argument(
        "--rate-limit-answer",
        choices=ANSWERS,
        default="unblock_time",
        help="how a rate-limited request is answered (mixed: cycle through the other three)",
    )
    parser.add_argument(
        "--variants",
        type=_variants,
        default=os.environ.get(VARIANTS_ENV_VAR, ""),  # a string default goes through type=
        metavar="NAME[,NAME]",
        help=f"response variants: {', '.join(VARIANT_NAMES)} (default: ${VARIANTS_ENV_VAR})",
    )
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = parser.parse_args(argv)
    return SandboxServer(
        seed=args.seed,
        host=args.host,
        port=args.port,
        strict=not args.lenient,
        rate_limit_scale=args.rate_limit_scale,
        rate_limits_enabled=not args.no_rate_limits,
        rate_limit_window=args.rate_limit_window,
        rate_limit_penalty_ms=args.rate_limit_penalty_ms,
        rate_limit_answer=args.rate_limit_answer,
        state_path=args.state,
        verbose=args.verbose,
        variants=args.variants,
    )


def main(argv: list[str] | None = None) -> int:
    server = build_server(argv)
    server.start()
    print(f"BingX sandbox listening on {server.base_url}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
