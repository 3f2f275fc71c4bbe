"""The audit trail's entry point for the apps below it (rbac).

Apps above the audit app call `apps.audit.services.audit_record` directly. rbac sits below it
(the audit app uses rbac for its permissions), so it records through this hook, which the audit
app fills in when it loads. There is no silent fallback: with no recorder, recording fails, and
so does the change it belongs to.
"""

from collections.abc import Callable

_recorder: Callable[..., object] | None = None


def register(recorder: Callable[..., object]) -> None:
    global _recorder
    _recorder = recorder


def record(**kwargs) -> object:
    if _recorder is None:
        raise RuntimeError("No audit recorder is registered: is apps.audit installed?")
    return _recorder(**kwargs)
