from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "api"
    verbose_name = "Automation API and webhooks"

    def ready(self) -> None:
        from api import receivers

        receivers.connect()
