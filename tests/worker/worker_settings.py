"""Settings for the Celery worker subprocesses of the worker tests: the test settings plus the knobs
only those tests turn: a Redis key prefix per test, so queues and rate-limiter state never leak between
tests or runs, and a short stuck threshold for the sweeper when it runs inside a worker (beat)."""

import os

from bingxadmin.settings_test import *  # noqa: F403

_prefix = os.environ.get("TEST_BROKER_KEYPREFIX", "")
if _prefix and not CELERY_BROKER_URL.startswith("filesystem://"):  # noqa: F405
    CELERY_BROKER_TRANSPORT_OPTIONS = {**CELERY_BROKER_TRANSPORT_OPTIONS, "global_keyprefix": _prefix}  # noqa: F405
    # The shared rate limiter too: a worker a test kills mid-call must not hold a slot in the next test.
    RATE_LIMIT_KEY_PREFIX = f"{_prefix}bingx:rl:"

if "TRANSFER_STUCK_AFTER_SECONDS" in os.environ:
    TRANSFER_STUCK_AFTER_SECONDS = int(os.environ["TRANSFER_STUCK_AFTER_SECONDS"])
if "TRANSFER_UNSENT_CLAIM_SECONDS" in os.environ:
    TRANSFER_UNSENT_CLAIM_SECONDS = int(os.environ["TRANSFER_UNSENT_CLAIM_SECONDS"])
