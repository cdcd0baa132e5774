"""scoring/ must stay plain Python: no Django or project-app imports (STYLE.md section 4)."""

import ast
import sys
from pathlib import Path

import pytest

SCORING_DIR = Path(__file__).resolve().parents[2] / "scoring"
FORBIDDEN = ("django", "trials", "crf", "randomization", "liveradvance")
MODULES = sorted(SCORING_DIR.glob("*.py"))


def imported_names(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def test_scoring_package_has_modules() -> None:
    assert len(MODULES) >= 8


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_module_imports_no_django_or_apps(path: Path) -> None:
    offending = [
        name
        for name in imported_names(path)
        if any(name == root or name.startswith(f"{root}.") for root in FORBIDDEN)
    ]
    assert offending == [], f"{path.name} imports {offending}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_module_imports_only_stdlib_or_scoring(path: Path) -> None:
    for name in imported_names(path):
        root = name.split(".")[0]
        assert root == "scoring" or root in sys.stdlib_module_names, f"{path.name}: {name}"
