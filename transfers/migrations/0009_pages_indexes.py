"""Pages that stay fast (issue 12, docs/performance.md): indexes for what the lists sort on, and the
legacy-duplicate flag of exchange records, filled here for the records already stored (from then on
the records sync sets it at upsert)."""

from django.conf import settings
from django.db import migrations, models
from django.db.models import Exists, OuterRef


def duplicates_mark(apps, schema_editor):
    TransferRecord = apps.get_model("transfers", "TransferRecord")
    twin = TransferRecord.objects.filter(
        key_set_id=OuterRef("key_set_id"),
        source="asset",
        asset=OuterRef("asset"),
        amount=OuterRef("amount"),
        from_account=OuterRef("from_account"),
        to_account=OuterRef("to_account"),
        occurred_at=OuterRef("occurred_at"),
    )
    TransferRecord.objects.filter(source="legacy_asset").filter(Exists(twin)).update(is_duplicate=True)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0007_audit_chain_sealed"),
        ("transfers", "0008_sweep_every_5s"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="transferrecord",
            name="is_duplicate",
            field=models.BooleanField(default=False),
        ),
        migrations.RunPython(duplicates_mark, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name="transferrecord",
            index=models.Index(
                condition=models.Q(("is_duplicate", False), ("matched_request__isnull", True)),
                fields=["-occurred_at", "-id"],
                name="record_outside_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="transferrequest",
            index=models.Index(fields=["-updated_at"], name="transfer_request_updated_idx"),
        ),
        migrations.AddIndex(
            model_name="transferrequest",
            index=models.Index(fields=["requested_by", "-created_at"], name="transfer_request_mine_idx"),
        ),
        migrations.AddIndex(
            model_name="transferrequest",
            index=models.Index(
                condition=models.Q(("status", "pending")),
                fields=["expires_at"],
                name="transfer_request_pending_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="transferrequest",
            index=models.Index(
                condition=models.Q(("status__in", ["succeeded", "unknown"])),
                fields=["submitted_at"],
                name="transfer_request_settled_idx",
            ),
        ),
    ]
