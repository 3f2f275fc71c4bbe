"""The halt banner: every page says when trading is stopped or reducing only, and where."""

from apps.killswitch.selectors import active_switches


def halts(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"halts": []}
    return {"halts": active_switches(user=user)}
