from django.apps import AppConfig


class DemoConfig(AppConfig):
    """Demo data, the order-flow simulator and the bench-only view: the top floor. It may use
    every domain app; no domain app imports it."""

    name = "apps.demo"
    label = "demo"
    verbose_name = "Demo"
