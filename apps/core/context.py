"""Who is acting, from where: set per request (middleware, API authentication) or per task.

The audit trail reads it, so that services need only be told the acting user.
"""

import contextvars
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class ActorContext:
    ip: str | None = None
    user_agent: str | None = None
    request_id: str | None = None
    token_name: str | None = None
    system: str | None = None  # the task or command acting when no user is
    extra: dict = field(default_factory=dict)


_current: contextvars.ContextVar[ActorContext | None] = contextvars.ContextVar(
    "actor_context", default=None
)


def current() -> ActorContext:
    ctx = _current.get()
    return ctx if ctx is not None else ActorContext()


@contextmanager
def acting(ctx: ActorContext):
    token = _current.set(ctx)
    try:
        yield ctx
    finally:
        _current.reset(token)


@contextmanager
def acting_as_system(name: str):
    """For tasks and commands: events are recorded with this system actor."""
    outer = _current.get()
    ctx = ActorContext(request_id=outer.request_id if outer else None, system=name)
    with acting(ctx):
        yield ctx
