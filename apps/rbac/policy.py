"""Who may view, add, change and delete each model: one table for admin and group permissions.

`None` means nobody, whatever the role: such rows change only through their services (an order
is changed by the gate and the fill service, never edited in a form).
"""

from apps.rbac.roles import Role

V, T, R, C, A = (
    Role.VIEWER,
    Role.TRADER,
    Role.RISK_MANAGER,
    Role.COMPLIANCE_OFFICER,
    Role.ADMIN,
)

MODEL_POLICY: dict[str, dict[str, Role | None]] = {
    # reference data: compliance maintains it
    # (a Risk Manager changes an account's risk limits only, and only by proposing them:
    # AccountAdmin leaves the other fields read-only below a Compliance Officer)
    "trading.account": {"view": V, "add": C, "change": R, "delete": None},
    "trading.beneficialowner": {"view": V, "add": C, "change": C, "delete": None},
    "trading.instrument": {"view": V, "add": C, "change": C, "delete": None},
    # natural persons' identities for MiFIR: personal data, compliance only
    "trading.clientperson": {"view": C, "add": C, "change": C, "delete": None},
    # owners' names, addresses and tax identifiers for the blue sheets: personal data
    "trading.customerrecord": {"view": C, "add": C, "change": C, "delete": None},
    "trading.referenceprice": {"view": V, "add": C, "change": None, "delete": None},
    "trading.dailyprice": {"view": V, "add": None, "change": None, "delete": None},
    # FX rates: recorded (never edited) by risk, or by a feed through the API
    "trading.fxrate": {"view": V, "add": R, "change": None, "delete": None},
    # the order book: written by services only
    "trading.order": {"view": V, "add": None, "change": None, "delete": None},
    "trading.fill": {"view": V, "add": None, "change": None, "delete": None},
    "trading.position": {"view": V, "add": None, "change": None, "delete": None},
    "trading.workingexposure": {"view": V, "add": None, "change": None, "delete": None},
    "trading.accountdailyactivity": {"view": V, "add": None, "change": None, "delete": None},
    # locates: recorded through their service (the API), never edited
    "trading.locate": {"view": V, "add": None, "change": None, "delete": None},
    "trading.ordermessage": {"view": R, "add": None, "change": None, "delete": None},
    "trading.accountdailyfilled": {"view": V, "add": None, "change": None, "delete": None},
    # rules change only through maker-checker; the kill switch through its services
    # configuration changes: proposed and decided through their services (maker-checker);
    # each role sees the kinds it may propose or approve (apps.changes.selectors)
    "changes.configchange": {"view": R, "add": None, "change": None, "delete": None},
    "rules.compliancerule": {"view": V, "add": C, "change": C, "delete": None},
    "rules.rulechange": {"view": V, "add": None, "change": None, "delete": None},
    "rules.ruleversion": {"view": V, "add": None, "change": None, "delete": None},
    "rules.regulatoryentity": {"view": V, "add": C, "change": C, "delete": None},
    "rules.restrictedlistentry": {"view": V, "add": C, "change": None, "delete": None},
    # the watch list is inside information: compliance only, never the front office
    "rules.watchlistentry": {"view": C, "add": C, "change": None, "delete": None},
    "killswitch.killswitch": {"view": V, "add": None, "change": None, "delete": None},
    # the queue is the approvers' (a Trader follows a held order through the order itself)
    "approvals.approvalrequest": {"view": C, "add": None, "change": None, "delete": None},
    # surveillance: settings by compliance (through the service); alerts worked on their pages.
    # Compliance Officer and above only, down to the drop copies (MAR: no tipping off)
    "surveillance.detectorconfig": {"view": C, "add": None, "change": C, "delete": None},
    "surveillance.alert": {"view": C, "add": None, "change": None, "delete": None},
    "surveillance.occurrence": {"view": C, "add": None, "change": None, "delete": None},
    "surveillance.alertnote": {"view": C, "add": None, "change": None, "delete": None},
    "surveillance.executionreport": {"view": C, "add": None, "change": None, "delete": None},
    # the market's tape: posted by the feed or imported, never edited
    "marketdata.markettrade": {"view": R, "add": None, "change": None, "delete": None},
    "marketdata.marketquote": {"view": R, "add": None, "change": None, "delete": None},
    "surveillance.surveillancecursor": {"view": C, "add": None, "change": None, "delete": None},
    "surveillance.relatedparty": {"view": C, "add": C, "change": None, "delete": C},
    # reports: generated and filed through their services (Compliance Officer), never edited;
    # each covers every account, so only a role that sees every account reads them
    "reporting.regulatoryreport": {"view": R, "add": None, "change": None, "delete": None},
    # STORs name the persons suspected of market abuse: compliance only (MAR art. 16)
    "reporting.stor": {"view": C, "add": None, "change": None, "delete": None},
    # delivery records name staff addresses and client endpoints: compliance follows them up
    "notifications.delivery": {"view": C, "add": None, "change": None, "delete": None},
    # the portfolio monitor: written by its runs only; firm-wide (every account), like the
    # compliance dashboard
    "monitoring.violation": {"view": R, "add": None, "change": None, "delete": None},
    "monitoring.monitorrun": {"view": R, "add": None, "change": None, "delete": None},
    # where staff alerts go: compliance edits it (switched off, never deleted: audited)
    "notifications.routingrule": {"view": C, "add": C, "change": C, "delete": None},
    # the audit trail: read-only, Compliance Officer and above (it names every user's address,
    # browser and the cases worked); exported by compliance
    "audit.auditevent": {"view": C, "add": None, "change": None, "delete": None},
    "audit.checkpoint": {"view": C, "add": None, "change": None, "delete": None},
    # people and access; entitlements change through their services (maker-checker at merge)
    # added (and revoked by an action) as proposals: a second Admin approves
    "trading.accountentitlement": {"view": R, "add": A, "change": None, "delete": None},
    "auth.user": {"view": A, "add": A, "change": A, "delete": None},
    "auth.group": {"view": A, "add": None, "change": None, "delete": None},
    "rbac.apitoken": {"view": A, "add": None, "change": None, "delete": None},
    # second-factor devices: an Admin removes a lost one (audited); secrets never shown
    "otp_totp.totpdevice": {"view": A, "add": None, "change": None, "delete": A},
    "otp_static.staticdevice": {"view": A, "add": None, "change": None, "delete": A},
    "otp_static.statictoken": {"view": None, "add": None, "change": None, "delete": None},
    "rbac.staffidentity": {"view": C, "add": C, "change": C, "delete": None},
    "axes.accessattempt": {"view": A, "add": None, "change": None, "delete": A},
    "axes.accessfailurelog": {"view": A, "add": None, "change": None, "delete": None},
    "axes.accesslog": {"view": A, "add": None, "change": None, "delete": None},
    # schedules: compliance may pause or edit the beat jobs
    "django_celery_beat.periodictask": {"view": C, "add": A, "change": C, "delete": A},
    "django_celery_beat.crontabschedule": {"view": C, "add": A, "change": A, "delete": A},
    "django_celery_beat.intervalschedule": {"view": C, "add": A, "change": A, "delete": A},
    "django_celery_beat.solarschedule": {"view": C, "add": A, "change": A, "delete": A},
    "django_celery_beat.clockedschedule": {"view": C, "add": A, "change": A, "delete": A},
}


def required_role(model_label: str, action: str) -> Role | None:
    """The lowest role allowed `action` on `model_label`; None when nobody is. Unknown: Admin."""
    policy = MODEL_POLICY.get(model_label.lower())
    if policy is None:
        return Role.ADMIN if action == "view" else None
    return policy.get(action)
