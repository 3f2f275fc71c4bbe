"""Upward hooks: how an app calls into one above it, which it may not import.

Dependencies point one way (docs/architecture.md), yet a lower app sometimes needs the work of a
higher one at run time: rbac records audit events, trading closes a held order's approval
request. The lower app declares a hook in its `hooks.py`, a typed stub:

    @hook(filled_by="apps.rules")
    def recheck_held_order(*, order: Order, user) -> list[dict]:
        '''What the hook carries: its docstring is its description.'''

and calls it like a function. The app above fills it in its `AppConfig.ready()`:

    hooks.recheck_held_order.provide(recheck_held_order)

One implementation per hook: a second, different one is refused. Called empty, a hook fails
loudly (`HookEmpty`), or does what its declaration's `when_empty` says (the approvals re-check
fails closed). The system check `core.E001` (`apps.core.checks`) names every hook that nothing
filled once all apps are ready, so that an empty hook stops `check`, `runserver`, `migrate` and
the test run rather than the first request that needs it.
"""

import inspect
from collections.abc import Callable
from typing import Any, Generic, ParamSpec, TypeVar

from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import autodiscover_modules

P = ParamSpec("P")
R = TypeVar("R")

# Every declared hook by name ("apps.approvals.hooks.recheck_held_order").
registry: dict[str, "Hook[..., Any]"] = {}


class HookEmpty(RuntimeError):
    """A hook was called that no app has filled."""


class Hook(Generic[P, R]):
    def __init__(
        self,
        stub: Callable[P, R],
        *,
        filled_by: str,
        when_empty: Callable[P, R] | None = None,
    ) -> None:
        self.name = f"{stub.__module__}.{stub.__qualname__}"
        self.declared_in = stub.__module__
        self.description = inspect.cleandoc(stub.__doc__ or "")
        self.signature = inspect.signature(stub)
        self.filled_by = filled_by  # the app expected to fill it, for the error messages
        self.when_empty = when_empty
        self.provider: Callable[P, R] | None = None
        registry[self.name] = self

    def __repr__(self) -> str:
        return f"<Hook {self.name}>"

    def __str__(self) -> str:
        return self.name

    @property
    def filled(self) -> bool:
        return self.provider is not None

    def provide(self, fn: Callable[P, R]) -> Callable[P, R]:
        """Fill the hook with `fn`, once per process (the same function again is a no-op)."""
        if self.provider is not None and self.provider != fn:
            raise ImproperlyConfigured(
                f"The hook {self.name} is already filled by {_qualname(self.provider)}; "
                f"{_qualname(fn)} cannot fill it too."
            )
        _check_signature(self, fn)
        self.provider = fn
        return fn

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        provider = self.provider
        if provider is not None:
            return provider(*args, **kwargs)
        if self.when_empty is not None:
            return self.when_empty(*args, **kwargs)
        raise HookEmpty(f"Nothing fills the hook {self.name}: is {self.filled_by} installed?")


def hook(
    *, filled_by: str, when_empty: Callable[P, R] | None = None
) -> Callable[[Callable[P, R]], Hook[P, R]]:
    """Declare a hook from a stub whose signature and docstring say what it carries."""

    def declare(stub: Callable[P, R]) -> Hook[P, R]:
        return Hook(stub, filled_by=filled_by, when_empty=when_empty)

    return declare


def declared() -> list[Hook[..., Any]]:
    """Every hook of the installed apps (each app's `hooks` module is imported first)."""
    autodiscover_modules("hooks")
    return sorted(registry.values(), key=lambda h: h.name)


def _qualname(fn: Callable[..., Any]) -> str:
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"


def _check_signature(hook: Hook[..., Any], fn: Callable[..., Any]) -> None:
    """`fn` must accept every call the declaration allows: all arguments, and the required ones."""
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):  # a builtin without a signature: trust it
        return
    params = hook.signature.parameters.values()
    for subset in (params, [p for p in params if p.default is inspect.Parameter.empty]):
        args = [p.name for p in subset if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        kwargs = {p.name: p.name for p in subset if p.kind == p.KEYWORD_ONLY}
        try:
            signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise ImproperlyConfigured(
                f"{_qualname(fn)} cannot fill the hook {hook.name}{hook.signature}: {exc}."
            ) from None


# --- core's own hook --------------------------------------------------------------------------


@hook(filled_by="apps.audit")
def audit_record(
    *,
    event_type: str,
    actor: Any = None,
    object_type: str = "",
    object_id: str | int = "",
    payload: dict | None = None,
) -> object:
    """Append an event to the audit trail, in the caller's transaction.

    rbac sits below the audit app (audit uses rbac for its permissions), so it records through
    this hook; `apps.audit.services.audit_record` fills it. Empty, recording fails, and so does
    the change it belongs to: there is no silent fallback.
    """
