"""Each rule type's parameter spec matches what its `validate` accepts, and the fields built from
the spec give back the same `parameters` object."""

import copy

import pytest
from django import forms
from django.http import QueryDict

from apps.rules.checks import REGISTRY, base
from apps.rules.checks.base import ParameterError
from apps.rules.checks.params import KINDS, spec_for
from apps.rules.parameter_form import (
    data_value,
    field_name,
    form_field,
    initial_value,
    param_for_message,
    parameters_from,
)

RULE_TYPES = sorted(REGISTRY)
# Optional, but not on its own: leaving use_account_limit out means "use the account's limit",
# and the example's max_credit then conflicts with it (which validate refuses, on purpose).
CONDITIONAL = {("credit_limit", "use_account_limit")}


def full_params(rule_type: str) -> dict:
    return {p.name: copy.deepcopy(p.sample) for p in spec_for(rule_type)}


def validate(rule_type: str, params: dict) -> dict:
    return REGISTRY[rule_type].validate(copy.deepcopy(params))


def test_every_rule_type_has_a_spec():
    assert spec_for("no_such_type") is None
    for rule_type in RULE_TYPES:
        spec = spec_for(rule_type)
        names = [p.name for p in spec]
        assert len(names) == len(set(names)), rule_type
        assert all(p.kind in KINDS and p.help for p in spec), rule_type


@pytest.mark.parametrize("rule_type", RULE_TYPES)
def test_spec_names_exactly_the_keys_validate_accepts(rule_type, monkeypatch):
    names = {p.name for p in spec_for(rule_type)}
    seen: list[set] = []
    real = base.no_extra_params

    def recording(params, allowed):
        seen.append(set(allowed))
        return real(params, allowed)

    # Every validate first says which keys it allows; nested entries (market access) come after.
    module = REGISTRY[rule_type]
    for target in {base, *([module] if hasattr(module, "__file__") else [])}:
        if hasattr(target, "no_extra_params"):
            monkeypatch.setattr(target, "no_extra_params", recording)
    if not hasattr(module, "__file__"):  # a portfolio rule's spec object
        from apps.rules.checks import portfolio

        monkeypatch.setattr(portfolio, "no_extra_params", recording)
    out = validate(rule_type, full_params(rule_type))
    assert seen and seen[0] == names
    # Every parameter has a default or an example, and validate keeps each one given.
    assert set(out) == names
    with pytest.raises(ParameterError, match="unknown parameters: not_a_parameter"):
        validate(rule_type, {**full_params(rule_type), "not_a_parameter": "1"})


@pytest.mark.parametrize("rule_type", RULE_TYPES)
def test_required_and_default_say_what_validate_does(rule_type):
    full = full_params(rule_type)
    for param in spec_for(rule_type):
        rest = {k: v for k, v in full.items() if k != param.name}
        if param.required:
            with pytest.raises(ParameterError, match=param.name):
                validate(rule_type, rest)
        elif param.default is not None and (rule_type, param.name) not in CONDITIONAL:
            left_out = validate(rule_type, rest)[param.name]
            given = validate(rule_type, {**rest, param.name: param.default})[param.name]
            assert left_out == given, (rule_type, param.name)


@pytest.mark.parametrize("rule_type", RULE_TYPES)
def test_bounds_in_the_spec_are_validates(rule_type):
    full = full_params(rule_type)
    for param in spec_for(rule_type):
        if param.kind not in ("decimal", "integer"):
            continue
        below = None
        if param.positive:
            below = 0
        elif param.minimum is not None:
            below = param.minimum - 1
        if below is not None:
            value = str(below) if param.kind == "decimal" else int(below)
            with pytest.raises(ParameterError, match=param.name):
                validate(rule_type, {**full, param.name: value})
        if param.maximum is not None:
            above = param.maximum + 1
            value = str(above) if param.kind == "decimal" else int(above)
            with pytest.raises(ParameterError, match=param.name):
                validate(rule_type, {**full, param.name: value})


@pytest.mark.parametrize("rule_type", RULE_TYPES)
def test_the_fields_give_back_the_same_parameters(rule_type):
    """Shown with a rule's values and posted untouched, the fields give the same object."""
    spec = spec_for(rule_type)
    stored = validate(rule_type, full_params(rule_type))
    form_class = type("ParamsForm", (forms.Form,), {field_name(p): form_field(p) for p in spec})
    data = QueryDict(mutable=True)
    for param in spec:
        posted = data_value(param, initial_value(param, stored))
        if isinstance(posted, list):
            data.setlist(field_name(param), posted)
        elif posted is not None:
            data[field_name(param)] = posted
    form = form_class(data)
    assert form.is_valid(), form.errors
    assert validate(rule_type, parameters_from(spec, form.cleaned_data)) == stored


def test_empty_fields_take_the_defaults():
    spec = spec_for("price_collar")
    params = parameters_from(spec, {"param__max_deviation_pct": "", "param__max_age_seconds": ""})
    assert params == {}
    assert validate("price_collar", params)["max_age_seconds"] == 300
    params = parameters_from(spec, {"param__max_age_seconds": " 60 "})
    assert params == {"max_age_seconds": 60}


def test_a_message_is_put_beside_the_parameter_it_names():
    spec = spec_for("price_collar")
    found = param_for_message(spec, "market_band_pct must not exceed max_deviation_pct: ...")
    assert found.name == "market_band_pct"
    assert param_for_message(spec, "unknown parameters: x") is None
    access = spec_for("market_access")
    assert param_for_message(access, "users.tina: accounts is required").name == "users"
