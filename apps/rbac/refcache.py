"""Reference data kept in each process's memory behind one version (`ReferenceVersion`).

Every order needs its API token, its user and role, its account (with the submitter's
entitlement) and its instrument: rows that change a few times a day, read on every request.
Each process keeps what it read in a generation stamped with the version of the reference
data. Database triggers (migrations `rbac.0005`, `trading.0015`) move that version in the
transaction of every INSERT, UPDATE, DELETE or TRUNCATE of the tables behind it, whoever
writes them (the admin, a service, a bulk update, plain SQL), to a random 63-bit number:
caches compare versions for equality only, and a change rolled back leaves no number that a
later change could take again (a counter would give the next change the same one).

How a request uses it:

- By default (`lookup`), the first lookup of a request reads the version (one small
  statement), then what it misses, with the version again in the same batch: rows are kept
  only when that version is still the generation's, so a generation never holds rows older
  than its version, nor rows a transaction read of its own uncommitted changes (their version
  is that transaction's own). Every later lookup of the request uses the same generation.
- A view that reads the version itself inside its own transaction (the order API: in the
  batch that locks the account) calls `check_later`: its lookups trust the process's current
  generation without a statement, and the view compares the version it reads with the one
  the request used (`verify`); when they differ, `Stale` rolls the order back and the view
  runs again on fresh reads (`fresh`), as it does when it refused the request on what the
  cache held (an authentication, a role, an entitlement, an unknown account). A token
  revoked, a user deactivated, a role or an entitlement withdrawn or an instrument changed
  therefore takes effect on the very next order.

Misses of unknown keys are not kept (a random token is read every time, never stored).
Outside a request (tasks, commands) every lookup reads the version.
"""

import copy
import threading
from collections.abc import Callable, Hashable, Sequence
from contextvars import ContextVar
from typing import Any

from apps.core import sql
from apps.core.errors import PlatformError

TABLE = "rbac_referenceversion"
FUNCTION = "rbac_reference_bump"
# Most rows a generation keeps before it starts again (a bound on memory).
MAX_ENTRIES = 10_000


class Stale(PlatformError):
    """The reference data moved while a request used what it had read of it: nothing is
    stored, and the view runs again (a 503 only if it keeps moving)."""

    status_code = 503
    code = "reference_data_changed"
    default_message = "Reference data changed during the request; send it again."


class _Generation:
    __slots__ = ("version", "entries")

    def __init__(self, version: int | None):
        self.version = version
        self.entries: dict[Hashable, Any] = {}


_MISSING = object()
_current = _Generation(None)
_swap = threading.Lock()


class _RequestState:
    __slots__ = ("pinned", "later", "afresh")

    def __init__(self):
        self.pinned: _Generation | None = None  # the generation this request reads from
        self.later = False  # its version is checked later, in the view's own transaction
        self.afresh = False  # read afresh from now on (after `fresh`): never later again


_state: ContextVar[_RequestState | None] = ContextVar("refcache", default=None)


def version_statement() -> sql.Statement:
    return sql.single((f"SELECT version FROM {TABLE} WHERE id = 1", (), ()), 1)  # noqa: S608


def version_of(found: list[tuple]) -> int | None:
    """The version from `version_statement`'s rows (None: no row yet, nothing is kept)."""
    return found[0][0] if found else None


def _generation(version: int | None) -> _Generation:
    """The process's generation for `version`, a new empty one when the version moved."""
    global _current
    current = _current
    if current.version == version and version is not None:
        return current
    with _swap:
        if _current.version != version or version is None:
            _current = _Generation(version)
        return _current


def begin_request() -> None:
    """A request starts (middleware): its lookups will share one generation."""
    _state.set(_RequestState())


def end_request() -> None:
    _state.set(None)


def check_later() -> None:
    """This request's view reads the version in its own transaction and calls `verify`: its
    lookups may use the process's generation without reading the version first."""
    state = _state.get()
    if state is not None and not state.afresh:
        state.later = True


def unverified() -> bool:
    """Whether this request may have used cached rows without reading the version."""
    state = _state.get()
    return state is not None and state.later


def fresh() -> None:
    """From now on in this request, read the version again (after `Stale`)."""
    state = _state.get()
    if state is not None:
        state.pinned, state.later, state.afresh = None, False, True


def lookup(
    key: Hashable,
    load: Callable[[], Sequence[sql.Statement]],
    build: Callable,
    *,
    keep: Callable[[Any], bool] = lambda value: value is not None,
) -> Any:
    """The value kept under `key`, else `build(*rows)` from the statements `load()` gives,
    read in one batch after the version, and kept when `keep(value)` (by default: when
    `build` found something, not None) and the version is the generation's. Returns a
    shallow copy of what is kept (model instances are per request). Outside a request every
    lookup reads the version."""
    state = _state.get()
    if state is not None and state.pinned is None and state.later and _current.version:
        state.pinned = _current
    generation = state.pinned if state is not None else None
    if generation is None:
        generation = _generation(version_of(sql.rows(*version_statement()[:2])))
        if state is not None:
            state.pinned = generation
    found = generation.entries.get(key, _MISSING)
    if found is not _MISSING:
        return _copy(found)
    # The version again, in the same batch, ahead of the rows: they are kept only when it is
    # still the generation's. Rows a transaction reads after changing a table behind the cache
    # (its own writes, which it may yet roll back) come with that transaction's own version,
    # never committed before: they are not kept.
    fetched = sql.batch([version_statement(), *load()])
    read_at = version_of(fetched.pop(0))
    value = build(*fetched)
    if generation.version is not None and read_at == generation.version and keep(value):
        if len(generation.entries) >= MAX_ENTRIES:
            generation.entries.clear()
        generation.entries[key] = value
    return _copy(value)


def _copy(value):
    if isinstance(value, tuple):
        return tuple(copy.copy(v) for v in value)
    return copy.copy(value)


def verify(version: int | None) -> None:
    """`version`, read inside the caller's transaction, against the generation the request
    used: `Stale` when the reference data moved since (the process starts a new generation).
    Nothing to compare when the request used none."""
    state = _state.get()
    if state is None or state.pinned is None:
        return
    if state.pinned.version == version:
        state.later = False  # verified: what follows is decided on current reference data
        return
    _generation(version)
    raise Stale()


def clear() -> None:
    """Forget everything (tests, and after a change made in this process's own transaction)."""
    global _current
    with _swap:
        _current = _Generation(None)


# --- the triggers -----------------------------------------------------------------------------


def _random(vendor: str) -> str:
    """A random positive 63-bit number: never one a cache has seen (they compare equality)."""
    if vendor == "postgresql":
        return "(1 + floor(random() * 9223372036854775000))::bigint"
    return "(abs(random() >> 1) + 1)"


def install_triggers(schema_editor, tables: Sequence[str]) -> None:
    """Triggers on `tables` that move the version in the writing transaction."""
    vendor = schema_editor.connection.vendor
    upsert = (
        f"INSERT INTO {TABLE} (id, version) VALUES (1, {_random(vendor)}) "  # noqa: S608 - constants
        "ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version"
    )
    if vendor == "postgresql":
        schema_editor.execute(
            f"CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN {upsert}; RETURN NULL; END $$"
        )
        for table in tables:
            schema_editor.execute(
                f"CREATE TRIGGER {FUNCTION} AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
                f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION {FUNCTION}()"
            )
        return
    if vendor != "sqlite":
        raise NotImplementedError(vendor)
    for table in tables:
        for event in ("INSERT", "UPDATE", "DELETE"):
            schema_editor.execute(
                f"CREATE TRIGGER {FUNCTION}_{table}_{event.lower()} AFTER {event} ON {table} "
                f"BEGIN {upsert}; END"
            )


def remove_triggers(schema_editor, tables: Sequence[str]) -> None:
    vendor = schema_editor.connection.vendor
    for table in tables:
        if vendor == "postgresql":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {FUNCTION} ON {table}")
        else:
            for event in ("insert", "update", "delete"):
                schema_editor.execute(f"DROP TRIGGER IF EXISTS {FUNCTION}_{table}_{event}")


class RequestScopeMiddleware:
    """Each request's lookups share one generation (`begin_request`), and nothing of it
    outlives the request (the thread serves the next one)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        begin_request()
        try:
            return self.get_response(request)
        finally:
            end_request()
