"""The demo logins file: generated passwords, kept in `<BINGXADMIN_VAR_DIR>/demo-logins.txt` (mode 0600)."""

from __future__ import annotations

import os
import re
import secrets
import string
from pathlib import Path

from demo.data import DEMO_USERS

LOGINS_FILE = "demo-logins.txt"


def password_new() -> str:
    """Three groups of four lower-case letters and digits (about 62 bits): easy to type, not guessable."""
    alphabet = string.ascii_lowercase + string.digits
    return "-".join("".join(secrets.choice(alphabet) for _ in range(4)) for _ in range(3))


def logins_read(path: Path) -> dict[str, str]:
    """username → password from the logins file (missing file: empty)."""
    found: dict[str, str] = {}
    if not path.exists():
        return found
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) >= 2 and not line.startswith("#"):
            found[parts[0]] = parts[1]
    return found


def totp_secrets_read(path: Path) -> dict[str, str]:
    """username → TOTP secret (base32, the third column) from the logins file."""
    found: dict[str, str] = {}
    if not path.exists():
        return found
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) >= 3 and not line.startswith("#") and re.fullmatch(r"[A-Z2-7]{16,}=*", parts[2]):
            found[parts[0]] = parts[2]
    return found


def logins_write(path: Path, passwords: dict[str, str], totp_secrets: dict[str, str] | None = None) -> None:
    secrets_by_user = totp_secrets or {}
    lines = [
        "# bingxadmin demo logins (written by manage.py demo_seed; sandbox money only).",
        "# username  password          TOTP secret (authenticator app)      role",
    ]
    for user in DEMO_USERS:
        secret = secrets_by_user.get(user.username, "-")
        lines.append(f"{user.username:<10}{passwords[user.username]:<18}{secret:<37}{user.role}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
