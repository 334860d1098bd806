from django.apps import AppConfig


class TransfersConfig(AppConfig):
    name = "transfers"
    verbose_name = "Transfers"

    def ready(self) -> None:
        from transfers import notification_receivers, receivers

        receivers.connect()
        notification_receivers.connect()  # emails on status changes and proposals, after commit
