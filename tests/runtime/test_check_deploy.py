"""Production-like settings pass Django's deployment checklist (as CI runs it), and weakening them fails."""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]


def production_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    """Only what a production deployment sets: the test process's own DJANGO_* defaults stay out."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "DJANGO_SETTINGS_MODULE": "bingxadmin.settings",
        "BINGXADMIN_VAR_DIR": str(tmp_path),
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_DEBUG": "false",
        "DJANGO_ALLOWED_HOSTS": "desk.example.com",
        "WEBAUTHN_RP_ID": "desk.example.com",
        "DJANGO_CSRF_TRUSTED_ORIGINS": "https://desk.example.com",
        "DJANGO_BEHIND_PROXY": "true",
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "AUDIT_CHAIN_KEYS": f"k1:{base64.b64encode(secrets.token_bytes(32)).decode()}",
    }
    env.update(overrides)
    return env


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_check_deploy_passes_with_production_settings(tmp_path):
    result = manage(production_env(tmp_path), "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_warns_without_an_audit_chain_key_and_fails_on_a_bad_one(tmp_path):
    env = production_env(tmp_path, AUDIT_CHAIN_KEYS="")
    result = manage(env, "check", "--deploy", "--fail-level", "WARNING")
    assert "accounts.W002" in result.stderr
    result = manage(production_env(tmp_path, AUDIT_CHAIN_KEYS="k1:c2hvcnQ="), "check")
    assert result.returncode != 0
    assert "accounts.E001" in result.stderr


def test_check_deploy_fails_when_cookies_are_not_secure(tmp_path):
    env = production_env(tmp_path, DJANGO_SECURE_COOKIES="false")
    result = manage(env, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode != 0
    assert "security.W012" in result.stderr  # SESSION_COOKIE_SECURE


def test_check_deploy_fails_when_passkeys_are_bound_to_another_host(tmp_path):
    result = manage(
        production_env(tmp_path, WEBAUTHN_RP_ID="localhost"), "check", "--deploy", "--fail-level", "WARNING"
    )
    assert result.returncode != 0
    assert "accounts.W001" in result.stderr


def test_check_deploy_fails_with_a_short_secret_key(tmp_path):
    result = manage(
        production_env(tmp_path, DJANGO_SECRET_KEY="short"), "check", "--deploy", "--fail-level", "WARNING"
    )
    assert result.returncode != 0
    assert "security.W009" in result.stderr


def test_production_defaults(tmp_path):
    code = """
import json, django
django.setup()
from django.conf import settings as s
print(json.dumps({
    "debug": s.DEBUG,
    "ssl_redirect": s.SECURE_SSL_REDIRECT,
    "proxy_header": list(s.SECURE_PROXY_SSL_HEADER or []),
    "session_secure": s.SESSION_COOKIE_SECURE,
    "csrf_secure": s.CSRF_COOKIE_SECURE,
    "session_name": s.SESSION_COOKIE_NAME,
    "hsts": s.SECURE_HSTS_SECONDS,
    "hsts_sub": s.SECURE_HSTS_INCLUDE_SUBDOMAINS,
    "session_age": s.SESSION_COOKIE_AGE,
    "expire_at_close": s.SESSION_EXPIRE_AT_BROWSER_CLOSE,
    "sliding": s.SESSION_SAVE_EVERY_REQUEST,
    "log_format": s.LOGGING["handlers"]["console"]["formatter"],
    "static": s.STORAGES["staticfiles"]["BACKEND"],
    "health_exempt": s.SECURE_REDIRECT_EXEMPT,
}))
"""
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=production_env(tmp_path), capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    got = json.loads(result.stdout)
    assert got["debug"] is False
    assert got["ssl_redirect"] is True
    assert got["proxy_header"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert got["session_secure"]
    assert got["csrf_secure"]
    assert got["session_name"] == "__Secure-sessionid"
    assert got["hsts"] >= 31536000
    assert got["hsts_sub"] is True
    assert got["session_age"] == 8 * 3600
    assert got["expire_at_close"]
    assert got["sliding"]
    assert got["log_format"] == "json"
    assert got["static"] == "whitenoise.storage.CompressedManifestStaticFilesStorage"
    assert got["health_exempt"]  # load balancers probe /health over plain http


def test_no_proxy_header_unless_behind_a_proxy(tmp_path):
    env = production_env(tmp_path)
    del env["DJANGO_BEHIND_PROXY"]  # direct TLS: X-Forwarded-Proto from a client must not be trusted
    code = (
        "import django\n"
        "django.setup()\n"
        "from django.conf import settings\n"
        "print(settings.SECURE_PROXY_SSL_HEADER)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "None"
