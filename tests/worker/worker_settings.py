"""Settings for the Celery worker subprocesses of the worker tests: the test settings plus the one
knob only those tests turn — a Redis key prefix per test, so queues never leak between tests or runs."""

import os

from bingxadmin.settings_test import *  # noqa: F403

_prefix = os.environ.get("TEST_BROKER_KEYPREFIX", "")
if _prefix and not CELERY_BROKER_URL.startswith("filesystem://"):  # noqa: F405
    CELERY_BROKER_TRANSPORT_OPTIONS = {**CELERY_BROKER_TRANSPORT_OPTIONS, "global_keyprefix": _prefix}  # noqa: F405
