from django.apps import AppConfig


class ApprovalsConfig(AppConfig):
    name = "apps.approvals"
    label = "approvals"
    verbose_name = "Approvals"

    def ready(self) -> None:
        from apps.approvals.services import approval_close_for_order
        from apps.trading.signals import held_order_canceled

        def close_request(sender, order, actor=None, reason="", **kwargs) -> None:
            approval_close_for_order(order=order, actor=actor, reason=reason)

        held_order_canceled.connect(close_request, dispatch_uid="approvals.close_request")
