"""The list generator and CSV validator (pure Python)."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from randomization import listgen

STRATA = ("1", "2", "3")


def _reference_rows(seed, strata=STRATA, block_sizes=(4, 6), length=40, arms=("A", "B")):
    """The docstring's stand-alone recipe, copied verbatim: what a statistician would run."""
    for s in strata:
        rng, seq, block = random.Random(f"{seed}:{s}"), 0, 0  # noqa: S311
        while seq < length:
            block += 1
            size = rng.choice(block_sizes)
            items = list(arms) * (size // len(arms))
            rng.shuffle(items)
            for arm in items:
                seq += 1
                yield s, seq, block, size, arm


def test_same_seed_and_parameters_give_the_same_list():
    first = listgen.generate(seed="abc", strata=STRATA, length=40)
    second = listgen.generate(seed="abc", strata=STRATA, length=40)
    assert first == second
    assert listgen.sha256(first) == listgen.sha256(second)


def test_another_seed_gives_another_list():
    assert listgen.sha256(listgen.generate(seed="abc", strata=STRATA, length=40)) != (
        listgen.sha256(listgen.generate(seed="abd", strata=STRATA, length=40))
    )


def test_documented_recipe_reproduces_the_generator_exactly():
    rows = listgen.generate(seed="liveradvance-demo-2026", strata=STRATA, length=40)
    assert [(r.stratum, r.sequence, r.block, r.block_size, r.arm) for r in rows] == list(
        _reference_rows("liveradvance-demo-2026")
    )


def test_pinned_first_rows_guard_against_silent_algorithm_changes():
    rows = listgen.generate(seed="liveradvance-demo-2026", strata=("1",), length=6)
    reference = list(_reference_rows("liveradvance-demo-2026", strata=("1",), length=6))
    assert [(r.block, r.block_size, r.arm) for r in rows] == [
        (b, size, arm) for _, _, b, size, arm in reference
    ]
    assert listgen.sha256(rows) == listgen.sha256([listgen.Row(*item) for item in reference])


@pytest.mark.parametrize("block_sizes", [(2, 4), (4,), (2, 4, 6)])
def test_every_block_is_balanced_and_the_sizes_are_the_configured_ones(block_sizes):
    rows = listgen.generate(seed="x", strata=STRATA, length=50, block_sizes=block_sizes)
    blocks: dict[tuple[str, int], list[listgen.Row]] = {}
    for row in rows:
        blocks.setdefault((row.stratum, row.block), []).append(row)
    for members in blocks.values():
        counts = Counter(r.arm for r in members)
        assert counts["A"] == counts["B"]
        assert len(members) in block_sizes
        assert {r.block_size for r in members} == {len(members)}


def test_each_stratum_is_at_least_as_long_as_asked_and_numbered_without_gaps():
    rows = listgen.generate(seed="x", strata=STRATA, length=41)
    for stratum in STRATA:
        sequences = [r.sequence for r in rows if r.stratum == stratum]
        assert sequences == list(range(1, len(sequences) + 1))
        assert 41 <= len(sequences) <= 41 + 5


def test_both_block_sizes_occur_so_block_ends_are_not_predictable():
    rows = listgen.generate(seed="x", strata=("1",), length=60)
    assert {r.block_size for r in rows} == {4, 6}


def test_default_length_covers_the_whole_target_in_one_stratum_with_margin():
    assert listgen.default_length(30) >= 40


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"seed": ""}, "seed is required"),
        ({"block_sizes": (3,)}, "multiples of 2"),
        ({"length": 0}, "at least 1"),
    ],
)
def test_invalid_parameters_are_refused(kwargs, message):
    params = {"seed": "x", "strata": STRATA, "length": 10, **kwargs}
    with pytest.raises(ValueError, match=message):
        listgen.generate(**params)


def test_canonical_csv_round_trips_through_the_validator():
    rows = listgen.generate(seed="x", strata=STRATA, length=12)
    parsed, errors = listgen.parse_csv(listgen.canonical_csv(rows), strata=STRATA)
    assert errors == []
    assert parsed == sorted(rows, key=lambda r: (r.stratum, r.sequence))


def _csv(lines):
    return "stratum,sequence,block,arm\n" + "\n".join(lines) + "\n"


GOOD = ["1,1,1,A", "1,2,1,B", "2,1,1,B", "2,2,1,A", "3,1,1,A", "3,2,1,B"]


def test_a_valid_small_file_is_accepted():
    rows, errors = listgen.parse_csv(_csv(GOOD), strata=STRATA)
    assert errors == []
    assert len(rows) == 6


def test_wrong_columns_are_reported_on_line_1():
    rows, errors = listgen.parse_csv("stratum,seq,arm\n1,1,A\n", strata=STRATA)
    assert rows == []
    assert errors[0].startswith("line 1: the columns must be exactly")


def test_unknown_stratum_and_arm_are_reported_with_their_line():
    rows, errors = listgen.parse_csv(_csv([*GOOD, "4,1,1,A", "1,3,2,C"]), strata=STRATA)
    assert rows == []
    assert any(e.startswith("line 8: unknown stratum '4'") for e in errors)
    assert any(e.startswith("line 9: unknown arm code 'C'") for e in errors)


def test_duplicate_position_names_both_lines():
    rows, errors = listgen.parse_csv(_csv([*GOOD, "1,2,1,A"]), strata=STRATA)
    assert rows == []
    assert "line 8: stratum 1 sequence 2 repeats line 3." in errors


def test_gap_in_a_stratum_is_reported():
    lines = ["1,1,1,A", "1,2,1,B", "1,4,2,A", "1,5,2,B", *GOOD[2:]]
    rows, errors = listgen.parse_csv(_csv(lines), strata=STRATA)
    assert rows == []
    assert any("jumps to sequence 4 (sequence 3 is missing)" in e for e in errors)


def test_unbalanced_block_is_reported_with_its_lines():
    lines = ["1,1,1,A", "1,2,1,A", *GOOD[2:]]
    rows, errors = listgen.parse_csv(_csv(lines), strata=STRATA)
    assert rows == []
    assert "lines 2, 3: stratum 1 block 1 is not balanced 1:1." in errors


def test_missing_stratum_is_reported():
    rows, errors = listgen.parse_csv(_csv(GOOD[:4]), strata=STRATA)
    assert rows == []
    assert any("stratum 3 has no rows" in e for e in errors)


def test_non_numeric_sequence_is_reported():
    rows, errors = listgen.parse_csv(_csv([*GOOD, "1,x,2,A"]), strata=STRATA)
    assert rows == []
    assert any(e.startswith("line 8: sequence and block must be whole numbers") for e in errors)


def test_new_seeds_come_from_the_os_csprng_and_never_repeat():
    seeds = {listgen.new_seed() for _ in range(50)}
    assert len(seeds) == 50
    assert all(len(seed) >= 32 for seed in seeds)


def test_standalone_script_reproduces_a_list_from_its_recorded_parameters(tmp_path):
    """A statistician runs listgen.py outside the EDC with the parameters recorded with the
    list (seed, strata, block sizes, length) and gets the same canonical CSV and SHA-256."""
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    script = tmp_path / "listgen.py"  # copied alone: no Django, no project on the path
    shutil.copy(Path(listgen.__file__), script)
    rows = listgen.generate(seed="s3cr3t", strata=("2", "3"), length=12, block_sizes=(4, 6))
    out = subprocess.run(  # noqa: S603 - our own script
        [
            sys.executable,
            str(script),
            "--seed",
            "s3cr3t",
            "--strata",
            "2,3",
            "--block-sizes",
            "4,6",
            "--length",
            "12",
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    ).stdout
    assert out.startswith(listgen.canonical_csv(rows))
    assert out.strip().endswith(f"# sha256 {listgen.sha256(rows)}")
