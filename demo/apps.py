from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo desk: `manage.py demo_seed`. It sits above every other app and may import any of them."""

    name = "demo"
    verbose_name = "Demo desk"
