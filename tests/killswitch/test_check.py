"""The pure check the gate runs before any rule, on plain values."""

from decimal import Decimal

from apps.killswitch.check import KILL_SWITCH_RULE, kill_switch_check

FIRM_HALT = ("firm", "", "halted", "runaway algo")
ACCOUNT_REDUCING = ("account", "ACC-1", "reducing", "margin call")


def check(switches, side="buy", quantity="10", position="0", working_buy="0", working_sell="0"):
    return kill_switch_check(
        switches=switches,
        side=side,
        quantity=Decimal(quantity),
        position=Decimal(position),
        working_buy=Decimal(working_buy),
        working_sell=Decimal(working_sell),
    )


def test_no_switch_no_result():
    assert check([]) is None


def test_a_halt_wins_over_reducing_only():
    result = check([ACCOUNT_REDUCING, FIRM_HALT], side="sell", position="100")
    assert (result["rule"], result["status"], result["code"]) == (
        KILL_SWITCH_RULE,
        "fail",
        "kill_switch_halted",
    )
    assert result["observed"] == "firm" and "runaway algo" in result["message"]


def test_reducing_only_counts_the_working_orders():
    assert check([ACCOUNT_REDUCING], side="sell", quantity="60", position="100")["status"] == (
        "pass"
    )
    refused = check(
        [ACCOUNT_REDUCING], side="sell", quantity="60", position="100", working_sell="50"
    )
    assert (refused["status"], refused["code"]) == ("fail", "kill_switch_reducing_only")
    # a short position shrinks with buys
    assert check([ACCOUNT_REDUCING], quantity="10", position="-30")["code"] == ("reduces_position")
    assert check([ACCOUNT_REDUCING], quantity="10", position="0")["status"] == "fail"


def test_reducing_only_treats_every_sale_as_a_sale():
    # A long position shrinks with a sale however it is marked; a short one does not.
    for side in ("sell", "sell_short", "sell_short_exempt"):
        assert check([ACCOUNT_REDUCING], side=side, position="100")["code"] == "reduces_position"
        refused = check([ACCOUNT_REDUCING], side=side, position="-30")
        assert refused["code"] == "kill_switch_reducing_only", side
