"""The desk roles as Django groups with their model permissions: one definition, used by the
data migration that creates them and by anything that must make sure they exist (the demo seed).

Access to a key set still needs a per-key-set grant (accounts.access); these permissions decide
what each role may see and do in the Django admin and which role a page offers actions to.
Nobody but a superuser (break-glass, audited) changes people, groups or grants in the admin.
"""

from typing import Any

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
    # Reads the whole audit trail (every key set, every person's logins); changes nothing.
    "auditor": ["accounts.view_auditevent"],
    "viewer": VIEW_ACCOUNTS + VIEW_TRANSFERS + ["accounts.view_auditevent"],
    "requester": VIEW_ACCOUNTS + VIEW_TRANSFERS + ["transfers.add_transferrequest"],
    "approver": VIEW_ACCOUNTS + VIEW_TRANSFERS + ["transfers.add_approval"],
    "administrator": VIEW_ACCOUNTS
    + VIEW_TRANSFERS
    + [
        "accounts.view_auditevent",
        # People, roles and grants only to view here: changes go through the desk's people pages
        # under four eyes (accounts.services.people); migration 0004 took the old add/change away.
        "accounts.view_user",
        "auth.view_group",
        "accounts.add_apikeyset",
        "accounts.change_apikeyset",
        "accounts.view_keysetgrant",
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


def roles_ensure(*, group_model: Any = None, permission_model: Any = None) -> None:
    """Create missing role groups and add their permissions; idempotent. Pass historical models
    from a migration, or nothing to use the current ones."""
    if group_model is None or permission_model is None:
        from django.contrib.auth.models import Group, Permission

        group_model, permission_model = Group, Permission
    for name, codes in ROLES.items():
        group, _ = group_model.objects.get_or_create(name=name)
        perms = []
        for code in codes:
            app_label, codename = code.split(".")
            perm = permission_model.objects.filter(
                content_type__app_label=app_label, codename=codename
            ).first()
            if perm is None:
                raise RuntimeError(f"permission {code} does not exist")
            perms.append(perm)
        group.permissions.add(*perms)
