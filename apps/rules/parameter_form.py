"""The rule form's parameter fields, one per parameter of the rule type's spec
(`apps.rules.checks.params`).

The fields only collect: what they give is the same `parameters` object the API takes, and
the rule type's `validate` judges it (through `rule_proposal_validate`); its message is shown
beside the field it names.
"""

import json

from django import forms

from apps.rules.checks.params import (
    BOOLEAN,
    CHOICE,
    DECIMAL,
    INTEGER,
    OBJECT,
    STRINGS,
    Param,
)

PREFIX = "param__"


def field_name(param: Param) -> str:
    return f"{PREFIX}{param.name}"


class StringListField(forms.CharField):
    """A list of strings typed one per line (commas separate too)."""

    widget = forms.Textarea(attrs={"rows": 3})

    def prepare_value(self, value):
        return "\n".join(value) if isinstance(value, list) else value

    def to_python(self, value) -> list[str]:
        if isinstance(value, list):
            return value
        text = super().to_python(value) or ""
        return [
            item.strip() for line in text.splitlines() for item in line.split(",") if item.strip()
        ]

    def has_changed(self, initial, data) -> bool:
        return self.to_python(initial or []) != self.to_python(data)


def _help(param: Param) -> str:
    parts = ["Required." if param.required else ""]
    parts.append(param.help)
    bounds = []
    if param.positive:
        bounds.append("greater than 0")
    elif param.minimum is not None:
        bounds.append(f"at least {param.minimum}")
    if param.maximum is not None:
        bounds.append(f"at most {param.maximum}")
    if bounds:
        parts.append(f"{' and '.join(bounds).capitalize()}.")
    if param.unit:
        parts.append(f"In {param.unit}.")
    if param.default is not None and param.kind not in (BOOLEAN, STRINGS, OBJECT, CHOICE):
        parts.append(f"Empty: {param.default}.")
    elif param.default is None and not param.required and "empty:" not in param.help:
        parts.append("Empty: not set.")
    return " ".join(p for p in parts if p)


def form_field(param: Param) -> forms.Field:
    """The form field of one parameter. Never required by the form itself: the rule type's
    `validate` says what is missing, the same words as the API."""
    label = param.name.replace("_", " ").capitalize()
    common = {"label": label, "required": False, "help_text": _help(param)}
    if param.kind == BOOLEAN:
        return forms.BooleanField(**common)
    if param.kind == CHOICE:
        return forms.ChoiceField(choices=[("", "—"), *((c, c) for c in param.choices)], **common)
    if param.kind == STRINGS and param.choices:
        return forms.MultipleChoiceField(
            choices=[(c, c) for c in param.choices],
            widget=forms.CheckboxSelectMultiple,
            **common,
        )
    if param.kind == STRINGS:
        return StringListField(**common)
    if param.kind == OBJECT:
        return forms.JSONField(widget=forms.Textarea(attrs={"rows": 4}), **common)
    attrs = {}
    if param.kind in (DECIMAL, INTEGER):
        attrs["inputmode"] = "numeric" if param.kind == INTEGER else "decimal"
    if param.sample is not None:
        attrs["placeholder"] = str(param.sample)
    return forms.CharField(widget=forms.TextInput(attrs=attrs), **common)


def initial_value(param: Param, params: dict | None):
    """What the field shows: the rule's current value, else the default."""
    value = (params or {}).get(param.name, param.default)
    if value is None:
        return None if param.kind != BOOLEAN else False
    if param.kind == BOOLEAN:
        return bool(value)
    if param.kind == STRINGS:
        return list(value) if isinstance(value, list) else value
    if param.kind == OBJECT:
        return value
    return str(value)


def data_value(param: Param, value):
    """`initial_value` as a browser would post it (to fill fields that were not posted)."""
    if param.kind == BOOLEAN:
        return "on" if value else None
    if param.kind == STRINGS and isinstance(value, list):
        return value if param.choices else "\n".join(value)
    if param.kind == OBJECT:
        return json.dumps(value) if value is not None else ""
    return "" if value is None else str(value)


def parameters_from(spec: tuple[Param, ...], cleaned: dict) -> dict:
    """The `parameters` object the fields give: an empty field is left out (validate applies
    its default); booleans and lists are always given, as shown."""
    out: dict = {}
    for param in spec:
        value = cleaned.get(field_name(param))
        if param.kind == BOOLEAN:
            out[param.name] = bool(value)
        elif param.kind == STRINGS:
            out[param.name] = list(value or [])
        elif param.kind == OBJECT:
            if value is not None:
                out[param.name] = value
        elif value not in (None, ""):
            text = str(value).strip()
            if param.kind == INTEGER and text.lstrip("-").isdigit():
                out[param.name] = int(text)
            else:
                out[param.name] = text  # decimals travel as strings; validate judges the rest
    return out


def param_for_message(spec: tuple[Param, ...], message: str) -> Param | None:
    """The parameter a validate message is about ("max_notional must be ...")."""
    for param in sorted(spec, key=lambda p: -len(p.name)):
        name = param.name
        if message == name or message.startswith((f"{name} ", f"{name}.", f"{name}:")):
            return param
    return None
