"""Event types, with the retention class and regulatory significance each carries by default."""

from enum import StrEnum


class RetentionClass(StrEnum):
    TRADING = "trading"  # orders, fills, positions, approvals, reports: 7 years
    ACCESS = "access"  # logins, tokens, data access: 3 years
    CONFIGURATION = "configuration"  # rules, limits, roles, settings: 10 years
    LIMIT_BREACH = "limit_breach"  # breaches and kill switch: 10 years
    DEFAULT = "default"


class EventType(StrEnum):
    ORDER_SUBMITTED = "ORDER_SUBMITTED"
    ORDER_REJECTED = "ORDER_REJECTED"
    ORDER_ACCEPTED = "ORDER_ACCEPTED"
    ORDER_FILLED = "ORDER_FILLED"
    FILL_CORRECTED = "FILL_CORRECTED"  # quantity and/or price changed after booking
    FILL_BUSTED = "FILL_BUSTED"  # the execution was canceled: out of positions and reports
    ORDER_CANCELED = "ORDER_CANCELED"
    ORDER_AMENDED = "ORDER_AMENDED"
    ORDER_EXPIRED = "ORDER_EXPIRED"
    POSITION_CHANGED = "POSITION_CHANGED"
    CONFIG_CHANGED = "CONFIG_CHANGED"
    KILL_SWITCH_ACTIVATED = "KILL_SWITCH_ACTIVATED"
    KILL_SWITCH_DEACTIVATED = "KILL_SWITCH_DEACTIVATED"
    APPROVAL_REQUESTED = "APPROVAL_REQUESTED"
    APPROVAL_GRANTED = "APPROVAL_GRANTED"
    APPROVAL_DENIED = "APPROVAL_DENIED"
    APPROVAL_EXPIRED = "APPROVAL_EXPIRED"
    APPROVAL_CANCELED = "APPROVAL_CANCELED"  # the held order was canceled before a decision
    APPROVAL_REFUSED = "APPROVAL_REFUSED"  # an approval the re-check refused; still pending
    SURVEILLANCE_ALERT = "SURVEILLANCE_ALERT"
    ALERT_UPDATED = "ALERT_UPDATED"  # assigned, commented, escalated, closed
    EXECUTION_REPORTED = "EXECUTION_REPORTED"  # a venue or broker drop copy, as received
    MARKET_DATA_RECORDED = "MARKET_DATA_RECORDED"  # a batch of the market's trades or quotes
    LOCATE_RECORDED = "LOCATE_RECORDED"  # shares located for short sales (Reg SHO 203(b))
    LIMIT_BREACH = "LIMIT_BREACH"
    LIMIT_BREACH_RESOLVED = "LIMIT_BREACH_RESOLVED"
    REPORT_GENERATED = "REPORT_GENERATED"
    REPORT_DOWNLOADED = "REPORT_DOWNLOADED"
    REPORT_STATUS_CHANGED = "REPORT_STATUS_CHANGED"  # submitted, accepted, rejected
    REPORT_RERUN_NEEDED = "REPORT_RERUN_NEEDED"  # a fill booked late lands in its period
    REPORT_FEEDBACK_IMPORTED = "REPORT_FEEDBACK_IMPORTED"  # the regulator's per-transaction file
    STOR_UPDATED = "STOR_UPDATED"  # drafted, edited, sent for review, approved, sent back
    DATA_PURGED = "DATA_PURGED"
    SYSTEM_ACCESS = "SYSTEM_ACCESS"
    DATA_ACCESS = "DATA_ACCESS"


R = RetentionClass
# type -> (retention class, regulatory significance)
EVENT_DEFAULTS: dict[EventType, tuple[RetentionClass, bool]] = {
    EventType.ORDER_SUBMITTED: (R.TRADING, True),
    EventType.ORDER_REJECTED: (R.TRADING, True),
    EventType.ORDER_ACCEPTED: (R.TRADING, True),
    EventType.ORDER_FILLED: (R.TRADING, True),
    EventType.FILL_CORRECTED: (R.TRADING, True),
    EventType.FILL_BUSTED: (R.TRADING, True),
    EventType.ORDER_CANCELED: (R.TRADING, True),
    EventType.ORDER_AMENDED: (R.TRADING, True),
    EventType.ORDER_EXPIRED: (R.TRADING, True),
    EventType.POSITION_CHANGED: (R.TRADING, True),
    EventType.CONFIG_CHANGED: (R.CONFIGURATION, True),
    EventType.KILL_SWITCH_ACTIVATED: (R.LIMIT_BREACH, True),
    EventType.KILL_SWITCH_DEACTIVATED: (R.LIMIT_BREACH, True),
    EventType.APPROVAL_REQUESTED: (R.TRADING, True),
    EventType.APPROVAL_GRANTED: (R.TRADING, True),
    EventType.APPROVAL_DENIED: (R.TRADING, True),
    EventType.APPROVAL_EXPIRED: (R.TRADING, True),
    EventType.APPROVAL_CANCELED: (R.TRADING, True),
    EventType.APPROVAL_REFUSED: (R.LIMIT_BREACH, True),
    EventType.SURVEILLANCE_ALERT: (R.TRADING, True),
    EventType.ALERT_UPDATED: (R.TRADING, True),
    EventType.EXECUTION_REPORTED: (R.TRADING, True),
    EventType.MARKET_DATA_RECORDED: (R.TRADING, False),
    EventType.LOCATE_RECORDED: (R.TRADING, True),
    EventType.LIMIT_BREACH: (R.LIMIT_BREACH, True),
    EventType.LIMIT_BREACH_RESOLVED: (R.LIMIT_BREACH, True),
    EventType.REPORT_GENERATED: (R.TRADING, True),
    EventType.REPORT_DOWNLOADED: (R.ACCESS, False),
    EventType.REPORT_STATUS_CHANGED: (R.TRADING, True),
    EventType.REPORT_RERUN_NEEDED: (R.TRADING, True),
    EventType.REPORT_FEEDBACK_IMPORTED: (R.TRADING, True),
    EventType.STOR_UPDATED: (R.TRADING, True),
    EventType.DATA_PURGED: (R.CONFIGURATION, True),
    EventType.SYSTEM_ACCESS: (R.ACCESS, False),
    EventType.DATA_ACCESS: (R.ACCESS, False),
}
