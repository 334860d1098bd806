"""The var folder and the SQLite file are private to the desk's user (0700 / 0600), and checked at start."""

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.checks import run_checks

from bingxadmin.local_state import private_state_ensure

ROOT = Path(__file__).resolve().parents[2]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def embedded(settings, tmp_path, monkeypatch):
    """The embedded default in a temporary var folder (the test database itself stays where it is)."""
    var_dir = tmp_path / "var"
    settings.VAR_DIR = var_dir
    monkeypatch.setattr("bingxadmin.local_state.sqlite_path", lambda: var_dir / "db.sqlite3")
    monkeypatch.setattr("bingxadmin.checks.sqlite_path", lambda: var_dir / "db.sqlite3")
    return var_dir


def test_a_fresh_var_folder_and_database_are_private(embedded):
    private_state_ensure()
    assert mode(embedded) == 0o700
    assert mode(embedded / "db.sqlite3") == 0o600
    assert not [m for m in run_checks() if m.id in ("bingxadmin.W001", "bingxadmin.W002")]


def test_an_existing_open_var_folder_and_database_are_tightened(embedded):
    embedded.mkdir(mode=0o755)
    os.chmod(embedded, 0o755)
    (embedded / "db.sqlite3").touch()
    os.chmod(embedded / "db.sqlite3", 0o644)
    private_state_ensure()
    assert mode(embedded) == 0o700
    assert mode(embedded / "db.sqlite3") == 0o600


def test_the_start_up_check_warns_about_state_others_can_read(embedded):
    embedded.mkdir()
    (embedded / "db.sqlite3").touch()
    os.chmod(embedded, 0o755)
    os.chmod(embedded / "db.sqlite3", 0o644)
    ids = {m.id: m for m in run_checks()}
    assert "bingxadmin.W001" in ids
    assert "0755" in ids["bingxadmin.W001"].msg
    assert ids["bingxadmin.W002"].hint == f"chmod 600 {embedded / 'db.sqlite3'}"


def test_manage_py_on_the_embedded_default_creates_private_state(tmp_path):
    # A real process: settings (not the test ones), migrate creates the SQLite database.
    var_dir = tmp_path / "var"
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    env.update(
        BINGXADMIN_VAR_DIR=str(var_dir),
        DJANGO_DEBUG="true",
        DJANGO_SETTINGS_MODULE="bingxadmin.settings",
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert mode(var_dir) == 0o700
    assert mode(var_dir / "db.sqlite3") == 0o600
    assert "bingxadmin.W00" not in result.stderr
    for extra in var_dir.glob("db.sqlite3-*"):
        assert mode(extra) == 0o600, extra
    for folder in (var_dir / "celery").rglob("*"):
        if folder.is_dir():
            assert mode(folder) == 0o700, folder
