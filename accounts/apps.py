from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and key sets"

    def ready(self) -> None:
        from accounts import auth_events, break_glass, checks  # noqa: F401  (checks registers the deploy checks)

        break_glass.connect()  # superuser logins and admin changes become audit events
        auth_events.connect()  # logins, failed logins, lockouts, logouts, password changes
