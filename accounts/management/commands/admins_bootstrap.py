"""Create the first two administrators of a new desk, at once:

    manage.py admins_bootstrap alice alice@example.com bob bob@example.com [--print-links]

Refuses when any administrator exists. Each administrator gets a one-time link to set their own
password by email (with --print-links the links are printed too, for a desk without email: hand
each link to its person only). Both enrol a second factor at their first login. From then on people,
roles and grants change under four eyes on the desk's People page (docs/deployment.md).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from accounts.services.people_apply import PeopleChangeRefused, password_link_send, password_set_url
from accounts.services.people_bootstrap import administrators_bootstrap


class Command(BaseCommand):
    help = "Create the first two administrators (refuses when administrators exist)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username1")
        parser.add_argument("email1")
        parser.add_argument("username2")
        parser.add_argument("email2")
        parser.add_argument(
            "--print-links", action="store_true", help="Also print the set-password links (no email setup)."
        )

    def handle(self, *args: Any, print_links: bool = False, **options: Any) -> None:
        people = [(options["username1"], options["email1"]), (options["username2"], options["email2"])]
        try:
            with transaction.atomic():
                users = administrators_bootstrap(people=people)
        except PeopleChangeRefused as exc:
            raise CommandError(str(exc)) from None
        for user in users:
            password_link_send(
                user_id=user.pk, why="You are one of the first two administrators of the desk."
            )
            self.stdout.write(
                f"administrator {user.get_username()} <{user.email}>: set-password link emailed"
            )
            if print_links:
                self.stdout.write(f"  {password_set_url(user=user)}")
        self.stdout.write(
            self.style.SUCCESS("Two administrators created. Each sets a password, then a second factor.")
        )
