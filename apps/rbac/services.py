"""Writes for users, roles and API tokens."""

import hashlib
import hmac
import secrets
from datetime import timedelta

from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.utils.crypto import salted_hmac

from apps.core import sql
from apps.core.errors import NotAuthenticated, ValidationFailed, field_errors
from apps.core.hooks import audit_record
from apps.core.time import utcnow
from apps.rbac import refcache
from apps.rbac.access import forget_role, remember_role, user_role, user_service_role
from apps.rbac.models import ApiToken, StaffIdentity
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
        # A token stands for the role (and the second factor) it was issued under: a Trader's
        # token must not become a Compliance Officer's without the second factor at issue.
        revoked = ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(
            revoked_at=utcnow()
        )
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
                "tokens_revoked": revoked,
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


def credential_fingerprint(user) -> str:
    """A keyed hash of the user's stored password hash: it changes whenever the password does
    (and with SECRET_KEY, which retires every token, as it does every session)."""
    return salted_hmac("apps.rbac.ApiToken", user.password, algorithm="sha256").hexdigest()


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
        credential_fingerprint=credential_fingerprint(user),
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


def api_token_authenticate(key: str) -> ApiToken:
    """The live token for `key`, or NotAuthenticated (unknown, expired, revoked, user inactive,
    password changed since issue). The token, its user and the user's role are read in one
    statement and kept in the process's reference cache (apps.rbac.refcache): a known token
    costs no statement of its own; a revocation, a password or role change, a deactivation
    moves the cache's version and is seen on the next request."""
    digest = _digest(key)
    found = refcache.lookup(("api_token", digest), lambda: [_token_statement(digest)], _token_read)
    if found is None:
        raise NotAuthenticated("Invalid token.", code="invalid_token")
    token, user, role_group = found
    token.user = user
    if token.revoked_at is not None:
        raise NotAuthenticated("Token revoked.", code="token_revoked")
    if token.expires_at <= utcnow():
        raise NotAuthenticated("Token expired.", code="token_expired")
    if not user.is_active:
        raise NotAuthenticated("User inactive.", code="user_inactive")
    if not hmac.compare_digest(token.credential_fingerprint, credential_fingerprint(user)):
        raise NotAuthenticated(
            "The password changed after this token was issued.", code="credentials_changed"
        )
    remember_role(user, role_group)
    return token


def _token_statement(digest: str) -> sql.Statement:
    """The token by digest, its user's columns after its own, then the name of the user's
    highest role group (a service group, Feed, ranks below every role)."""
    token_fields, user_fields = ApiToken._meta.concrete_fields, User._meta.concrete_fields
    columns = [f"t.{sql.quote(f.column)}" for f in token_fields]
    columns += [f"u.{sql.quote(f.column)}" for f in user_fields]
    names = [*ROLE_GROUPS.values(), *SERVICE_GROUPS.values()]
    rank = " ".join(f"WHEN %s THEN {int(role)}" for role in ROLE_GROUPS)
    role = (
        "(SELECT g.name FROM auth_group g JOIN auth_user_groups ug ON ug.group_id = g.id"  # noqa: S608
        f" WHERE ug.user_id = t.user_id AND g.name IN ({', '.join(['%s'] * len(names))})"
        f" ORDER BY CASE g.name {rank} ELSE 0 END DESC LIMIT 1)"
    )
    statement = (
        f"SELECT {', '.join(columns)}, {role} FROM {sql.quote(ApiToken._meta.db_table)} t"  # noqa: S608 - quoted names
        f" JOIN {sql.quote(User._meta.db_table)} u ON u.id = t.user_id WHERE t.digest = %s"
    )
    params = [*names, *ROLE_GROUPS.values(), digest]
    return statement, params, (*token_fields, *user_fields, None)


def _token_read(found: list[tuple]):
    """(token, user, role group name) from `_token_statement`'s row; None when unknown."""
    if not found:
        return None
    row = found[0]
    split = len(ApiToken._meta.concrete_fields)
    token = sql.as_instances(ApiToken, [row[:split]])[0]
    user = sql.as_instances(User, [row[split:-1]])[0]
    return token, user, row[-1]


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


# --- Second factor (django-otp) ---------------------------------------------------------------

RECOVERY_DEVICE_NAME = "recovery codes"


def _mfa_record(*, user, action: str, actor=None, **payload) -> None:
    audit_record(
        event_type="SYSTEM_ACCESS",
        actor=actor or user,
        object_type="auth.user",
        object_id=user.pk,
        payload={"action": action, "username": user.get_username(), **payload},
    )


@transaction.atomic
def mfa_totp_begin(*, user):
    """The user's unconfirmed authenticator (a new secret unless one waits already): shown to
    be scanned, it counts only once a code from it is confirmed (mfa_totp_confirm)."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-pk").first()
    if device is None:
        device = TOTPDevice(user=user, name="authenticator", confirmed=False)
        device.full_clean()
        device.save()
        _mfa_record(user=user, action="mfa_enrolment_started", device_id=device.pk)
    return device


def mfa_totp_confirm(*, user, device, code: str) -> list[str]:
    """Confirm `device` with a code it shows, retire the user's other authenticators, and
    issue fresh recovery codes (returned once, never stored in clear elsewhere)."""
    from django_otp import verify_token

    # Verified in its own transaction (django-otp's), so that a wrong code's throttle step
    # is kept even though the refusal below rolls back.
    if device.user_id != user.pk or device.confirmed:
        raise ValidationFailed("No enrolment is waiting for this code.", code="otp_invalid")
    if verify_token(user, device.persistent_id, (code or "").strip()) is None:
        raise ValidationFailed(
            "The code does not match: check the clock of the device and try the next code.",
            code="otp_invalid",
        )
    return _mfa_totp_confirmed(user=user, device=device)


@transaction.atomic
def _mfa_totp_confirmed(*, user, device) -> list[str]:
    from django_otp.plugins.otp_totp.models import TOTPDevice

    retired = list(TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).values_list("pk"))
    TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    _mfa_record(user=user, action="mfa_enrolled", device_id=device.pk, retired_devices=len(retired))
    return mfa_recovery_codes_generate(user=user)


@transaction.atomic
def mfa_recovery_codes_generate(*, user, actor=None) -> list[str]:
    """Replace the user's recovery codes: each works once in place of an authenticator code.
    The trail records that new codes were issued and how many, never the codes."""
    from django_otp.plugins.otp_static.models import StaticDevice, StaticToken

    device, _created = StaticDevice.objects.get_or_create(
        user=user, name=RECOVERY_DEVICE_NAME, defaults={"confirmed": True}
    )
    device.token_set.all().delete()
    codes = [StaticToken.random_token() for _ in range(settings.MFA_RECOVERY_CODES)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=c) for c in codes])
    _mfa_record(user=user, actor=actor, action="mfa_recovery_codes_issued", count=len(codes))
    return codes


def mfa_recovery_codes_left(*, user) -> int:
    from django_otp.plugins.otp_static.models import StaticToken

    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


@transaction.atomic
def mfa_device_remove(*, device, actor=None) -> None:
    """Remove a second-factor device (a lost phone): its user enrols again at next sign-in."""
    user = device.user
    kind = device._meta.label_lower
    device_id = device.pk
    device.delete()
    _mfa_record(user=user, actor=actor, action="mfa_device_removed", device=kind, id=device_id)


@transaction.atomic
def mfa_passed(*, user, device) -> None:
    """Record that a sign-in passed its second factor, and with what."""
    kind = "recovery_code" if device._meta.model_name == "staticdevice" else "totp"
    _mfa_record(user=user, action="mfa_passed", method=kind)


# --- MiFIR identities of natural persons (personal data) --------------------------------------

IDENTITY_FIELDS = [
    "first_names",
    "surnames",
    "birth_date",
    "nationality",
    "national_id",
    "national_id_kind",
]


def person_identity_save(identity, *, changes: dict, allowed: list[str], actor, object_type: str):
    """Set fields of a person's MiFIR identity (a new row or a locked one) and record it.

    The audit event names the fields that changed, not their values: they are personal data,
    and the trail is kept for years and exported."""
    unknown = set(changes) - set(allowed)
    if unknown:
        raise ValidationFailed(details={f: ["Cannot be changed here."] for f in sorted(unknown)})
    created = identity.pk is None
    before = {name: getattr(identity, name) for name in changes}
    for name, value in changes.items():
        if name in ("nationality",) and isinstance(value, str):
            value = value.strip().upper()
        setattr(identity, name, value)
    changed = [name for name in changes if created or before[name] != getattr(identity, name)]
    if not changed and not created:
        return identity
    # Imported here: apps.core.validation loads DRF, whose settings load this module.
    from apps.core.validation import clean_or_raise

    clean_or_raise(identity)
    identity.save()
    audit_record(
        event_type="CONFIG_CHANGED",
        actor=actor,
        object_type=object_type,
        object_id=identity.pk,
        payload={
            "change": "identity_created" if created else "identity_updated",
            "fields": sorted(changed),
            "personal_data": "values kept out of the trail",
        },
    )
    return identity


@transaction.atomic
def staff_identity_set(*, user, actor=None, **changes) -> StaffIdentity:
    """Record who a member of staff is for MiFIR (fields 57 and 59 name them)."""
    identity = StaffIdentity.objects.select_for_update().filter(user=user).first() or StaffIdentity(
        user=user
    )
    return person_identity_save(
        identity,
        changes=changes,
        allowed=[*IDENTITY_FIELDS, "branch_country"],
        actor=actor,
        object_type="rbac.staffidentity",
    )


def user_lockouts(user) -> list:
    """The failed-login records of this username (one per address), newest first; a record at
    AXES_FAILURE_LIMIT failures locks that username from that address until it cools off."""
    return list(
        AccessAttempt.objects.filter(username=user.get_username()).order_by("-attempt_time")
    )


def user_is_locked(attempt) -> bool:
    return attempt.failures_since_start >= settings.AXES_FAILURE_LIMIT


@transaction.atomic
def user_lockouts_lift(*, user, actor, reason: str) -> int:
    """Forget the failed logins of a username, which lifts its lockout; audited with who and why."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(details=field_errors(reason="Say why the lockout is lifted."))
    attempts = AccessAttempt.objects.filter(username=user.get_username())
    addresses = sorted({a.ip_address or "" for a in attempts})
    removed, _ = attempts.delete()
    audit_record(
        event_type="SYSTEM_ACCESS",
        actor=actor,
        object_type="auth.user",
        object_id=user.pk,
        payload={
            "action": "lockout_lifted",
            "username": user.get_username(),
            "addresses": addresses,
            "records_removed": removed,
            "reason": reason[:500],
        },
    )
    return removed


@transaction.atomic
def user_password_reset(*, user, password: str) -> None:
    """A password set from an emailed reset link: the user proved the mailbox, so the failed
    logins of the username are forgotten too. Tokens stop working (the fingerprint changes)."""
    user.set_password(password)
    user.save(update_fields=["password"])
    removed, _ = AccessAttempt.objects.filter(username=user.get_username()).delete()
    audit_record(
        event_type="SYSTEM_ACCESS",
        actor=user,
        object_type="auth.user",
        object_id=user.pk,
        payload={
            "action": "password_reset",
            "username": user.get_username(),
            "lockout_records_removed": removed,
        },
    )
