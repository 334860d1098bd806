"""The task modules `transfers.tasks_sync` and `transfers.tasks_workflow` were merged into
`transfers.tasks`: point the beat schedules of migration 0002 at the new task names."""

from django.db import migrations

RENAMED = {
    "transfers.tasks_workflow.transfer_requests_expire_task": "transfers.tasks.transfer_requests_expire_task",
    "transfers.tasks_sync.records_sync_all_task": "transfers.tasks.records_sync_all_task",
}


def forward(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for old, new in RENAMED.items():
        PeriodicTask.objects.filter(task=old).update(task=new)


def backward(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for old, new in RENAMED.items():
        PeriodicTask.objects.filter(task=new).update(task=old)


class Migration(migrations.Migration):
    dependencies = [
        ("transfers", "0004_money_constraints"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(forward, backward)]
