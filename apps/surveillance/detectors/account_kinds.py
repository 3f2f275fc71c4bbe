"""Whose an account is, as the detectors ask it of their context: `client`, `proprietary`
(the firm's own book), `staff` (an employee's personal account), `market_maker`, or "" when
the context does not say. `context.account_kind(code)` answers; an account in
`context.market_makers` is a market maker whatever else it is."""

from collections.abc import Callable

CLIENT = "client"
PROPRIETARY = "proprietary"
STAFF = "staff"
MARKET_MAKER = "market_maker"
HOUSE = (PROPRIETARY, STAFF)


def account_kind_reader(context) -> Callable[[str], str]:
    ask = getattr(context, "account_kind", None)
    makers = getattr(context, "market_makers", None) or ()
    if not callable(ask):
        if not makers:
            return lambda account: ""
        return lambda account: MARKET_MAKER if account in makers else ""
    if not makers:
        return ask
    return lambda account: MARKET_MAKER if account in makers else ask(account)
