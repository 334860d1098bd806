"""The sweeper runs every 5 s (was 15): a claim left by a dead worker is settled within seconds of
its threshold. Only a schedule still at the old default is changed; an administrator's edit stays."""

from django.db import migrations

NAME = "Transfers: sweep lost and stuck executions"


def every(seconds_from, seconds_to):
    def change(apps, schema_editor):
        IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
        PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
        task = PeriodicTask.objects.filter(
            name=NAME, interval__every=seconds_from, interval__period="seconds"
        ).first()
        if task is None:
            return
        interval, _ = IntervalSchedule.objects.get_or_create(every=seconds_to, period="seconds")
        task.interval = interval
        task.expire_seconds = max(1, seconds_to - 1)
        task.save(update_fields=["interval", "expire_seconds"])

    return change


class Migration(migrations.Migration):
    dependencies = [
        ("transfers", "0007_sending_mark"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(every(15, 5), every(5, 15))]
