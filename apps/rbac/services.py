"""Writes for users, roles and API tokens."""

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.db.models import Case, IntegerField, OuterRef, Subquery, Value, When

from apps.core.errors import NotAuthenticated, ValidationFailed, field_errors
from apps.core.hooks import audit_record
from apps.core.time import utcnow
from apps.rbac.access import forget_role, remember_role, user_role, user_service_role
from apps.rbac.models import ApiToken
from apps.rbac.policy import MODEL_POLICY
from apps.rbac.roles import ROLE_GROUPS, SERVICE_GROUPS, AnyRole, Role

User = get_user_model()


def role_groups_sync(*, using: str = "default") -> None:
    """Give each role group exactly the Django permissions that the policy table grants it."""
    groups = {
        role: Group.objects.using(using).get_or_create(name=name)[0]
        for role, name in ROLE_GROUPS.items()
    }
    perms = Permission.objects.using(using).select_related("content_type")
    by_key = {(p.content_type.app_label, p.codename): p for p in perms}
    for role, group in groups.items():
        wanted = []
        for label, actions in MODEL_POLICY.items():
            app_label, model = label.split(".")
            for action, needed in actions.items():
                perm = by_key.get((app_label, f"{action}_{model}"))
                if perm is not None and needed is not None and role >= needed:
                    wanted.append(perm)
        group.permissions.set(wanted)
    # A service identity gets no model permission: it never enters the back office.
    for name in SERVICE_GROUPS.values():
        Group.objects.using(using).get_or_create(name=name)[0].permissions.set([])


def _held(user) -> AnyRole | None:
    return user_role(user) or user_service_role(user)


@transaction.atomic
def user_role_set(*, user, role: AnyRole | None, actor=None) -> None:
    """Put `user` in exactly one role group or service group (Feed), or none. Staff status
    follows a ladder role: a service identity never enters the back office."""
    before = _held(user)
    role_groups = Group.objects.filter(name__in=[*ROLE_GROUPS.values(), *SERVICE_GROUPS.values()])
    user.groups.remove(*role_groups)
    if role is not None:
        group, _ = Group.objects.get_or_create(name=role.group_name)
        user.groups.add(group)
    user.is_staff = isinstance(role, Role)
    user.save(update_fields=["is_staff"])
    forget_role(user)
    if before != role:
        audit_record(
            event_type="CONFIG_CHANGED",
            actor=actor,
            object_type="auth.user",
            object_id=user.pk,
            payload={
                "change": "role",
                "username": user.get_username(),
                "before": {"role": before.slug if before else None},
                "after": {"role": role.slug if role else None},
            },
        )


@transaction.atomic
def user_create(*, username: str, password: str, role: AnyRole | None, email: str = "", actor=None):
    if User.objects.filter(username=username).exists():
        raise ValidationFailed(details=field_errors(username="A user with this name exists."))
    user = User(username=username, email=email)
    user.set_password(password)
    user.full_clean(exclude=["password"])
    user.save()
    audit_record(
        event_type="CONFIG_CHANGED",
        actor=actor,
        object_type="auth.user",
        object_id=user.pk,
        payload={"change": "user_created", "username": username, "after": {"email": email}},
    )
    user_role_set(user=user, role=role, actor=actor)
    return user


USER_FIELDS = ["username", "first_name", "last_name", "email", "is_active"]


@transaction.atomic
def user_update(*, user, actor=None, **changes):
    """Change a user's name, email or active flag (not the role: user_role_set)."""
    unknown = set(changes) - set(USER_FIELDS)
    if unknown:
        raise ValidationFailed(details={f: ["Cannot be changed here."] for f in sorted(unknown)})
    fresh = User.objects.select_for_update().get(pk=user.pk)
    before = {name: getattr(fresh, name) for name in changes}
    for name, value in changes.items():
        setattr(fresh, name, value)
    changed = [name for name in changes if before[name] != getattr(fresh, name)]
    if not changed:
        return fresh
    fresh.full_clean(exclude=["password"])
    fresh.save(update_fields=changed)
    audit_record(
        event_type="CONFIG_CHANGED",
        actor=actor,
        object_type="auth.user",
        object_id=fresh.pk,
        payload={
            "change": "user_updated",
            "username": fresh.get_username(),
            "before": {k: before[k] for k in changed},
            "after": {k: getattr(fresh, k) for k in changed},
        },
    )
    return fresh


@transaction.atomic
def user_password_set(*, user, password: str, actor=None) -> None:
    """Set a user's password; the trail records that it changed, never the password."""
    user.set_password(password)
    user.save(update_fields=["password"])
    audit_record(
        event_type="SYSTEM_ACCESS",
        actor=actor,
        object_type="auth.user",
        object_id=user.pk,
        payload={"action": "password_set", "username": user.get_username()},
    )


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@transaction.atomic
def api_token_issue(
    *, user, name: str = "api", ttl: timedelta | None = None
) -> tuple[ApiToken, str]:
    """Issue a token; returns the row and the key, which is never stored and never shown again."""
    key = secrets.token_urlsafe(32)
    token = ApiToken(
        user=user,
        name=(name or "api")[:100],
        prefix=key[:8],
        digest=_digest(key),
        expires_at=utcnow() + (ttl or settings.API_TOKEN_TTL),
    )
    token.full_clean()
    token.save()
    audit_record(
        event_type="SYSTEM_ACCESS",
        actor=user,
        object_type="rbac.apitoken",
        object_id=token.pk,
        payload={
            "action": "token_issued",
            "token_name": token.name,
            "prefix": token.prefix,
            "expires_at": token.expires_at,
        },
    )
    return token, key


def _highest_role_group():
    """The name of the user's highest role group, for a subquery of a row with `user_id`; a
    service group (Feed) ranks below every role."""
    rank = Case(
        *[When(name=name, then=Value(int(role))) for role, name in ROLE_GROUPS.items()],
        default=Value(0),
        output_field=IntegerField(),
    )
    names = [*ROLE_GROUPS.values(), *SERVICE_GROUPS.values()]
    groups = Group.objects.filter(user=OuterRef("user_id"), name__in=names)
    return Subquery(groups.annotate(rank=rank).order_by("-rank").values("name")[:1])


def api_token_authenticate(key: str) -> ApiToken:
    """The live token for `key`, or NotAuthenticated (unknown, expired, revoked, user inactive).
    The user's role comes in the same statement (one query less on every API request)."""
    token = (
        ApiToken.objects.select_related("user")
        .annotate(role_group=_highest_role_group())
        .filter(digest=_digest(key))
        .first()
    )
    if token is None:
        raise NotAuthenticated("Invalid token.", code="invalid_token")
    if token.revoked_at is not None:
        raise NotAuthenticated("Token revoked.", code="token_revoked")
    if token.expires_at <= utcnow():
        raise NotAuthenticated("Token expired.", code="token_expired")
    if not token.user.is_active:
        raise NotAuthenticated("User inactive.", code="user_inactive")
    remember_role(token.user, token.role_group)
    return token


@transaction.atomic
def api_token_revoke(*, token: ApiToken, actor=None) -> ApiToken:
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        token.save(update_fields=["revoked_at"])
        audit_record(
            event_type="SYSTEM_ACCESS",
            actor=actor,
            object_type="rbac.apitoken",
            object_id=token.pk,
            payload={"action": "token_revoked", "token_name": token.name, "prefix": token.prefix},
        )
    return token
