"""The export figure of ``make bench`` (issue 16) at a small size, so it cannot rot."""

from __future__ import annotations

import re

import pytest
from django.db import connection

from devtools import bench
from devtools.generate import generate_trial


@pytest.mark.django_db
def test_export_section_measures_csv_odm_and_copy():
    generate_trial(patients=8, sites=1, seed="bench-exports", months=2)
    text = bench.export_section({8: connection.settings_dict["NAME"]})
    assert text.startswith("## Exports: streamed CSV and ODM of every dataset")
    row = next(line for line in text.splitlines() if line.startswith("| 8 |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert int(cells[1].replace(",", "")) > 0  # rows exported
    assert re.fullmatch(r"\d+ / \d+", cells[7])  # query counts
    if connection.vendor == "postgresql":
        assert cells[5].endswith("×")  # compared with COPY
        assert cells[10].endswith("×")  # the ODM with COPY of the tables and their history
    if connection.vendor == "postgresql":  # and with COPY of the exports' own queries
        own = next(
            line for line in text.splitlines()[row_index(text) :] if line.startswith("| 8 |")
        )
        assert own.count("×") == 2


def row_index(text: str) -> int:
    return text.splitlines().index("### The same exports vs COPY of their own queries")
