"""The four desk roles as Django groups with their model permissions.

Access to a key set still needs a per-key-set grant (accounts.access); these permissions decide
what each role may see and do in the Django admin and which role a page offers actions to.
"""

from django.db import migrations

VIEW_ACCOUNTS = [
    "accounts.view_apikeyset",
    "accounts.view_subaccount",
    "accounts.view_balancesnapshot",
    "accounts.view_assetoverviewsnapshot",
]
VIEW_TRANSFERS = [
    "transfers.view_transferrequest",
    "transfers.view_approval",
    "transfers.view_transferrecord",
    "transfers.view_allowedrecipient",
    "transfers.view_policyrule",
    "transfers.view_dailylimit",
    "transfers.view_executionattempt",
]

ROLES = {
    "viewer": VIEW_ACCOUNTS + VIEW_TRANSFERS + ["accounts.view_auditevent"],
    "requester": VIEW_ACCOUNTS + VIEW_TRANSFERS + ["transfers.add_transferrequest"],
    "approver": VIEW_ACCOUNTS + VIEW_TRANSFERS + ["transfers.add_approval"],
    "administrator": VIEW_ACCOUNTS
    + VIEW_TRANSFERS
    + [
        "accounts.view_auditevent",
        "accounts.view_user",
        "accounts.add_user",
        "accounts.change_user",
        "auth.view_group",
        "accounts.add_apikeyset",
        "accounts.change_apikeyset",
        "accounts.view_keysetgrant",
        "accounts.add_keysetgrant",
        "accounts.change_keysetgrant",
        "accounts.delete_keysetgrant",
        "transfers.add_allowedrecipient",
        "transfers.change_allowedrecipient",
        "transfers.add_policyrule",
        "transfers.change_policyrule",
        "transfers.delete_policyrule",
        "transfers.add_dailylimit",
        "transfers.change_dailylimit",
        "transfers.delete_dailylimit",
    ],
}


def create_roles(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    # Permissions are normally created after all migrations; make sure they exist now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codes in ROLES.items():
        group, _ = Group.objects.get_or_create(name=name)
        perms = []
        for code in codes:
            app_label, codename = code.split(".")
            perm = Permission.objects.filter(content_type__app_label=app_label, codename=codename).first()
            if perm is None:
                raise RuntimeError(f"permission {code} does not exist")
            perms.append(perm)
        group.permissions.add(*perms)


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=list(ROLES)).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_keyset_balances_synced_at"),
        ("transfers", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
