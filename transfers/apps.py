from django.apps import AppConfig


class TransfersConfig(AppConfig):
    name = "transfers"
    verbose_name = "Transfers"

    def ready(self) -> None:
        from transfers import receivers

        receivers.connect()
