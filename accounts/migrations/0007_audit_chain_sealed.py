"""The sealed audit chain (issue 11): seal fields, verification results, beat schedules and, on
PostgreSQL, a trigger that keeps the table append-only.

Events written before this migration carry unkeyed SHA-256 links; they are cleared here and the
first sealer run (after commit, or beat within seconds) seals them again, in seq order, under
AUDIT_CHAIN_KEYS. The trigger refuses DELETE and every UPDATE except the sealer's: the seal fields
going from empty to set, with every other column unchanged.
"""

from django.db import migrations, models

SEAL_COLUMNS = "ARRAY['prev_hash', 'hash', 'key_id', 'chain_index', 'prev_seq', 'sealed_at']"

TRIGGER_SQL = f"""
CREATE OR REPLACE FUNCTION accounts_auditevent_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE'
       AND OLD.hash IS NULL AND OLD.chain_index IS NULL AND OLD.sealed_at IS NULL
       AND NEW.hash IS NOT NULL AND NEW.chain_index IS NOT NULL AND NEW.sealed_at IS NOT NULL
       AND (to_jsonb(NEW) - {SEAL_COLUMNS}) = (to_jsonb(OLD) - {SEAL_COLUMNS})
    THEN
        RETURN NEW;  -- the sealer setting the link of an unsealed event, nothing else
    END IF;
    RAISE EXCEPTION 'audit events are append-only: % refused on seq=%', TG_OP, OLD.seq
        USING ERRCODE = 'insufficient_privilege';
END
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS accounts_auditevent_append_only ON accounts_auditevent;
CREATE TRIGGER accounts_auditevent_append_only BEFORE UPDATE OR DELETE ON accounts_auditevent
    FOR EACH ROW EXECUTE FUNCTION accounts_auditevent_append_only();
"""

REVERSE_SQL = """
DROP TRIGGER IF EXISTS accounts_auditevent_append_only ON accounts_auditevent;
DROP FUNCTION IF EXISTS accounts_auditevent_append_only();
"""

# name, task, every (seconds), expire_seconds, kwargs
SCHEDULES = [
    ("Audit: seal pending events", "accounts.tasks.audit_seal_task", 5, 5, "{}"),
    ("Audit: write a checkpoint", "accounts.tasks.audit_checkpoint_task", 300, 290, "{}"),
    (
        "Audit: verify the chain (incremental)",
        "accounts.tasks.audit_verify_task",
        900,
        890,
        '{"full": false}',
    ),
    ("Audit: verify the chain (full)", "accounts.tasks.audit_verify_task", 86400, 3600, '{"full": true}'),
]


def clear_unkeyed_links(apps, schema_editor):
    AuditEvent = apps.get_model("accounts", "AuditEvent")
    AuditEvent.objects.update(hash=None, prev_hash="")


def trigger_create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(TRIGGER_SQL, params=None)


def trigger_drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(REVERSE_SQL, params=None)


def schedules_create(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for name, task, every, expire, kwargs in SCHEDULES:
        interval, _ = IntervalSchedule.objects.get_or_create(every=every, period="seconds")
        PeriodicTask.objects.get_or_create(
            name=name,
            defaults={
                "task": task,
                "interval": interval,
                "expire_seconds": expire,
                "kwargs": kwargs,
                "enabled": True,
            },
        )


def schedules_remove(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name__in=[s[0] for s in SCHEDULES]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0006_audit_scope_auditor"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        migrations.CreateModel(
            name="AuditVerification",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("started_at", models.DateTimeField()),
                ("finished_at", models.DateTimeField()),
                (
                    "full",
                    models.BooleanField(
                        help_text="Walked from genesis (else from the last good checkpoint)."
                    ),
                ),
                ("ok", models.BooleanField()),
                ("checked", models.BigIntegerField(default=0)),
                ("first_broken_seq", models.BigIntegerField(blank=True, null=True)),
                ("reason", models.CharField(max_length=300)),
                ("through_index", models.BigIntegerField(default=0, help_text="Last chain_index verified.")),
                ("unsealed", models.BigIntegerField(default=0)),
                ("checkpoints", models.IntegerField(default=0, help_text="Checkpoints checked.")),
            ],
            options={
                "ordering": ["-finished_at"],
            },
        ),
        migrations.AddField(
            model_name="auditevent",
            name="chain_index",
            field=models.BigIntegerField(
                blank=True, help_text="Position in the chain.", null=True, unique=True
            ),
        ),
        migrations.AddField(
            model_name="auditevent",
            name="key_id",
            field=models.CharField(
                blank=True, default="", help_text="AUDIT_CHAIN_KEYS id of the link.", max_length=32
            ),
        ),
        migrations.AddField(
            model_name="auditevent",
            name="prev_seq",
            field=models.BigIntegerField(
                blank=True,
                help_text="seq of the chain predecessor; seq - prev_seq > 1: ids skipped.",
                null=True,
            ),
        ),
        migrations.AddField(
            model_name="auditevent",
            name="sealed_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="hash",
            field=models.CharField(
                blank=True,
                help_text="HMAC-SHA256 link; empty until sealed.",
                max_length=64,
                null=True,
                unique=True,
            ),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="prev_hash",
            field=models.CharField(blank=True, default="", help_text="Previous link.", max_length=64),
        ),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(
                condition=models.Q(("hash__isnull", True)), fields=["seq"], name="auditevent_unsealed"
            ),
        ),
        migrations.RunPython(clear_unkeyed_links, migrations.RunPython.noop),
        migrations.RunPython(trigger_create, trigger_drop),
        migrations.RunPython(schedules_create, schedules_remove),
    ]
