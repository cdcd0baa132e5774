"""Frozen result types returned by the per-score functions.

``details`` holds JSON-ready explanation data (ints, floats, strings, lists, dicts) so a
page can show how the number was obtained; ``missing`` lists the input keys whose absence
prevented the computation (empty when the value was computed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ScoreResult:
    """One numeric score; ``value`` is None exactly when ``missing`` is not empty."""

    value: int | float | None
    missing: tuple[str, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AclfResult:
    """ACLF grade per CANONIC ("no_aclf", "1", "2", "3") and the failing organs."""

    grade: str | None
    organ_failures: tuple[str, ...] | None
    missing: tuple[str, ...] = ()
    organ_failures_missing: tuple[str, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ChildPughResult:
    """Child-Pugh points (5-15) and class ("A", "B", "C")."""

    score: int | None
    child_class: str | None
    missing: tuple[str, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)
