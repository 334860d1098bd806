from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("transfers", "0011_transfer_rules"),
    ]

    operations = [
        migrations.AddField(
            model_name="transferrequest",
            name="execute_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
