from celery import shared_task

from apps.core.context import acting_as_system
from apps.monitoring.services import audit_tail_check, monitor_run


@shared_task(name="monitoring.run_checks", time_limit=55, soft_time_limit=45, ignore_result=True)
def run_checks() -> str:
    """One pass of the portfolio rules (beat: every 60 s); nothing while every venue is shut."""
    with acting_as_system("task:monitoring.run_checks"):
        audit_tail_check()  # markets open or not: the audit trail never closes
        run = monitor_run()
    if run is None:
        return "markets closed"
    return f"{run.status}: {run.rules_evaluated} rules, {run.active_violations} active violations"
