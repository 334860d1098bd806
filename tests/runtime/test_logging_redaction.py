"""Secrets never reach a log line: the shared filter, and every process's loggers (Django, gunicorn,
the Celery worker) configured to go through it."""

from __future__ import annotations

import io
import json
import logging
import logging.config
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.conf import settings

from bingxadmin.logging import REDACTED, logging_config, redact
from exchange.redaction import secret_register

ROOT = Path(__file__).resolve().parents[2]
SEED = json.loads((ROOT / "bingx" / "sandbox" / "seeds" / "demo.json").read_text())
DEMO_KEY = SEED["accounts"][0]["api_keys"][0]["api_key"]
DEMO_SECRET = SEED["accounts"][0]["api_keys"][0]["secret"]
# What a real BingX secret looks like: 64 mixed-case letters and digits.
REAL_LOOKING_SECRET = "Zq4Lr8Tn2Vx6Bc0Df3Gh7Jk1Mn5Pq9Rs2Tu6Vw0Xy4Za8Bd3Cf7Eg1Hj5Kl9Mp2Nr6"
SIGNATURE = "5f1c" * 16
FERNET_TOKEN = Fernet(Fernet.generate_key()).encrypt(b"the api secret").decode()


def _lines_with_secrets() -> list[str]:
    return [
        f"POST /openApi/wallets/v1/capital/innerTransfer/apply?amount=5&timestamp=1&signature={SIGNATURE}",
        f"client init secret={DEMO_SECRET} api_key={DEMO_KEY}",
        f"headers {{'X-BX-APIKEY': '{DEMO_KEY}'}}",
        f"decrypt failed for token {FERNET_TOKEN}",
        f"raw value {REAL_LOOKING_SECRET} in a message",
    ]


SECRETS = [SIGNATURE, DEMO_SECRET, DEMO_KEY, FERNET_TOKEN, REAL_LOOKING_SECRET]


def _assert_clean(text: str) -> None:
    for value in SECRETS:
        assert value not in text
    # Not just blanked: each line says something was removed.
    assert text.count(REDACTED) >= len(_lines_with_secrets())


def test_redact_removes_signatures_secrets_api_keys_and_fernet_tokens():
    for line in _lines_with_secrets():
        cleaned = redact(line)
        assert REDACTED in cleaned
        for value in SECRETS:
            assert value not in cleaned


def test_redact_keeps_what_operators_need():
    digest = "ab" * 32  # payload SHA-256 and audit hashes stay readable
    line = f"request 42 payload {digest} uuid 3f2b8c1e-9a7d-4e21-b5c3-7d9e0f1a2b3c status succeeded"
    assert redact(line) == line


def test_a_registered_secret_is_redacted_wherever_it_appears():
    odd = "short-but-registered-secret_!"
    secret_register(odd)
    assert redact(f"value:{odd}:end") == f"value:{REDACTED}:end"


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_configured_handler_redacts_messages_args_and_tracebacks(fmt):
    stream = io.StringIO()
    config = logging_config(fmt=fmt, level="INFO")
    config["handlers"]["console"]["stream"] = stream
    logger = logging.getLogger(f"tests.redaction.{fmt}")
    try:
        logging.config.dictConfig(config)
        for line in _lines_with_secrets():
            logger.warning("%s", line)  # secrets in the arguments, not only the format string
        try:
            raise RuntimeError(f"BingX said no for secret={DEMO_SECRET} signature={SIGNATURE}")
        except RuntimeError:
            logger.exception("call failed")
    finally:
        logging.config.dictConfig(settings.LOGGING)
    out = stream.getvalue()
    _assert_clean(out)
    assert "RuntimeError" in out  # the traceback is kept, only the secrets go
    if fmt == "json":
        records = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        assert len(records) == len(_lines_with_secrets()) + 1
        assert {"time", "level", "logger", "message"} <= set(records[0])
        assert "exc" in records[-1]


def _run(code: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "DJANGO_SETTINGS_MODULE": "bingxadmin.settings",
        "DJANGO_SECRET_KEY": "redaction-test-" + "x" * 50,
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "DJANGO_LOG_FORMAT": "json",
        "BINGXADMIN_VAR_DIR": os.environ.get("TMPDIR", "/tmp"),
        "SECRETS_JSON": json.dumps(_lines_with_secrets()),
    }
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_gunicorn_error_and_access_logs_go_through_the_filter():
    """gunicorn's own Logger, built from gunicorn.conf.py, exactly as the web process does."""
    code = """
import json, os
from gunicorn.config import Config
from gunicorn.glogging import Logger
cfg = Config()
ns = {"__file__": "gunicorn.conf.py"}
exec(open("gunicorn.conf.py").read(), ns)
cfg.set("logconfig_dict", ns["logconfig_dict"])
log = Logger(cfg)
for line in json.loads(os.environ["SECRETS_JSON"]):
    log.error(line)
    log.info(line)
try:
    raise ValueError(json.loads(os.environ["SECRETS_JSON"])[1])
except ValueError:
    log.exception("worker crashed")
import logging
access = logging.getLogger("gunicorn.access")
print("ACCESS_FILTERS", [type(f).__name__ for h in access.handlers for f in h.filters])
"""
    result = _run(code)
    assert result.returncode == 0, result.stderr
    _assert_clean(result.stderr)
    records = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    assert {r["logger"] for r in records} == {"gunicorn.error"}
    assert any("exc" in r for r in records)
    assert "RedactSecretsFilter" in result.stdout  # the access log has the same filter


def test_celery_worker_logging_goes_through_the_filter():
    """What `celery worker` does at start (app.log.setup), then task and worker loggers."""
    code = """
import json, os, logging
import django
django.setup()
from bingxadmin.celery import app
app.log.setup(loglevel="INFO", redirect_stdouts=False)
from celery.utils.log import get_task_logger
task_logger = get_task_logger("transfers.tasks")
for line in json.loads(os.environ["SECRETS_JSON"]):
    task_logger.warning(line)
    logging.getLogger("celery.worker.consumer").warning(line)
    logging.getLogger("transfers.execution").error(line)
"""
    result = _run(code)
    assert result.returncode == 0, result.stderr
    _assert_clean(result.stderr)
    records = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    assert len(records) == 3 * len(_lines_with_secrets())  # Celery added no second, unfiltered handler
    assert {"transfers.tasks", "celery.worker.consumer", "transfers.execution"} <= {
        r["logger"] for r in records
    }
