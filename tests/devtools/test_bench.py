"""The bench at a small size, so it cannot rot (#16); the 10,000-patient run is `make bench`.

Also the query-count ceilings of every benchmarked page and API list at two data sizes: the
count must not grow with the data and stays under a ceiling.
"""

from __future__ import annotations

import pytest
from django.db import connection

from devtools import bench
from devtools.generate import generate_trial

# The patient page carries the most panels (course, scores, visits, queries/SDV/locks,
# allocation, AEs): 39 queries after the merge of #10, #11, #14; flat with the data size.
# Issue 12's single access helper is where this comes down.
PAGE_QUERY_CEILING = 40


@pytest.mark.django_db
def test_pages_keep_their_query_count_as_the_trial_grows_and_the_report_is_written(tmp_path):
    small = generate_trial(patients=20, sites=2, seed="bench-ci", months=6)
    first = bench.SizeResult(size=20, summary=small, pages=bench.measure_pages(20, repeat=1))
    grown = generate_trial(patients=40, sites=2, seed="bench-ci", months=6, append=True)
    second = bench.SizeResult(size=60, summary=grown, pages=bench.measure_pages(60, repeat=1))
    assert [f.name for f in first.pages] == [f.name for f in second.pages]
    for before, after in zip(first.pages, second.pages, strict=True):
        assert after.queries == before.queries, before.name
        assert after.queries <= PAGE_QUERY_CEILING, before.name

    second.writes = bench.measure_writes(60, repeat=2)
    names = [f.name for f in second.writes]
    assert "lab CRF save through crf_save" in names
    assert "randomization (patient_randomize)" in names
    second.status_job = bench.measure_status_job()
    assert second.status_job["changed"] > 0
    second.concurrency = (
        bench.measure_concurrency(2, 1) if connection.vendor != "postgresql" else {}
    )

    text = bench.report([first, second], command="pytest", machine_line=bench.machine())
    out = tmp_path / "results.md"
    out.write_text(text)
    assert "## Pages and API lists: 60 vs 20 patients" in text
    assert "| visit worklist | investigator |" in text
    assert "lab CRF save through crf_save" in text
    assert "## Daily visit status job" in text


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="processes need PostgreSQL")
def test_concurrent_randomizations_from_processes_across_sites_never_fail():
    """#16: 305 of 2,934 randomizations failed with three writers at different sites."""
    generate_trial(patients=12, sites=3, seed="bench-ci-pg", months=2, workers=2)
    result = bench.measure_concurrency(3, 3)
    assert result["errors"] == 0, result["error_samples"]
    assert result["serial_errors"] == 0
    assert result["used_twice"] == 0
    assert result["strata_with_gaps"] == 0
    assert result["randomizations"] == 9


def test_bench_http_measures_the_generated_investigator_and_reports_the_ratio(
    monkeypatch, investigator
):
    import json
    from io import StringIO

    from django.core.management import call_command

    from devtools.management.commands import bench_http

    seen = {}

    def measure(**kwargs):
        seen.update(kwargs)
        return {"trivial_rps": 200.0, "journey_rps": 50.0, "errors": 0}

    monkeypatch.setattr(bench_http, "measure_http", measure)
    out = StringIO()
    # The command object itself: devtools is an installed app only with DEVTOOLS=1.
    call_command(bench_http.Command(), user=investigator.username, seconds=1, stdout=out)
    result = json.loads(out.getvalue())
    assert result["ratio"] == 0.25
    assert seen["user"] == investigator
    assert seen["users"] == 50


def test_each_bench_size_is_the_same_trial_at_another_age():
    """One recruitment rate: the 400-patient trial is the 10,000-patient one's first month,
    so what is in flight today (the pharmacy page, visits due) is alike at both sizes."""
    assert bench.recruitment_months(400) == 1
    assert bench.recruitment_months(10_000) == 24
    assert bench.recruitment_months(1) == 1
    assert bench.recruitment_months(1_000, per_month=100) == 10


def test_a_baseline_and_what_is_compared_with_it_take_turns():
    """The writes' ratios time both sides call by call (``timed_alternating``), so a change in
    the machine's load between two blocks of calls cannot skew them."""
    calls: list[str] = []
    (base_ms, base_q), (ms, queries) = bench.timed_alternating(
        lambda: calls.append("base"), lambda: calls.append("measured"), 3
    )
    # Two untimed calls each (warm-up, query count), then the timed calls in turn.
    assert calls == ["base", "base", "measured", "measured"] + ["base", "measured"] * 3
    assert base_q == queries == 0
    assert base_ms >= 0
    assert ms >= 0
