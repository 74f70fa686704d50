"""The menu's pure rules: modifier choices against their groups, and the stock rule."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fynlo.errors import ValidationError
from fynlo.menu.model import ChosenModifier, MenuItem, ModifierGroup, ModifierOption, choose_modifiers, settle


def group(gid: str, lo: int, hi: int, *options: tuple[str, int, bool]) -> ModifierGroup:
    return ModifierGroup(gid, gid.title(), lo, hi,
                         {oid: ModifierOption(oid, oid.title(), delta, ok) for oid, delta, ok in options})


def item(*groups: ModifierGroup) -> MenuItem:
    return MenuItem("steak", "Steak", 2600, "20.00", "20.00", "kitchen", "mains", ("milk",), True, None, groups)


STEAK = item(
    group("cooking", 1, 1, ("rare", 0, True), ("medium", 0, True), ("well", 0, True)),
    group("extras", 0, 2, ("bacon", 150, True), ("cheese", 100, True), ("truffle", 400, False)),
)


def test_valid_choices_come_back_in_menu_order_with_their_prices() -> None:
    chosen = choose_modifiers(STEAK, ["cheese", "medium", "bacon"])
    assert chosen == (
        ChosenModifier("medium", "cooking", "Cooking", "Medium", 0),
        ChosenModifier("bacon", "extras", "Extras", "Bacon", 150),
        ChosenModifier("cheese", "extras", "Extras", "Cheese", 100),
    )


def test_an_item_without_groups_takes_no_choices() -> None:
    assert choose_modifiers(item(), []) == ()
    with pytest.raises(ValidationError) as err:
        choose_modifiers(item(), ["rare"])
    assert err.value.details == {"option": "rare"}


@pytest.mark.parametrize(
    "choices, details",
    [
        ([], {"group": "cooking", "min": 1, "max": 1, "chosen": 0}),                 # required group left out
        (["rare", "well"], {"group": "cooking", "min": 1, "max": 1, "chosen": 2}),   # over max
        (["rare", "bacon", "cheese", "medium"], {"group": "cooking", "min": 1, "max": 1, "chosen": 2}),
        (["rare", "chips"], {"option": "chips"}),                                    # not this item's
        (["rare", "truffle"], {"option": "truffle", "reason": "unavailable"}),
        (["rare", "bacon", "bacon"], {"option": "bacon"}),                           # duplicate
    ],
)
def test_choices_that_break_the_rules_are_refused(choices: list[str], details: dict[str, object]) -> None:
    with pytest.raises(ValidationError) as err:
        choose_modifiers(STEAK, choices)
    assert err.value.code == "validation_error"
    assert err.value.details == details


def test_too_many_extras_names_the_group_and_its_bounds() -> None:
    many = item(group("extras", 0, 2, ("a", 1, True), ("b", 1, True), ("c", 1, True)))
    with pytest.raises(ValidationError) as err:
        choose_modifiers(many, ["a", "b", "c"])
    assert err.value.details == {"group": "extras", "min": 0, "max": 2, "chosen": 3}
    assert "at most 2" in err.value.message


OPTIONS = ["rare", "medium", "well", "bacon", "cheese", "truffle", "chips"]


@given(st.lists(st.sampled_from(OPTIONS), max_size=6))
def test_choose_modifiers_accepts_exactly_what_the_rules_allow(choices: list[str]) -> None:
    """Against a plain statement of the rules: every choice once, known, available, and each
    group's count within its bounds."""
    known = {o.id: (g, o) for g in STEAK.groups for o in g.options.values()}
    allowed = (
        len(set(choices)) == len(choices)
        and all(c in known and known[c][1].available for c in choices)
        and all(g.min_choices <= sum(known[c][0] is g for c in choices) <= g.max_choices for g in STEAK.groups)
    )
    try:
        chosen = choose_modifiers(STEAK, choices)
    except ValidationError:
        assert not allowed
    else:
        assert allowed
        assert sorted(c.option_id for c in chosen) == sorted(choices)
        assert sum(c.price_delta for c in chosen) == sum(known[c][1].price_delta for c in choices)


@pytest.mark.parametrize(
    "available, stock_out, stock, expected",
    [
        (True, False, 0, (False, True)),      # counted down to 0: 86'd by the count
        (False, True, 3, (True, False)),      # restocked: back
        (False, True, None, (True, False)),   # no longer counted: back
        (False, False, 3, (False, False)),    # 86'd by hand: stays off
        (False, False, 0, (False, False)),
        (True, False, 5, (True, False)),
        (True, False, None, (True, False)),
    ],
)
def test_stock_rule(available: bool, stock_out: bool, stock: int | None, expected: tuple[bool, bool]) -> None:
    assert settle(available, stock_out, stock) == expected
