"""The first two administrators of a new desk, created at once (manage.py admins_bootstrap).

Four eyes needs two administrators before anyone can approve anything, so the first two cannot come
from a proposal. This is the one documented way to create them; it refuses once any administrator
exists (from then on people change under four eyes on the desk). Neither gets a password from the
operator: each receives a one-time set-password link, then enrols a second factor at first login.
"""

from __future__ import annotations

from django.contrib.auth.models import Group
from django.db import transaction

from accounts.access import ADMIN_GROUP
from accounts.audit import audit_record
from accounts.models import User
from accounts.roles import roles_ensure
from accounts.services.people_apply import PeopleChangeRefused, user_create_clean


@transaction.atomic
def administrators_bootstrap(*, people: list[tuple[str, str]]) -> list[User]:
    """Create two administrators from (username, email) pairs; PeopleChangeRefused: nothing was created."""
    if len(people) != 2:
        raise PeopleChangeRefused("Give exactly two administrators (username and email each).", code="empty")
    roles_ensure()
    if User.objects.filter(groups__name=ADMIN_GROUP).exists():
        raise PeopleChangeRefused(
            "Administrators exist already: add people on the desk's People page (four eyes).", code="exists"
        )
    (name1, email1), (name2, email2) = people
    if name1.strip().lower() == name2.strip().lower() or email1.strip().lower() == email2.strip().lower():
        raise PeopleChangeRefused(
            "The two administrators need different usernames and emails.", code="exists"
        )
    group = Group.objects.get(name=ADMIN_GROUP)
    created = []
    for username, email in people:
        clean = user_create_clean({"username": username, "email": email})
        user = User.objects.create_user(
            username=clean.change["username"], email=clean.change["email"], password=None, is_staff=True
        )
        user.groups.add(group)
        audit_record(
            actor=None,
            verb="people.bootstrap",
            obj=user,
            after={"username": user.get_username(), "email": user.email, "roles": [ADMIN_GROUP]},
        )
        created.append(user)
    return created
