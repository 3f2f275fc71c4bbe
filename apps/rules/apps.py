from django.apps import AppConfig


class RulesConfig(AppConfig):
    name = "apps.rules"
    label = "rules"
    verbose_name = "Compliance rules"

    def ready(self) -> None:
        from apps.approvals import hooks
        from apps.rules.approval_recheck import recheck_held_order

        # Approvals cannot import the gate (it sits above them): they call this at decision time.
        hooks.recheck_held_order.provide(recheck_held_order)
