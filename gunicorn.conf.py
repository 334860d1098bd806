"""gunicorn settings; every value can be overridden by GUNICORN_CMD_ARGS or the environment.

Logs go through the app's redacting handler (bingxadmin/logging.py), in the same format as Django
and Celery: JSON lines in production, text when DJANGO_LOG_FORMAT=text (the run script's default).
"""

import os

import environ

from bingxadmin.logging import logging_config

if os.environ.get("DJANGO_ENV_FILE"):  # the same file settings.py reads; the environment wins
    environ.Env.read_env(os.environ["DJANGO_ENV_FILE"], overwrite=False)
_debug = os.environ.get("DJANGO_DEBUG", "false").lower() in {"1", "true", "yes", "on"}

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 20
# Honcho SIGKILLs 5 s after SIGTERM; on Ctrl-C idle keep-alive connections must not hold us up.
keepalive = 2
accesslog = "-"
errorlog = "-"
# The access log never carries query strings (where signatures would live): path only.
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms'
# Trust X-Forwarded-* only from the reverse proxy (DJANGO_BEHIND_PROXY=true needs this to be it).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# gunicornc's control socket: one per var dir (the default, ~/.gunicorn/gunicorn.ctl, would be shared
# by every instance of the user); short temp paths only, as Unix socket paths are limited to ~100 bytes.
_var = os.environ.get("BINGXADMIN_VAR_DIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), "var"))
control_socket = os.path.join(_var, "gunicorn.ctl")
if len(control_socket) > 100:
    control_socket_disable = True
logconfig_dict = logging_config(
    fmt=os.environ.get("DJANGO_LOG_FORMAT", "text" if _debug else "json"),
    level=os.environ.get("DJANGO_LOG_LEVEL", "INFO"),
)
