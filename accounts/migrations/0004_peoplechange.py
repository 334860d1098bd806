"""People changes under four eyes (accounts.services.people); administrators lose the model permissions
that let /admin/ add or change users, groups and grants without a second administrator."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

# What accounts.roles no longer gives administrators: the desk's people pages do this under four eyes.
TAKEN_FROM_ADMINISTRATORS = [
    ("accounts", "add_user"),
    ("accounts", "change_user"),
    ("accounts", "delete_user"),
    ("accounts", "add_keysetgrant"),
    ("accounts", "change_keysetgrant"),
    ("accounts", "delete_keysetgrant"),
    ("auth", "add_group"),
    ("auth", "change_group"),
    ("auth", "delete_group"),
]


def take_user_admin_from_administrators(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group = Group.objects.filter(name="administrator").first()
    if group is None:
        return
    for app_label, codename in TAKEN_FROM_ADMINISTRATORS:
        group.permissions.remove(
            *Permission.objects.filter(content_type__app_label=app_label, codename=codename)
        )


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0003_roles'),
    ]

    operations = [
        migrations.CreateModel(
            name='PeopleChange',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('user_create', 'Create a user'), ('role_add', 'Add a role'), ('role_remove', 'Remove a role'), ('grant_set', 'Grant access to a key set'), ('grant_revoke', 'Revoke access to a key set'), ('user_deactivate', 'Deactivate a user'), ('user_reactivate', 'Reactivate a user'), ('password_reset', 'Reset a password'), ('second_factor_reset', 'Reset a second factor')], max_length=32)),
                ('status', models.CharField(choices=[('pending', 'Awaiting a second administrator'), ('applied', 'Applied'), ('rejected', 'Rejected'), ('cancelled', 'Cancelled')], db_index=True, default='pending', max_length=16)),
                ('change', models.JSONField(default=dict)),
                ('before', models.JSONField(blank=True, default=dict)),
                ('note', models.CharField(blank=True, max_length=300)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('decided_at', models.DateTimeField(blank=True, null=True)),
                ('decided_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('proposed_by', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('target_user', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'ordering': ['-created_at', '-pk'],
                'constraints': [models.CheckConstraint(condition=models.Q(('kind__in', ['user_create', 'role_add', 'role_remove', 'grant_set', 'grant_revoke', 'user_deactivate', 'user_reactivate', 'password_reset', 'second_factor_reset'])), name='peoplechange_kind_valid'), models.CheckConstraint(condition=models.Q(('status__in', ['pending', 'applied', 'rejected', 'cancelled'])), name='peoplechange_status_valid'), models.CheckConstraint(condition=models.Q(('status', 'pending'), models.Q(('decided_at__isnull', False), ('decided_by__isnull', False)), _connector='OR'), name='peoplechange_decided_has_decider')],
            },
        ),
        migrations.RunPython(take_user_admin_from_administrators, migrations.RunPython.noop),
    ]
