"""Decision provenance: an algorithmic order says where it came from and how risky it is.

Everything is read from the order's metadata, which the client sends as JSON strings.
"""

from decimal import Decimal, InvalidOperation

from apps.rules.checks.base import (
    CheckContext,
    Outcome,
    decimal_param,
    failed,
    fmt,
    no_extra_params,
    passed,
    str_list_param,
)
from apps.rules.checks.params import DECIMAL, STRINGS, Param

SCORES = ("max_risk_score", "require_review_flag_above_score")


PARAMS = (
    Param(
        "require_any_of",
        STRINGS,
        "Metadata keys of which the order must carry at least one (none listed: no requirement).",
        default=["signal_id", "risk_check_id"],
    ),
    Param(
        "forbidden_decisions",
        STRINGS,
        "Values of metadata.decision that are refused.",
        default=["override_limits"],
    ),
    Param(
        "max_risk_score",
        DECIMAL,
        "Orders whose metadata.risk_score is above this fail; empty: not judged.",
        example="80",
    ),
    Param(
        "require_review_flag_above_score",
        DECIMAL,
        "Above this risk score the order must carry metadata.reviewed; empty: not judged.",
        example="50",
    ),
)


def validate(params: dict) -> dict:
    no_extra_params(params, {"require_any_of", "forbidden_decisions", *SCORES})
    out = {
        "require_any_of": str_list_param(
            params, "require_any_of", default=["signal_id", "risk_check_id"]
        ),
        "forbidden_decisions": str_list_param(
            params, "forbidden_decisions", default=["override_limits"]
        ),
    }
    for name in SCORES:
        if params.get(name) is not None:
            out[name] = str(decimal_param(params, name))
    return out


def _score(raw) -> Decimal | None:
    """The metadata risk score, or None when it is not a finite decimal string (or integer)."""
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        return None  # floats too: amounts and scores travel as strings
    try:
        value = Decimal(str(raw).strip())
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def evaluate(params: dict, ctx: CheckContext) -> Outcome:
    meta = ctx.order.metadata or {}
    wanted = params["require_any_of"]
    if wanted and not any(isinstance(meta.get(k), str) and meta[k].strip() for k in wanted):
        return failed(
            "missing_provenance",
            f"The order's metadata names none of {', '.join(wanted)}: its decision cannot be "
            "traced.",
            None,
            ", ".join(wanted),
        )
    score = None
    if any(name in params for name in SCORES):
        if meta.get("risk_score") in (None, ""):
            # The rule judges the score, so an order without one fails closed.
            return failed("missing_risk_score", "The order's metadata has no risk_score.")
        score = _score(meta["risk_score"])
        if score is None:
            return failed(
                "invalid_risk_score",
                f"The risk_score {meta['risk_score']!r} is not a decimal string.",
                str(meta["risk_score"]),
                None,
            )
    max_score = params.get("max_risk_score")
    if max_score is not None and score > Decimal(max_score):
        return failed(
            "risk_score_too_high",
            f"Risk score {fmt(score)} is above the maximum {max_score}.",
            fmt(score),
            max_score,
        )
    decision = meta.get("decision")
    if decision in params["forbidden_decisions"]:
        return failed(
            "forbidden_decision",
            f"The decision {decision!r} may not be sent to market.",
            str(decision),
            ", ".join(params["forbidden_decisions"]),
        )
    review_above = params.get("require_review_flag_above_score")
    if (
        review_above is not None
        and score > Decimal(review_above)
        and meta.get("reviewed") is not True
    ):
        return failed(
            "review_required",
            f"Risk score {fmt(score)} is above {review_above}: the order needs reviewed=true.",
            fmt(score),
            review_above,
        )
    return passed(
        "The order's provenance is recorded"
        + (f" and its risk score {fmt(score)} is acceptable." if score is not None else "."),
        fmt(score),
        max_score,
    )
