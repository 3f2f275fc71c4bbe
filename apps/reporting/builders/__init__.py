"""The report builders, by report type."""

from apps.reporting.builders.base import Period, ReportBuilder
from apps.reporting.builders.best_execution import BestExecutionBuilder
from apps.reporting.builders.blotter import BlotterBuilder
from apps.reporting.builders.blue_sheets import BlueSheetsBuilder
from apps.reporting.builders.cat_events import CatEventsBuilder
from apps.reporting.builders.compliance import ComplianceBuilder
from apps.reporting.builders.daily_trading import DailyTradingBuilder
from apps.reporting.builders.mifir import MifirTransactionsBuilder
from apps.reporting.builders.order_tickets import OrderTicketsBuilder
from apps.reporting.builders.positions import PositionsBuilder
from apps.reporting.builders.rule_606 import Rule606Builder

BUILDERS: dict[str, type[ReportBuilder]] = {
    builder.report_type: builder
    for builder in (
        DailyTradingBuilder,
        PositionsBuilder,
        MifirTransactionsBuilder,
        BestExecutionBuilder,
        ComplianceBuilder,
        BlotterBuilder,
        OrderTicketsBuilder,
        BlueSheetsBuilder,
        Rule606Builder,
        CatEventsBuilder,
    )
}

__all__ = ["BUILDERS", "Period", "ReportBuilder"]
