"""Test settings: the real settings with safe test defaults for what the environment leaves unset."""

import os
import tempfile
import uuid

os.environ.setdefault("DJANGO_DEBUG", "false")
os.environ.setdefault("DJANGO_SECRET_KEY", "test-only-secret-key-not-used-anywhere-else-0123456789")
os.environ.setdefault("DJANGO_SECURE_SSL_REDIRECT", "false")
os.environ.setdefault("DJANGO_SECURE_COOKIES", "false")
os.environ.setdefault("DJANGO_LOG_FORMAT", "text")
# A test-only Fernet key; production keys come from the environment.
os.environ.setdefault("FIELD_ENCRYPTION_KEYS", "dGVzdC1vbmx5LWZlcm5ldC1rZXktMDEyMzQ1Njc4OTA=")
os.environ.setdefault("AUDIT_CHAIN_KEYS", "test1:dGVzdC1vbmx5LWF1ZGl0LWNoYWluLWtleS0wMTIzNDU2Nzg5")
os.environ.setdefault("EMAIL_URL", "memorymail://")
# Queue folders, rate-limit state and the like go to a fresh folder per test run, never into the
# developer's var/ (a running desk would otherwise pick up the tests' messages). Worker processes
# started by tests inherit it through the environment. Only the name is chosen here (a new one per
# run); the folders inside are created once Django is set up (bingxadmin/apps.py) or by their users.
os.environ.setdefault(
    "BINGXADMIN_VAR_DIR", os.path.join(tempfile.gettempdir(), f"bingxadmin-test-var-{uuid.uuid4().hex[:12]}")
)

from .settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast tests only
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}  # noqa: F405

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # Worker tests start real Celery workers in other processes, which must see the test database:
    # keep it in a file (one per pytest process, so parallel runs never share it).
    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": os.path.join(tempfile.gettempdir(), f"bingxadmin-test-{os.getpid()}.sqlite3")
    }
