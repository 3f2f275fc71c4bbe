"""System checks of the project's own wiring (run by check, runserver, migrate and the tests)."""

from django.core.checks import Error

from apps.core import hooks


def hooks_filled(app_configs=None, **kwargs) -> list[Error]:
    """Every upward hook is filled once all apps are ready (apps.core.hooks)."""
    # `check <app>`: the hooks those apps declare.
    wanted = None if app_configs is None else tuple(f"{c.name}." for c in app_configs)
    return [
        Error(
            "Nothing fills this hook.",
            hint=f"{h.filled_by} fills it in its AppConfig.ready(): is it installed?",
            obj=h,
            id="core.E001",
        )
        for h in hooks.declared()
        if not h.filled and (wanted is None or h.declared_in.startswith(wanted))
    ]
