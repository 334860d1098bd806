"""Django admin: workflow rows are read-only and scoped to visible key sets."""

from django.test import Client
from django.urls import reverse

from tests.transfers.workflow_support import member


def test_requests_are_read_only_in_admin(pending):
    root = member("root", is_superuser=True, is_staff=True)
    c = Client()
    c.force_login(root)
    assert c.get(reverse("admin:transfers_transferrequest_changelist")).status_code == 200
    assert c.get(reverse("admin:transfers_transferrequest_add")).status_code == 403
    page = c.get(reverse("admin:transfers_transferrequest_change", args=[pending.pk]))
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert (
        c.post(
            reverse("admin:transfers_transferrequest_delete", args=[pending.pk]), {"post": "yes"}
        ).status_code
        == 403
    )
    for model in (
        "approval",
        "executionattempt",
        "transferrecord",
        "policyrule",
        "dailylimit",
        "allowedrecipient",
        "transferbatch",
        "transferrule",
        "transferrulerun",
    ):
        assert c.get(reverse(f"admin:transfers_{model}_changelist")).status_code == 200
        assert c.get(reverse(f"admin:transfers_{model}_add")).status_code == 403


def test_admin_lists_only_visible_key_sets(pending, admin1):
    outsider = member("staffer", "viewer", is_staff=True)
    c = Client()
    c.force_login(outsider)
    page = c.get(reverse("admin:transfers_transferrequest_changelist")).content.decode()
    assert "0 transfer requests" in page
    c.force_login(admin1)
    assert (
        "1 transfer request" in c.get(reverse("admin:transfers_transferrequest_changelist")).content.decode()
    )
