"""The kinds of configuration change: what each writes, who may propose and approve it.

The app that owns the data registers its kinds when it is ready (`register`); this app keeps
the record, the four-eyes rule, the audit events and the surfaces, and knows no domain. A kind
is a handful of functions over its target:

- `resolve(key)`: the target named by its natural key (an account code, a symbol, a username,
  "EUR/USD"), or None when there is none (a 400 `unknown_target`);
- `check(target, values)`: the proposed values made plain JSON (decimals and times as
  strings), every one validated as the model would; raises ValidationFailed, writes nothing;
- `before(target, names)`: the target's current values of those fields, plain JSON; None for
  a kind that adds a row and has nothing to compare;
- `apply(target, proposed, actor)`: the domain's own service (validated and audited there),
  called inside the approval's transaction; returns the row it wrote.

With `stale_checked`, approval compares `before` with the target as it is then and refuses
(409 `change_stale`) when it has moved: the checker approved a diff that no longer holds.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from apps.rbac.roles import Role


@dataclass(frozen=True)
class ChangeKind:
    name: str
    label: str  # "the risk limits of an account": read in messages
    model: str  # "trading.account": the model of the rows approval writes
    fields: tuple[str, ...]  # the values a proposal may carry
    propose_role: Role
    approve_role: Role
    resolve: Callable[[str], Any]
    key: Callable[[Any], str]
    check: Callable[[Any, dict[str, Any]], dict[str, Any]]
    apply: Callable[[Any, dict[str, Any], Any], Any]
    before: Callable[[Any, Iterable[str]], dict[str, Any] | None]
    required: tuple[str, ...] = ()
    target_model: str | None = None  # "trading.account": the row the key names, if a row
    stale_checked: bool = True
    one_pending: bool = True  # at most one pending change of this kind per target
    # The user a change is about (a role's, an entitlement's): that user may not decide it.
    concerns_user: Callable[[Any], Any] | None = None

    @property
    def lowest_role(self) -> Role:
        return min(self.propose_role, self.approve_role)


KINDS: dict[str, ChangeKind] = {}


def register(kind: ChangeKind) -> ChangeKind:
    """Register a kind once per process (the same one again is a no-op)."""
    known = KINDS.get(kind.name)
    if known is not None and known != kind:
        raise ValueError(f"The change kind {kind.name!r} is registered already.")
    KINDS[kind.name] = kind
    return kind


def kind_get(name: Any) -> ChangeKind | None:
    return KINDS.get(name) if isinstance(name, str) else None


def kinds_visible(role: Role | None) -> list[str]:
    """The kinds a role may propose or approve, hence see."""
    if role is None:
        return []
    return sorted(k.name for k in KINDS.values() if role >= k.lowest_role)
