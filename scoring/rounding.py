"""Rounding helpers shared by the scores (half-up, as in clinical calculators and OPTN)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal


def round_half_up(value: float | Decimal, places: int = 0) -> Decimal:
    """Round half away from zero to ``places`` decimals (Python's round() is half-even)."""
    number = value if isinstance(value, Decimal) else Decimal(repr(value))
    return number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def to_json_number(value: Decimal | float | int, places: int = 4) -> float:
    """A float for ``details`` (JSON), rounded half-up to ``places`` decimals."""
    return float(round_half_up(value, places))
