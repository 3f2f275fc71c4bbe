"""The five roles of the ladder, and the service identities outside it.

The ladder is cumulative: each role may do everything the roles below it may. A service
identity (Feed) is not on the ladder: a Feed user holds no `Role`, so it passes no
`required_role=Role.VIEWER` check (nor any other rung), and no person's role, Admin included,
passes a check that asks for Feed. A user holds one role or one service identity, never both.
"""

from enum import Enum, IntEnum


class Role(IntEnum):
    VIEWER = 1
    TRADER = 2
    RISK_MANAGER = 3
    COMPLIANCE_OFFICER = 4
    ADMIN = 5

    @property
    def group_name(self) -> str:
        return ROLE_GROUPS[self]

    @property
    def slug(self) -> str:
        return self.name.lower()

    @classmethod
    def from_slug(cls, slug: str) -> "Role":
        return cls[slug.strip().upper().replace(" ", "_").replace("-", "_")]


class ServiceRole(Enum):
    """A machine identity with one narrow job. Feed posts what the market and the venues
    report (drop copies; market data later) and may read or change nothing else."""

    FEED = "feed"

    @property
    def group_name(self) -> str:
        return SERVICE_GROUPS[self]

    @property
    def slug(self) -> str:
        return self.value


ROLE_GROUPS = {
    Role.VIEWER: "Viewer",
    Role.TRADER: "Trader",
    Role.RISK_MANAGER: "Risk Manager",
    Role.COMPLIANCE_OFFICER: "Compliance Officer",
    Role.ADMIN: "Admin",
}
GROUP_ROLES = {name: role for role, name in ROLE_GROUPS.items()}
SERVICE_GROUPS = {ServiceRole.FEED: "Feed"}
GROUP_SERVICE_ROLES = {name: role for role, name in SERVICE_GROUPS.items()}

AnyRole = Role | ServiceRole


def any_role_from_slug(slug: str) -> AnyRole:
    """A ladder role or a service identity by its slug ("trader", "feed")."""
    cleaned = slug.strip().lower()
    for service in ServiceRole:
        if service.value == cleaned:
            return service
    return Role.from_slug(cleaned)
