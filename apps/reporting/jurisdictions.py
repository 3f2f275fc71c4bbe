"""Which regulator receives which report: a report made for an entity follows its jurisdiction.

An entity's jurisdiction comes from its data: a national competent authority under MiFIR has
its `nca_country` (EU and UK regulators that receive transaction reports); the US securities
regulators are named by code in `REPORTING_US_SECURITIES_REGULATORS` (SEC and FINRA by
default). The report types of a jurisdiction are made only for its entities (or for no entity:
the firm's own copy); the other types (daily trading, positions, best execution, compliance)
are internal reports that may carry any entity's name.
"""

from django.conf import settings

from apps.core.errors import ValidationFailed, field_errors

EU_UK_NCA = "eu_uk_nca"
US_SECURITIES = "us_securities"

REPORTS_BY_JURISDICTION: dict[str, tuple[str, ...]] = {
    # MiFIR art. 26 transaction reports and MAR art. 16 STORs go to a national competent
    # authority.
    EU_UK_NCA: ("mifir_transactions", "stor"),
    # FINRA CAT (SEC Rule 613), the SEC 17a-3 books and records, 17a-25 blue sheets and the
    # Rule 606 routing report.
    US_SECURITIES: ("cat_events", "blotter", "order_tickets", "blue_sheets", "rule_606"),
}
WHO = {
    EU_UK_NCA: "an EU or UK national competent authority (an entity with an NCA country)",
    US_SECURITIES: "a US securities regulator",
}
# Kept for the refusal clients already know: a MiFIR report for an entity that is no NCA.
MIFIR_REFUSAL_CODE = "entity_not_nca"
REFUSAL_CODE = "report_not_for_entity"


def jurisdiction_of_report(report_type: str) -> str:
    """The jurisdiction whose entities alone receive the report type ("" for any entity)."""
    for jurisdiction, types in REPORTS_BY_JURISDICTION.items():
        if report_type in types:
            return jurisdiction
    return ""


def entity_jurisdiction(entity) -> str:
    """EU_UK_NCA, US_SECURITIES, or "" for an entity that receives neither kind."""
    if entity.nca_country:
        return EU_UK_NCA
    us = {code.upper() for code in settings.REPORTING_US_SECURITIES_REGULATORS}
    if entity.code.upper() in us:
        return US_SECURITIES
    return ""


def report_types_for(entity, report_types: list[str]) -> list[str]:
    """The report types among `report_types` that may be made for `entity` (None: every one)."""
    if entity is None:
        return list(report_types)
    own = entity_jurisdiction(entity)
    return [t for t in report_types if jurisdiction_of_report(t) in ("", own)]


def check_entity_receives(report_type: str, entity) -> None:
    """Refuse (400) a report made for an entity outside the report's jurisdiction."""
    if entity is None:
        return
    needed = jurisdiction_of_report(report_type)
    if not needed or entity_jurisdiction(entity) == needed:
        return
    if report_type == "mifir_transactions":
        raise ValidationFailed(
            f"{entity.code} is not a national competent authority under MiFIR: MiFIR "
            "transaction reports go to an NCA.",
            code=MIFIR_REFUSAL_CODE,
            details=field_errors(regulatory_entity=f"{entity.code} receives no MiFIR reports."),
        )
    raise ValidationFailed(
        f"{entity.code} does not receive {report_type} reports: they go to {WHO[needed]}.",
        code=REFUSAL_CODE,
        details=field_errors(
            regulatory_entity=f"{entity.code} receives no {report_type} reports.",
            report_type=f"Made for {WHO[needed]} or for no entity.",
        ),
    )
