from django.apps import AppConfig


class KillSwitchConfig(AppConfig):
    name = "apps.killswitch"
    label = "killswitch"
    verbose_name = "Kill switch"
