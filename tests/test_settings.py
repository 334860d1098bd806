import subprocess
import sys

from django.conf import settings


def test_money_moving_tasks_go_to_the_exchange_queue_with_late_ack_and_json_only():
    assert settings.CELERY_TASK_ROUTES["transfers.tasks.transfer_execute_task"]["queue"] == "exchange"
    assert settings.CELERY_TASK_ACKS_LATE is True
    assert settings.CELERY_WORKER_PREFETCH_MULTIPLIER == 1
    assert settings.CELERY_ACCEPT_CONTENT == ["json"]


def test_production_settings_refuse_to_start_without_a_secret_key(tmp_path):
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "bingxadmin.settings",
        "BINGXADMIN_VAR_DIR": str(tmp_path),
    }
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"], env=env, capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is not set" in result.stderr


def test_the_deploy_check_names_a_passkey_host_the_site_does_not_serve(settings):
    from accounts.checks import passkey_relying_party_check

    settings.ALLOWED_HOSTS = ["desk.example.com"]
    settings.WEBAUTHN_RP_ID = "localhost"
    (warning,) = passkey_relying_party_check()
    assert warning.id == "accounts.W001"
    settings.WEBAUTHN_RP_ID = "desk.example.com"
    assert passkey_relying_party_check() == []
    settings.ALLOWED_HOSTS = [".example.com"]
    assert passkey_relying_party_check() == []
