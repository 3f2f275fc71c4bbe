"""Market access (SEC 15c3-5(c)(2)(iii)): which users may use which accounts, and which
accounts may trade what.

Who may use an account is the entitlement table (apps.trading AccountEntitlement, the same rows
that decide what each user sees): a submitter below Risk Manager who is not entitled to the
account fails `user_not_entitled`. The optional `users` parameter narrows it further for the
users it names (a user may trade only the accounts listed there)."""

from apps.rules.checks.base import (
    CheckContext,
    Outcome,
    ParameterError,
    failed,
    no_extra_params,
    passed,
    str_list_param,
)
from apps.rules.checks.params import CHOICE, OBJECT, Param


def _mapping(params: dict, name: str) -> dict:
    raw = params.get(name, {})
    if not isinstance(raw, dict):
        raise ParameterError(f"{name} must be an object")
    return raw


def _lists(where: str, entry, names: dict[str, list | None]) -> dict:
    """An entry made of string lists; `names` maps each list to its default (None: required)."""
    if not isinstance(entry, dict):
        raise ParameterError(f"{where} must be an object")
    try:
        no_extra_params(entry, set(names))
        return {name: str_list_param(entry, name, default=d) for name, d in names.items()}
    except ParameterError as exc:
        raise ParameterError(f"{where}: {exc}") from None


PARAMS = (
    Param(
        "accounts",
        OBJECT,
        'Per account code, what it may trade: {"ACC-1": {"asset_classes": ["equity"], '
        '"instruments": ["AAPL"]}}.',
        default={},
        example={"ACC-1": {"asset_classes": ["equity"], "instruments": ["AAPL"]}},
    ),
    Param(
        "users",
        OBJECT,
        'Per username, the only accounts it may trade: {"tina": {"accounts": ["ACC-1"]}}.',
        default={},
        example={"tina": {"accounts": ["ACC-1"]}},
    ),
    Param(
        "default",
        CHOICE,
        "For an account without an entry.",
        default="deny",
        choices=("allow", "deny"),
    ),
)


def validate(params: dict) -> dict:
    no_extra_params(params, {"accounts", "users", "default"})
    accounts = {
        code: _lists(f"accounts.{code}", entry, {"asset_classes": [], "instruments": []})
        for code, entry in _mapping(params, "accounts").items()
    }
    users = {
        name: _lists(f"users.{name}", entry, {"accounts": None})
        for name, entry in _mapping(params, "users").items()
    }
    default = params.get("default", "deny")
    if default not in ("allow", "deny"):
        raise ParameterError('default must be "allow" or "deny"')
    return {"accounts": accounts, "users": users, "default": default}


def evaluate(params: dict, ctx: CheckContext) -> Outcome:
    order, inst = ctx.order, ctx.order.instrument
    account, user = order.account_code, order.submitted_by
    what = f"{inst.symbol} ({inst.asset_class})"
    if ctx.submitter_entitled is False:
        return failed(
            "user_not_entitled",
            f"User {user} is not entitled to account {account}.",
            user,
            None,
        )
    # Users without an entry are not restricted here; their role already lets them trade.
    user_entry = params["users"].get(user) if user else None
    if user_entry is not None and account not in user_entry["accounts"]:
        return failed(
            "user_not_permitted", f"User {user} may not trade for account {account}.", user, None
        )
    entry = params["accounts"].get(account)
    if entry is None:
        if params["default"] == "allow":
            return passed(f"Account {account} has no market access entry; the default allows it.")
        return failed(
            "account_not_permitted",
            f"Account {account} has no market access entry and the default is deny.",
            what,
            None,
        )
    if inst.symbol in entry["instruments"] or inst.asset_class in entry["asset_classes"]:
        return passed(f"Account {account} may trade {what}.", what, None)
    return failed("account_not_permitted", f"Account {account} may not trade {what}.", what, None)
