"""Stratified permuted-block randomization lists: generation, canonical CSV and validation.

Pure Python (no Django): the unblinded statistician can rerun it outside the EDC.

Algorithm (synopsis: Randomization — 1:1, stratified by ACLF grade, permuted blocks of
randomly varying size), for each stratum ``s`` of the list's configured strata, independently:

1. ``rng = random.Random(f"{seed}:{s}")`` — CPython's Mersenne Twister seeded with the
   *string* ``"<seed>:<stratum>"`` (e.g. ``"k7Q…:1"``; string seeding is
   version 2: the SHA-512 of the UTF-8 string, stable since Python 3.2).
2. ``sequence = 0``, ``block = 0``. While ``sequence < length``:
   a. ``block += 1``; ``size = rng.choice(block_sizes)`` (``block_sizes`` in the order
      given, default ``(4, 6)``: with blocks of 2 the last allocation of half the blocks is
      forced, so a blinded user who sees strata and times could guess it);
   b. ``arms = list(arm_codes) * (size // len(arm_codes))`` (default codes ``("A", "B")``,
      so 1:1 within every block), then ``rng.shuffle(arms)``;
   c. for each arm in that order: ``sequence += 1`` and emit the row
      ``(stratum, sequence, block, size, arm)``.
   The last block is always completed, so a stratum can exceed ``length`` by up to
   ``max(block_sizes) - 1`` rows.

The seed is the secret: the EDC draws it with ``secrets`` (``new_seed``) unless the unblinded
statistician gives one, and only unblinded roles can read it. Knowing this algorithm without
the seed predicts nothing.

Reproduce outside the EDC: this file runs on its own (standard library only) with the
parameters recorded with the list, and prints the canonical CSV and its SHA-256::

    python listgen.py --seed SEED --strata 1,2,3 --block-sizes 4,6 --length 40

or, in any Python ≥ 3.2::

    import random
    def rows(seed, strata=("1", "2", "3"), block_sizes=(4, 6), length=40, arms=("A", "B")):
        for s in strata:
            rng, seq, block = random.Random(f"{seed}:{s}"), 0, 0
            while seq < length:
                block += 1
                size = rng.choice(block_sizes)
                items = list(arms) * (size // len(arms))
                rng.shuffle(items)
                for arm in items:
                    seq += 1
                    yield s, seq, block, size, arm

The canonical CSV (``canonical_csv``) is ``stratum,sequence,block,arm`` with a header, rows
sorted by stratum then sequence, ``\\n`` line ends, UTF-8; its SHA-256 is recorded with the
list so an exported or uploaded file can be compared byte for byte. In R the same lists
need the Python generator above (R's RNG differs); the CSV and hash are language-neutral.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import random
import secrets
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

CSV_COLUMNS = ("stratum", "sequence", "block", "arm")
DEFAULT_BLOCK_SIZES = (4, 6)
DEFAULT_ARM_CODES = ("A", "B")


@dataclass(frozen=True)
class Row:
    stratum: str
    sequence: int
    block: int
    block_size: int
    arm: str


def new_seed() -> str:
    """A seed nobody can guess (192 bits from the OS's CSPRNG)."""
    return secrets.token_urlsafe(24)


def default_length(target_size: int) -> int:
    """Rows per stratum: the whole trial target could fall in one stratum, plus a margin."""
    return target_size + max(10, target_size // 3)


def generate(
    *,
    seed: str,
    strata: Sequence[str],
    length: int,
    block_sizes: Sequence[int] = DEFAULT_BLOCK_SIZES,
    arm_codes: Sequence[str] = DEFAULT_ARM_CODES,
) -> list[Row]:
    """The list for ``seed``: same seed and parameters always give the same rows."""
    if not seed:
        raise ValueError("A seed is required.")
    if length < 1:
        raise ValueError("The length per stratum must be at least 1.")
    if len(arm_codes) < 2 or len(set(arm_codes)) != len(arm_codes):
        raise ValueError("At least two distinct arm codes are required.")
    if not block_sizes or any(
        size < len(arm_codes) or size % len(arm_codes) for size in block_sizes
    ):
        raise ValueError(f"Block sizes must be positive multiples of {len(arm_codes)}.")
    rows: list[Row] = []
    for stratum in strata:
        rng = random.Random(f"{seed}:{stratum}")  # noqa: S311 - reproducibility, not secrecy
        sequence = block = 0
        while sequence < length:
            block += 1
            size = rng.choice(list(block_sizes))
            arms = list(arm_codes) * (size // len(arm_codes))
            rng.shuffle(arms)
            for arm in arms:
                sequence += 1
                rows.append(Row(stratum, sequence, block, size, arm))
    return rows


def canonical_csv(rows: Iterable[Row]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in sorted(rows, key=lambda r: (r.stratum, r.sequence)):
        writer.writerow([row.stratum, row.sequence, row.block, row.arm])
    return out.getvalue()


def sha256(rows: Iterable[Row]) -> str:
    return hashlib.sha256(canonical_csv(rows).encode()).hexdigest()


@dataclass(frozen=True)
class _Line:
    """One parsed row of an uploaded list and the file line it came from."""

    line: int
    stratum: str
    sequence: int
    block: int
    arm: str


def parse_csv(
    text: str, *, strata: Sequence[str], arm_codes: Sequence[str] = DEFAULT_ARM_CODES
) -> tuple[list[Row], list[str]]:
    """Rows of an uploaded list and every problem found, each naming its line number.

    Checks: the columns, strata and arm codes, integers, duplicate positions, gaps in each
    stratum's sequence, blocks made of consecutive positions, and 1:1 balance in every block.
    Rows are returned only when there is no error (a bad file loads nothing).
    """
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    if sorted(header) != sorted(CSV_COLUMNS):
        return [], [
            f"line 1: the columns must be exactly {', '.join(CSV_COLUMNS)} "
            f"(found: {', '.join(header) or 'none'})."
        ]
    reader.fieldnames = header
    parsed, errors = _parse_lines(reader, strata=strata, arm_codes=arm_codes)
    if not parsed and not errors:
        errors.append("line 2: the file has no rows.")
    by_stratum: dict[str, list[_Line]] = defaultdict(list)
    for item in parsed:
        by_stratum[item.stratum].append(item)
    for stratum in strata:
        if stratum not in by_stratum and not errors:
            errors.append(f"line {len(parsed) + 1}: stratum {stratum} has no rows.")
    rows: list[Row] = []
    for stratum, items in by_stratum.items():
        rows.extend(_stratum_rows(stratum, items, arm_codes=arm_codes, errors=errors))
    if errors:
        return [], errors
    return sorted(rows, key=lambda r: (r.stratum, r.sequence)), []


def _parse_lines(
    reader: csv.DictReader, *, strata: Sequence[str], arm_codes: Sequence[str]
) -> tuple[list[_Line], list[str]]:
    """Each line's values checked on their own (codes, whole numbers, no repeated position)."""
    errors: list[str] = []
    parsed: list[_Line] = []
    seen: dict[tuple[str, int], int] = {}
    for line, raw in enumerate(reader, start=2):
        if None in raw:
            errors.append(f"line {line}: more values than columns.")
            continue
        values = {k: (v or "").strip() for k, v in raw.items()}
        stratum, arm = values["stratum"], values["arm"].upper()
        problems = []
        if stratum not in strata:
            problems.append(f"unknown stratum {stratum!r} (expected {', '.join(strata)})")
        if arm not in arm_codes:
            problems.append(f"unknown arm code {values['arm']!r}")
        sequence, block = _positive_int(values["sequence"]), _positive_int(values["block"])
        if sequence is None or block is None:
            problems.append("sequence and block must be whole numbers ≥ 1")
        if problems:
            errors.append(f"line {line}: " + "; ".join(problems) + ".")
            continue
        if (stratum, sequence) in seen:
            errors.append(
                f"line {line}: stratum {stratum} sequence {sequence} repeats line "
                f"{seen[stratum, sequence]}."
            )
            continue
        seen[stratum, sequence] = line
        parsed.append(_Line(line, stratum, sequence, block, arm))
    return parsed, errors


def _positive_int(text: str) -> int | None:
    try:
        value = int(text)
    except ValueError:
        return None
    return value if value >= 1 else None


def _stratum_rows(
    stratum: str, items: list[_Line], *, arm_codes: Sequence[str], errors: list[str]
) -> list[Row]:
    """One stratum's rows; appends to ``errors`` a sequence gap and every bad block."""
    items.sort(key=lambda item: item.sequence)
    for expected, item in enumerate(items, start=1):
        if item.sequence != expected:
            errors.append(
                f"line {item.line}: stratum {stratum} jumps to sequence {item.sequence} "
                f"(sequence {expected} is missing)."
            )
            break
    blocks: dict[int, list[_Line]] = defaultdict(list)
    for item in items:
        blocks[item.block].append(item)
    rows: list[Row] = []
    previous_end = 0
    for number in sorted(blocks):
        members = blocks[number]
        positions = [m.sequence for m in members]
        lines = ", ".join(str(m.line) for m in members)
        consecutive = max(positions) - min(positions) + 1 == len(positions)
        if min(positions) != previous_end + 1 or not consecutive:
            errors.append(
                f"lines {lines}: stratum {stratum} block {number} is not a run of "
                "consecutive sequence numbers following the previous block."
            )
        previous_end = max(positions)
        counts = Counter(m.arm for m in members)
        if len({counts.get(code, 0) for code in arm_codes}) != 1:
            errors.append(f"lines {lines}: stratum {stratum} block {number} is not balanced 1:1.")
        rows.extend(
            Row(stratum, m.sequence, number, len(members), m.arm)
            for m in sorted(members, key=lambda m: m.sequence)
        )
    return rows


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def main(argv: Sequence[str] | None = None) -> None:
    """Print the canonical CSV of a list and its SHA-256 (compare with the EDC's record)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", required=True)
    parser.add_argument("--strata", default="1,2,3", help="comma-separated, e.g. 1,2,3")
    parser.add_argument("--block-sizes", default="4,6", help="comma-separated, e.g. 4,6")
    parser.add_argument("--length", type=int, required=True, help="rows per stratum")
    parser.add_argument("--arms", default="A,B")
    args = parser.parse_args(argv)
    rows = generate(
        seed=args.seed,
        strata=[s.strip() for s in args.strata.split(",") if s.strip()],
        length=args.length,
        block_sizes=_ints(args.block_sizes),
        arm_codes=[a.strip() for a in args.arms.split(",") if a.strip()],
    )
    print(canonical_csv(rows), end="")  # noqa: T201 - a command-line tool
    print(f"# sha256 {sha256(rows)}")  # noqa: T201


if __name__ == "__main__":
    main()
