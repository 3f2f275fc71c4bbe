"""The five roles. Cumulative: each may do everything the roles below it may."""

from enum import IntEnum


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


ROLE_GROUPS = {
    Role.VIEWER: "Viewer",
    Role.TRADER: "Trader",
    Role.RISK_MANAGER: "Risk Manager",
    Role.COMPLIANCE_OFFICER: "Compliance Officer",
    Role.ADMIN: "Admin",
}
GROUP_ROLES = {name: role for role, name in ROLE_GROUPS.items()}
