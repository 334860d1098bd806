"""Periodic schedules (django-celery-beat), editable in the admin: the sweeper, request expiry,
balance sync and records sync. Rows are created only when missing, so admin edits survive."""

from django.db import migrations

# name, task, every (seconds), expire_seconds (a tick older than its period is dropped, not run late)
SCHEDULES = [
    ("Transfers: sweep lost and stuck executions", "transfers.tasks.transfers_sweep_task", 15, 14),
    ("Transfers: expire pending requests", "transfers.tasks_workflow.transfer_requests_expire_task", 60, 55),
    ("Key sets: sync balances", "accounts.tasks.balances_sync_all_task", 600, 540),
    ("Transfers: sync exchange records", "transfers.tasks_sync.records_sync_all_task", 300, 270),
]


def create(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for name, task, every, expire in SCHEDULES:
        interval, _ = IntervalSchedule.objects.get_or_create(every=every, period="seconds")
        PeriodicTask.objects.get_or_create(
            name=name,
            defaults={"task": task, "interval": interval, "expire_seconds": expire, "enabled": True},
        )


def remove(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name__in=[s[0] for s in SCHEDULES]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("transfers", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create, remove)]
