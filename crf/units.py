"""Selectable units of the crf laboratory values that are not score inputs (a derived view).

The units and their exact factors are declared on the items of the laboratory dictionary
(``crf.dictionary.labs``): the value typed and its unit are stored with the canonical value
(first unit listed), exactly as for the score inputs.
"""

from __future__ import annotations

from decimal import Decimal

from trials.dictionary import SCORE_INPUTS, Item

from .dictionary.labs import FORM as LABS

MICRO = "\u00b5"

# analyte -> its item ("ammonia" -> the ammonia_umol_l item typed in ammonia_entered).
EXTRA_ITEMS: dict[str, Item] = {
    item.entered.removesuffix("_entered"): item
    for item in LABS.items
    if item.entered and item.name not in SCORE_INPUTS
}
# analyte -> (canonical field, {unit: factor to canonical}); the first unit is canonical.
EXTRA_UNITS = {
    analyte: (
        item.name,
        {u: Decimal(f.numerator) / Decimal(f.denominator) for u, f in item.units.items()},
    )
    for analyte, item in EXTRA_ITEMS.items()
}


def unit_choices(analyte: str) -> list[tuple[str, str]]:
    return [(unit, unit) for unit in EXTRA_ITEMS[analyte].units]


def extra_to_canonical(analyte: str, value: Decimal, unit: str) -> Decimal:
    """Convert ``value`` in ``unit`` to the canonical unit; ValueError on an unknown unit."""
    return EXTRA_ITEMS[analyte].to_canonical(value, unit)
