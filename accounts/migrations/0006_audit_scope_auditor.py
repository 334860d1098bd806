"""Who may read an audit event: the key set and the person it is about (filled at write time by
accounts.audit_scope), backfilled for earlier events; and the `auditor` role, which reads all of it."""

import django.db.models.deletion
from django.conf import settings
from django.db import DatabaseError, migrations, models, transaction

_PROPOSAL_FIELDS = ("proposed", "change", "before")


def _int(value):
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _scope(apps, object_type, object_id, cache):
    """The same rules as accounts.audit_scope, on historical models."""
    key = (object_type, object_id)
    if key in cache:
        return cache[key]
    key_set_id = subject_id = None
    try:
        app_label, model_name = object_type.split(".")
        model = apps.get_model(app_label, model_name)
        obj = model._default_manager.filter(pk=object_id).first()
    except (LookupError, ValueError, TypeError):
        obj = None
    if object_type == "accounts.apikeyset":
        key_set_id = _int(int(object_id)) if object_id.isdigit() else None
    elif object_type == "accounts.user":
        subject_id = _int(int(object_id)) if object_id.isdigit() else None
    elif obj is not None:
        for attr in ("key_set_id", "main_key_set_id"):
            key_set_id = key_set_id or _int(getattr(obj, attr, None))
        request_id = getattr(obj, "request_id", None)
        if key_set_id is None and request_id is not None:
            request = apps.get_model("transfers", "TransferRequest").objects.filter(pk=request_id).first()
            key_set_id = _int(getattr(request, "key_set_id", None))
        for field in _PROPOSAL_FIELDS:
            data = getattr(obj, field, None)
            if key_set_id is None and isinstance(data, dict):
                key_set_id = _int(data.get("key_set_id")) or _int(data.get("key_set"))
        subject_id = _int(getattr(obj, "target_user_id", None))
    cache[key] = (key_set_id, subject_id)
    return cache[key]


def backfill(apps, schema_editor):
    event_model = apps.get_model("accounts", "AuditEvent")
    cache = {}
    updates = {}
    for seq, object_type, object_id in event_model.objects.values_list("seq", "object_type", "object_id"):
        scope = _scope(apps, object_type, object_id, cache)
        if scope != (None, None):
            updates.setdefault(scope, []).append(seq)
    try:
        with transaction.atomic():
            for (key_set_id, subject_id), seqs in updates.items():
                for start in range(0, len(seqs), 500):
                    event_model.objects.filter(seq__in=seqs[start : start + 500]).update(
                        key_set_id=key_set_id, subject_id=subject_id
                    )
    except DatabaseError:
        # The append-only trigger (issue 11) refuses UPDATE: earlier events stay auditor-only.
        pass


def create_roles(apps, schema_editor):
    from accounts.roles import roles_ensure

    roles_ensure(
        group_model=apps.get_model("auth", "Group"), permission_model=apps.get_model("auth", "Permission")
    )


def remove_auditor(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name="auditor").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0005_second_factor"),
        ("transfers", "0006_approval_second_factor"),
    ]

    operations = [
        migrations.AddField(
            model_name="auditevent",
            name="key_set",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="accounts.apikeyset",
            ),
        ),
        migrations.AddField(
            model_name="auditevent",
            name="subject",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                help_text="The person whose account the event is about.",
                null=True,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
        migrations.RunPython(create_roles, remove_auditor),
    ]
