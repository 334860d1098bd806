"""The durable "sending" mark and the bounded re-execution of transfers proven absent.

A request already in flight when this migration runs may have sent its call: it counts as sent."""

from django.db import migrations, models
from django.db.models import F


def mark_in_flight_as_sent(apps, schema_editor):
    TransferRequest = apps.get_model("transfers", "TransferRequest")
    TransferRequest.objects.filter(status__in=["submitting", "unknown"], sending_at__isnull=True).update(
        sending_at=F("submitted_at")
    )


class Migration(migrations.Migration):
    dependencies = [
        ("transfers", "0006_approval_second_factor"),
    ]

    operations = [
        migrations.AddField(
            model_name="transferrequest",
            name="sending_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="transferrequest",
            name="absent_resends",
            field=models.PositiveSmallIntegerField(default=0),
        ),
        migrations.RunPython(mark_in_flight_as_sent, migrations.RunPython.noop),
    ]
