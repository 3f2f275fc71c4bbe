from apps.rbac.access import user_role


def role(request):
    current = user_role(getattr(request, "user", None))
    return {"user_role": current, "user_role_name": current.group_name if current else ""}
