from django.apps import AppConfig


class ApprovalsConfig(AppConfig):
    name = "apps.approvals"
    label = "approvals"
    verbose_name = "Approvals"

    def ready(self) -> None:
        from apps.approvals.services import approval_close_for_order
        from apps.trading import hooks

        # A held order ended by trading closes its approval request, in the same transaction.
        hooks.held_order_ended.provide(approval_close_for_order)
