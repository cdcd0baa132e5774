"""The apps depend in one direction (issue 12): import-linter contracts in pyproject.toml."""

import subprocess
import sys
from pathlib import Path

from crf import hooks
from monitoring import selectors as monitoring_selectors
from monitoring import services as monitoring_services
from trials import panels

ROOT = Path(__file__).resolve().parent.parent


def test_import_contracts_are_kept():
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(  # noqa: S603 - the project's own linter, fixed arguments
        [str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert "0 broken" in result.stdout


def test_monitoring_guards_every_crf_save():
    """Locks are a safety rule: the save path must ask monitoring, whichever channel saves."""
    assert monitoring_services.assert_editable in hooks.before_save
    assert monitoring_services.crf_saved in hooks.after_save
    assert monitoring_selectors.crf_context in hooks.page_context


def test_panels_are_wired_in_display_order():
    assert [app for app, _ in panels._PROVIDERS["patient"]] == [
        "randomization",
        "crf",
        "monitoring",
    ]
