"""Seed the demo desk once: people, sandbox key sets, grants, policy, balances and a few past transfers.

    manage.py demo_seed --sandbox-port 8100 --sandbox-state var/sandbox-state.json [--force]

Idempotent: every step checks whether its result already exists, so a second run does nothing (and
says so), and a run interrupted half-way completes the missing steps next time. Everything goes
through the services, with the four-eyes rules intact: `admin` creates the key sets and `admin2`
activates them; alice requests, bob approves, the execution service sends.

Passwords are generated on the first run and kept in `<BINGXADMIN_VAR_DIR>/demo-logins.txt` (mode
0600, demo.logins); every run prints them. What is seeded is listed in demo.data. The API keys are
the sandbox's fake demo keys from the seed file.

Reads and transfers need the sandbox exchange: an in-process `SandboxServer` on `--sandbox-port`
with the same `--sandbox-state` file the real sandbox process uses afterwards, stopped before this
command returns. It refuses to seed a database that already has users of its own (a real desk)
unless `--force` is given.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.test.utils import override_settings
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import AccountKind, ApiKeySet, Environment, KeySetGrant, KeySetStatus, SubAccount, User
from accounts.roles import roles_ensure
from accounts.second_factor import totp_secret_base32
from accounts.services.balances import balances_sync
from accounts.services.grants import grant_set
from accounts.services.key_sets import key_set_activate, key_set_create
from accounts.services.sub_accounts import sub_accounts_discover
from accounts.services.verification import key_set_verify
from accounts.stepup import CODE_FIELD
from demo.data import (
    DEFAULT_SEED,
    DEMO_KEY_SETS,
    DEMO_USERS,
    LARGE_AMOUNT,
    LARGE_RULE_NAME,
    PAST_TRANSFERS,
    seed_keys,
)
from demo.logins import LOGINS_FILE, logins_read, logins_write, password_new, totp_secrets_read


def workflow_available() -> bool:
    """The two-person workflow's services (transfers.services) are installed in this tree."""
    return importlib.util.find_spec("transfers.services") is not None


class Command(BaseCommand):
    help = "Seed the demo desk once (users, sandbox key sets, grants, policy, balances, past transfers)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--sandbox-port", type=int, required=True, help="Port for the in-process sandbox."
        )
        parser.add_argument(
            "--sandbox-state", required=True, help="Sandbox state file (the one the sandbox process uses)."
        )
        parser.add_argument("--sandbox-seed", default=str(DEFAULT_SEED), help="Sandbox seed JSON.")
        parser.add_argument(
            "--force", action="store_true", help="Seed even though the database already has other users."
        )

    # -- entry point ---------------------------------------------------------------------------

    def handle(self, *args: Any, **options: Any) -> None:
        self.port = int(options["sandbox_port"])
        self.state_path = Path(options["sandbox_state"]).resolve()
        self.seed_path = Path(options["sandbox_seed"]).resolve()
        self.seed = json.loads(self.seed_path.read_text(encoding="utf-8"))
        self.keys = seed_keys(self.seed)
        self.logins_path = Path(settings.VAR_DIR) / LOGINS_FILE
        self._check_sandbox_url()
        logging.disable(logging.INFO)  # the services' and Celery's INFO lines would drown the summary

        todo = self.steps_pending()
        if not todo:
            self.stdout.write("Demo data already seeded; nothing to do.")
            self.print_logins(logins_read(self.logins_path))
            return
        demo_names = {u.username for u in DEMO_USERS}
        has_demo = User.objects.filter(username__in=demo_names).exists()
        if not has_demo and User.objects.exists() and not options["force"]:
            raise CommandError(
                "This database already has users of its own: demo_seed seeds only a demo database "
                "(use --force to add the demo desk anyway)."
            )
        self.stdout.write(f"Seeding demo data: {', '.join(todo)}…")
        # Notification mails of the seeded transfers stay in memory instead of flooding the console.
        with override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"):
            passwords = self.users_ensure()
            admin, admin2 = User.objects.get(username="admin"), User.objects.get(username="admin2")
            key_sets = self.key_sets_ensure(admin=admin, admin2=admin2)
            self.grants_ensure(admin=admin, key_sets=key_sets)
            if workflow_available():
                self.policy_ensure(admin=admin, admin2=admin2)
            if "exchange reads" in todo or "past transfers" in todo:
                self.with_sandbox(lambda: self.exchange_steps(key_sets=key_sets, todo=todo))
        if not workflow_available():
            self.stdout.write(
                self.style.WARNING(
                    "Policy rule and past transfers skipped: the transfer workflow (transfers.services) is "
                    "not installed yet. Run demo_seed again once it is; it completes the missing steps."
                )
            )
        self.stdout.write(self.style.SUCCESS("Demo data seeded."))
        self.print_logins(passwords)

    # -- what is left to do --------------------------------------------------------------------

    def steps_pending(self) -> list[str]:
        todo = []
        if User.objects.filter(username__in=[u.username for u in DEMO_USERS]).count() < len(DEMO_USERS):
            todo.append("users")
        key_sets = list(ApiKeySet.objects.filter(label__in=[k.label for k in DEMO_KEY_SETS]))
        if len(key_sets) < len(DEMO_KEY_SETS) or any(ks.status != KeySetStatus.ACTIVE for ks in key_sets):
            todo.append("key sets")
        if KeySetGrant.objects.filter(key_set__in=key_sets).count() < 4 * len(DEMO_KEY_SETS):
            todo.append("grants")
        if (
            len(key_sets) < len(DEMO_KEY_SETS)
            or any(ks.last_verified_at is None or ks.balances_synced_at is None for ks in key_sets)
            or not SubAccount.objects.filter(main_key_set__label=DEMO_KEY_SETS[0].label).exists()
        ):
            todo.append("exchange reads")
        if workflow_available():
            from transfers.models import PolicyRule, TransferRequest

            if not PolicyRule.objects.filter(name=LARGE_RULE_NAME).exists():
                todo.append("policy")
            if not TransferRequest.objects.filter(
                key_set__label__in=[k.label for k in DEMO_KEY_SETS]
            ).exists():
                todo.append("past transfers")
        return todo

    # -- sandbox -------------------------------------------------------------------------------

    def _check_sandbox_url(self) -> None:
        url = urlsplit(settings.BINGX_SANDBOX_URL)
        if url.hostname not in ("127.0.0.1", "localhost") or url.port != self.port:
            raise CommandError(
                f"BINGX_SANDBOX_URL is {settings.BINGX_SANDBOX_URL}, but the demo sandbox runs on "
                f"http://127.0.0.1:{self.port}; set BINGX_SANDBOX_URL=http://127.0.0.1:{self.port}."
            )

    def with_sandbox(self, work: Callable[[], None]) -> None:
        from bingx.sandbox import SandboxServer

        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        server = SandboxServer(seed=self.seed_path, port=self.port, state_path=self.state_path)
        try:
            server.start()
        except OSError as exc:
            raise CommandError(
                f"Cannot start the sandbox on port {self.port} ({exc.strerror}). Is another sandbox running?"
            ) from None
        try:
            work()
        finally:
            server.stop()

    # -- steps ---------------------------------------------------------------------------------

    @transaction.atomic
    def users_ensure(self) -> dict[str, str]:
        roles_ensure()  # the migration creates them; make sure nobody removed one since
        passwords = logins_read(self.logins_path)
        for demo in DEMO_USERS:
            user = User.objects.filter(username=demo.username).first()
            if user is None:
                password = passwords.get(demo.username) or password_new()
                user = User(
                    username=demo.username,
                    first_name=demo.first_name,
                    email=f"{demo.username}@demo.example.com",
                    is_superuser=demo.superuser,
                    is_staff=demo.staff,
                )
                user.set_password(password)
                user.save()
                user.groups.set(Group.objects.filter(name__in=demo.groups))
                passwords[demo.username] = password
            elif demo.username not in passwords:
                # The user exists but the file was lost: give a fresh password we can print.
                passwords[demo.username] = password_new()
                user.set_password(passwords[demo.username])
                user.save(update_fields=["password"])
        logins_write(self.logins_path, passwords, self.totp_ensure())
        return passwords

    def totp_ensure(self) -> dict[str, str]:
        """Every demo user has a confirmed authenticator-app secret (printed beside the password), so the
        second factor of the login and of each decision works from the first start (docs/security.md)."""
        found: dict[str, str] = {}
        for user in User.objects.filter(username__in=[d.username for d in DEMO_USERS]):
            device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
            if device is None:
                device = TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=True)
            found[user.username] = totp_secret_base32(device=device)
        return found

    def demo_stepup(self, user: User) -> dict[str, str]:
        """The seed acts as the demo people with their app's *previous* code (inside django-otp's
        tolerance), the last-used step forgotten first, so one person can decide several seeded
        transfers at once and the current code still works for the first real login."""
        device = TOTPDevice.objects.get(user=user, confirmed=True)
        TOTPDevice.objects.filter(pk=device.pk).update(last_t=-1, drift=0)
        totp = TOTP(device.bin_key, device.step, device.t0, device.digits)
        totp.time = time.time() - device.step
        code = totp.token()
        return {CODE_FIELD: f"{code:0{device.digits}d}"}

    def key_sets_ensure(self, *, admin: User, admin2: User) -> dict[str, ApiKeySet]:
        """admin creates each key set, admin2 activates it: the four-eyes rule, as in the UI."""
        found: dict[str, ApiKeySet] = {}
        main: ApiKeySet | None = None
        for demo in DEMO_KEY_SETS:
            key_set = ApiKeySet.objects.filter(label=demo.label).first()
            if key_set is None:
                api_key, secret = self.keys[demo.uid]
                key_set = key_set_create(
                    actor=admin,
                    label=demo.label,
                    api_key=api_key,
                    secret=secret,
                    environment=Environment.SANDBOX,
                    base_url=settings.BINGX_SANDBOX_URL,
                    account_kind=demo.kind,
                    parent_id=main.pk if (demo.kind == AccountKind.SUB and main) else None,
                )
            if key_set.status == KeySetStatus.PENDING_ACTIVATION:
                key_set = key_set_activate(
                    actor=admin2, stepup=self.demo_stepup(admin2), key_set_id=key_set.pk
                )
            if demo.kind == AccountKind.MAIN:
                main = key_set
            found[demo.label] = key_set
        return found

    def grants_ensure(self, *, admin: User, key_sets: dict[str, ApiKeySet]) -> None:
        people = {
            u.username: u for u in User.objects.filter(username__in=["alice", "bob", "victor", "admin2"])
        }
        for key_set in key_sets.values():
            for name in ("alice", "bob"):
                grant_set(
                    actor=admin,
                    key_set_id=key_set.pk,
                    user=people[name],
                    can_view=True,
                    can_request=True,
                    can_approve=True,
                )
            grant_set(actor=admin, key_set_id=key_set.pk, user=people["victor"], can_view=True)
            # A third approver, so the two-approval rule for large amounts can be met (alice + bob
            # alone could not: the requester never counts).
            grant_set(
                actor=admin, key_set_id=key_set.pk, user=people["admin2"], can_view=True, can_approve=True
            )

    def policy_ensure(self, *, admin: User, admin2: User) -> None:
        """Default (no rule matches): one approval besides the requester. 10 000 USDT or more: two.
        admin proposes the rule, admin2 approves it: policy edits are four-eyes, as in the UI."""
        from transfers.models import PolicyChangeAction, PolicyRule
        from transfers.services.policy_changes import policy_change_approve, policy_change_propose

        if PolicyRule.objects.filter(name=LARGE_RULE_NAME).exists():
            return
        change, _ = policy_change_propose(
            actor=admin,
            action=PolicyChangeAction.RULE_CREATE,
            values={
                "name": LARGE_RULE_NAME,
                "position": 10,
                "asset": "USDT",
                "min_amount": LARGE_AMOUNT,
                "required_approvals": 2,
            },
        )
        policy_change_approve(actor=admin2, stepup=self.demo_stepup(admin2), change_id=change.pk)

    def exchange_steps(self, *, key_sets: dict[str, ApiKeySet], todo: list[str]) -> None:
        admin = User.objects.get(username="admin")
        main = key_sets[DEMO_KEY_SETS[0].label]
        subs = [key_sets[k.label] for k in DEMO_KEY_SETS[1:]]
        # The main key set first: its sub-account list lets the subs' verification check their UIDs.
        for key_set in [main, *subs]:
            if key_set.pk == main.pk:
                self._verify(key_set=key_set, actor=admin)
                sub_accounts_discover(key_set_id=main.pk, actor=admin)
            else:
                self._verify(key_set=key_set, actor=admin)
        if "past transfers" in todo:
            self.past_transfers(main=main, subs=subs)
        for key_set in [main, *subs]:
            balances_sync(key_set_id=key_set.pk, actor=admin)

    def _verify(self, *, key_set: ApiKeySet, actor: User) -> None:
        report = key_set_verify(key_set_id=key_set.pk, actor=actor)
        if not report["ok"]:
            raise CommandError(f"Verifying “{key_set.label}” against the sandbox failed: {report['error']}")

    def past_transfers(self, *, main: ApiKeySet, subs: list[ApiKeySet]) -> None:
        """A few transfers through the real services: one person requests, another approves (second-factor
        step-up), and the execution service sends it to the sandbox right here (Celery eager mode, so
        no message is left for the worker). One is rejected and one is left waiting for alice."""
        from bingxadmin.celery import app as celery_app
        from transfers.execution.execute import transfer_execute
        from transfers.models import Status, TransferRequest
        from transfers.services.decisions import transfer_request_approve, transfer_request_reject
        from transfers.services.requests import transfer_request_create

        people = {u.username: u for u in User.objects.filter(username__in=["alice", "bob"])}
        key_sets = [main, *subs]  # in DEMO_KEY_SETS order
        eager = celery_app.conf.task_always_eager
        celery_app.conf.task_always_eager = True
        try:
            for plan in PAST_TRANSFERS:
                key_set = key_sets[plan.key_set]
                # Resumable: a request left by an interrupted run is picked up where it stopped.
                req = TransferRequest.objects.filter(key_set=key_set, note=plan.note).first()
                if req is None:
                    req = transfer_request_create(
                        requester=people[plan.requester],
                        key_set_id=key_set.pk,
                        kind=plan.kind,
                        asset=plan.asset,
                        amount=plan.amount,
                        fields=dict(plan.fields),
                        note=plan.note,
                    )
                name, _, action = plan.decider.partition(":")
                if name and req.status == Status.PENDING:
                    decide = transfer_request_reject if action == "reject" else transfer_request_approve
                    comment = "Not needed this week." if action == "reject" else "OK"
                    decide(
                        request_id=req.pk,
                        approver=people[name],
                        stepup=self.demo_stepup(people[name]),
                        comment=comment,
                    )
                if name and not action:
                    transfer_execute(request_id=req.pk)  # a no-op when the eager task already ran it
                    req.refresh_from_db()
                    if req.status != Status.SUCCEEDED:
                        why = req.failure_message or "no message"
                        raise CommandError(f"Demo transfer #{req.pk} ended {req.status}: {why}")
        finally:
            celery_app.conf.task_always_eager = eager
        self._records_sync([main, *subs])

    def _records_sync(self, key_sets: list[ApiKeySet]) -> None:
        """Queue a records sync for the worker: reading every record endpoint within BingX's rate limits
        takes tens of seconds, which the first start should not wait for."""
        from transfers import dispatch

        for key_set in key_sets:
            dispatch.records_sync_enqueue(key_set_id=key_set.pk)
        self.stdout.write("Exchange records: queued for the worker (they appear within a minute of start).")

    # -- output --------------------------------------------------------------------------------

    def print_logins(self, passwords: dict[str, str]) -> None:
        if not passwords:
            self.stdout.write(f"(No demo logins recorded in {self.logins_path}.)")
            return
        self.stdout.write("")
        self.stdout.write("  Demo logins (sandbox money only; also in " + str(self.logins_path) + "):")
        self.stdout.write("    user     password         TOTP secret (add it to an authenticator app)  role")
        totp = totp_secrets_read(self.logins_path)
        for user in DEMO_USERS:
            if user.username in passwords:
                secret = totp.get(user.username, "-")
                self.stdout.write(
                    f"    {user.username:<8} {passwords[user.username]:<16} {secret:<45} {user.role}"
                )
        self.stdout.write(
            "    Passkeys: open http://localhost:<port>/ (not 127.0.0.1), Account → add a passkey."
        )
        self.stdout.write("")
