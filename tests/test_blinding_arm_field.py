"""The arm is read in a few known places only (STYLE.md §3).

Parses every Python file of the project (AST) and every template, and fails when an
arm-revealing name — the list entry's ``arm`` field, the ``arm_label(s)`` mapping or the
derived ``receives_cells`` — is used outside the allowed places: randomization models,
migrations and listgen, the list/preparation services, the guarded selectors and the
unblinded-only shapes built from them, the statistician's admin/command, and the templates
of the pharmacy and statistician pages (through ``_arm.html``).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NAMES = {"arm", "arm_label", "arm_labels", "receives_cells"}
SKIP_DIRS = {".venv", "tests", "node_modules", "staticfiles", "static", ".git", "__pycache__"}

# file -> allowed top-level scopes ("*" = the whole file), each with its reason.
ALLOWED_PY: dict[str, set[str]] = {
    "randomization/models.py": {"*"},  # defines the field
    "randomization/listgen.py": {"*"},  # generates and validates the list (pure)
    "randomization/services.py": {
        "_list_store",  # writes list entries
        "dose_preparation_record",  # cells required only for the cell arm (pharmacist only)
    },
    "randomization/selectors.py": {
        "UnblindedAllocation",  # the guarded shape
        "_unblinded",  # builds it, called only by the two guarded readers
        "allocation_get_unblinded",
        "allocation_list_unblinded",
        "pharmacy_worklist",  # consumes allocation_list_unblinded (pharmacists only)
        "dose_to_prepare_text",
        "randomization_list_overview",  # statistician only (404 otherwise)
        "randomization_list_csv",
        "consort_counts_by_arm",  # statistician only; arms from allocation_list_unblinded
    },
    "randomization/api/views.py": {
        "AllocationDetailApi.UnblindedOutput",  # only after may_see_arm
        "PharmacyListApi.OutputSerializer",  # IsPharmacist + guarded batch reader
    },
    "randomization/admin.py": {"RandomizationListEntryAdmin"},
    # unblinded statistician's export: columns from allocation_list_unblinded only
    "exports/selectors.py": {"_allocation_values"},  # statistician-only admin
    "randomization/management/commands/randomization_list.py": {"Command.handle"},
}
ALLOWED_TEMPLATES = {
    "templates/randomization/_arm.html": "the one partial that prints an arm",
    "templates/randomization/list_detail.html": "statistician page (404 for everyone else)",
}
STRING_RX = re.compile(r"(?:^|__|\.)(arm|arm_label|arm_labels|receives_cells)(?:$|__|\.)")
TEMPLATE_TAG_RX = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.DOTALL)
TEMPLATE_NAME_RX = re.compile(r"(?<![\w/])(arm|arm_label|arm_labels|receives_cells)(?![\w])")


class _Finder(ast.NodeVisitor):
    def __init__(self) -> None:
        self.scope: list[str] = []
        self.hits: list[tuple[int, str, str]] = []  # (line, scope, what)

    def _scoped(self, node) -> None:
        self.scope.append(node.name)
        self.generic_visit(node)
        self.scope.pop()

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _scoped

    def _hit(self, node, what: str) -> None:
        self.hits.append((node.lineno, ".".join(self.scope[:2]), what))

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if node.attr in NAMES:
            self._hit(node, f".{node.attr}")
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        if node.id in NAMES:
            self._hit(node, node.id)

    def visit_keyword(self, node: ast.keyword) -> None:
        if node.arg and (node.arg in NAMES or STRING_RX.search(node.arg)):
            self._hit(node.value, f"{node.arg}=")
        self.generic_visit(node)

    def visit_arg(self, node: ast.arg) -> None:
        if node.arg in NAMES:
            self._hit(node, f"argument {node.arg}")

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str) and STRING_RX.search(node.value):
            self._hit(node, repr(node.value))


def _python_files():
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT)
        if SKIP_DIRS & set(rel.parts):
            continue
        yield rel.as_posix(), path


def _allowed(rel: str, scope: str) -> bool:
    if "/migrations/" in rel and rel.startswith("randomization/"):
        return True
    scopes = ALLOWED_PY.get(rel, set())
    return "*" in scopes or any(scope == s or scope.startswith(s + ".") for s in scopes)


def arm_reads() -> list[tuple[str, int, str, str]]:
    found = []
    for rel, path in _python_files():
        finder = _Finder()
        finder.visit(ast.parse(path.read_text(encoding="utf-8"), filename=rel))
        found += [(rel, line, scope, what) for line, scope, what in finder.hits]
    return found


QUOTED_RX = re.compile(r'"[^"]*"|\'[^\']*\'')


def _names_arm(tag: str) -> bool:
    """A tag that names the arm as a variable; words inside quoted text ("balance by arm" in
    a {% translate %}) are prose, not a read."""
    return bool(TEMPLATE_NAME_RX.search(QUOTED_RX.sub('""', tag)))


def template_arm_reads() -> list[tuple[str, str]]:
    found = []
    for path in (ROOT / "templates").rglob("*.html"):
        rel = path.relative_to(ROOT).as_posix()
        for tag in TEMPLATE_TAG_RX.findall(path.read_text(encoding="utf-8")):
            if _names_arm(tag):
                found.append((rel, tag))
    return found


def test_the_arm_is_read_only_in_the_allowed_python_scopes():
    outside = [
        f"{rel}:{line} in {scope or '<module>'}: {what}"
        for rel, line, scope, what in arm_reads()
        if not _allowed(rel, scope)
    ]
    assert not outside, "arm read outside the guarded places:\n" + "\n".join(outside)


def test_the_arm_is_printed_only_by_the_allowed_templates():
    outside = [
        f"{rel}: {tag}" for rel, tag in template_arm_reads() if rel not in ALLOWED_TEMPLATES
    ]
    assert not outside, "arm printed outside the unblinded templates:\n" + "\n".join(outside)


def test_the_scanner_finds_the_known_readers():
    """Guard against a scanner that silently finds nothing."""
    found = {(rel, scope) for rel, _line, scope, _what in arm_reads()}
    assert ("randomization/selectors.py", "allocation_get_unblinded") in found or (
        "randomization/selectors.py",
        "_unblinded",
    ) in found
    assert ("randomization/services.py", "_list_store") in found
    assert any(rel == "randomization/models.py" for rel, _scope in found)
    assert {rel for rel, _tag in template_arm_reads()} == set(ALLOWED_TEMPLATES)


def test_the_template_scanner_reads_variables_not_prose():
    assert _names_arm("{{ row.allocation.arm }}")
    assert _names_arm("{% if arm == 'A' %}")
    assert _names_arm("{% blocktranslate with a=entry.arm_label %}x{% endblocktranslate %}")
    assert not _names_arm('{% translate "Open the list (balance by arm)" %}')


def test_the_scanner_flags_a_read_elsewhere():
    finder = _Finder()
    finder.visit(ast.parse("def leak(a):\n    return a.entry.arm, qs.filter(entry__arm='A')\n"))
    assert [what for _line, _scope, what in finder.hits] == [".arm", "entry__arm="]
    assert TEMPLATE_NAME_RX.search("{{ allocation.arm }}")
    assert not TEMPLATE_NAME_RX.search('{% include "randomization/_arm.html" %}')
