"""The benchmark behind ``make bench``: each figure next to a physical baseline of the same run.

Ratios, not milliseconds, are the result: they compare across machines. For each data size a
trial is generated through the services (``devtools.generate``), then:

- pages and API lists, per role: median time and query count, as a ratio to the smallest size
  (flat = the page does not grow with the data);
- writes: a laboratory CRF correction through ``crf_save`` vs a bare ORM ``save()`` of the same
  row; one randomization vs a bare ORM save of the patient row; their query counts;
- concurrent randomizations from separate processes at different sites (PostgreSQL): errors,
  entries used twice, gaps, throughput vs the same randomizations run one after the other;
- the daily visit status job: time, batches, longest transaction;
- EXPLAIN ANALYZE of the indexed queries with and without their index (PostgreSQL; the index
  is dropped inside a transaction that is rolled back);
- HTTP throughput of an investigator journey under concurrent users vs a trivial
  authenticated view on the same gunicorn server (``devtools.http``).

The functions work on whatever database is configured; ``manage.py bench`` gives each size a
throw-away database and writes ``benchmarks/results.md``.
"""

from __future__ import annotations

import datetime as dt
import math
import multiprocessing
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import connection, connections, transaction
from django.test import Client
from django.urls import reverse

from .generate import USER_PREFIX, Summary

# Budgets of the issue (#16); the bench marks each figure against them.
CRF_SAVE_MAX_RATIO = 2.5
CRF_SAVE_MAX_QUERIES = 12
RANDOMIZE_MAX_QUERIES = 30
PAGE_MAX_RATIO = 1.3
HTTP_MIN_SHARE = 0.5


@dataclass
class Figure:
    name: str
    size: int
    ms: float
    queries: int
    ratio: float | None = None  # to the baseline named in the section
    note: str = ""


@dataclass
class SizeResult:
    size: int
    summary: Summary
    pages: list[Figure] = field(default_factory=list)
    writes: list[Figure] = field(default_factory=list)
    concurrency: dict = field(default_factory=dict)
    status_job: dict = field(default_factory=dict)
    explain: list[dict] = field(default_factory=list)
    http: dict = field(default_factory=dict)
    storage: dict = field(default_factory=dict)
    months: int | None = None  # recruitment period of the generated trial


# Patients recruited a month by the bench's trials: ~10,000 in the 24 months of the issue's.
PER_MONTH = 420


def recruitment_months(size: int, per_month: int = PER_MONTH) -> int:
    """Each size is the same trial at another age: recruiting at one rate, so what is in flight
    today (doses to prepare, visits due) is alike at every size, and only what has
    accumulated grows. A 400-patient trial recruited over 24 months had almost no patient in
    dosing: its pharmacy page was empty, and compared with a full one at 10,000 patients."""
    return max(1, math.ceil(size / per_month))


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, int]:
    """Median milliseconds over ``repeat`` calls (after one warm-up) and one call's queries."""
    response = fn()
    status = getattr(response, "status_code", 200)
    if status != 200:
        raise RuntimeError(f"benchmark route answered {status}")
    queries: list[str] = []

    def count(execute, sql, params, many, context):
        queries.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        fn()
    if repeat == 0:  # the query count only
        return 0.0, len(queries)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), len(queries)


def timed_alternating(
    baseline: Callable[[], object], measured: Callable[[], object], repeat: int
) -> tuple[tuple[float, int], tuple[float, int]]:
    """``timed`` of both, their calls taking turns: a change in the machine's load weighs on
    the baseline and on what is compared with it alike (timed one block after the other, the
    ratio of a lab save moved from 2.0× to 3.7× with the load of another process)."""
    counts = [timed(fn, 0)[1] for fn in (baseline, measured)]  # warm-up and query counts
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeat):
        for fn, spent in zip((baseline, measured), times, strict=True):
            start = time.perf_counter()
            fn()
            spent.append((time.perf_counter() - start) * 1000)
    return (
        (statistics.median(times[0]), counts[0]),
        (statistics.median(times[1]), counts[1]),
    )


def _users() -> dict[str, object]:
    model = get_user_model()
    names = {
        "investigator": f"{USER_PREFIX}inv01",
        "pharmacist": f"{USER_PREFIX}pharm01",
        "monitor": f"{USER_PREFIX}monitor",
        "datamanager": f"{USER_PREFIX}datamanager",
    }
    return {role: model.objects.get(username=name) for role, name in names.items()}


def _most_edited_patient(site_code: str = "01"):
    from trials.models import Patient

    return (
        Patient.objects.filter(site__code=site_code, status="randomized")
        .order_by("-pk")  # the latest randomized: every visit planned
        .first()
        or Patient.objects.filter(site__code=site_code).order_by("pk").first()
    )


def routes() -> dict[str, tuple[str, str]]:
    """Figure name -> (role, URL) on the current data."""
    from trials.models import Patient

    patient = _most_edited_patient()
    site_numbers = Patient.objects.filter(site__code="01").values_list(
        "screening_number", flat=True
    )
    all_numbers = Patient.objects.values_list("screening_number", flat=True)
    return {
        "dashboard": ("investigator", reverse("trials:dashboard")),
        "patient list, page 1": ("investigator", reverse("trials:patient-list")),
        "patient list, last page": (
            "investigator",
            # Keyset pages (#16): the cursor a user reaches by following every "Next" link.
            f"{reverse('trials:patient-list')}?{_html_last_page_cursor(site_numbers, 25)}",
        ),
        "patient search (contains)": (
            "investigator",
            f"{reverse('trials:patient-list')}?q={_search_term('01')}",
        ),
        "patient page": ("investigator", reverse("trials:patient-detail", args=[patient.pk])),
        "patient timeline": (
            "investigator",
            reverse("crf:patient-timeline", kwargs={"patient_pk": patient.pk}),
        ),
        "patient audit trail": ("monitor", reverse("trials:patient-history", args=[patient.pk])),
        "visit worklist": ("investigator", reverse("crf:visit-worklist")),
        "patient API, page 1 (all sites)": ("datamanager", reverse("trials-api:patient-list")),
        "patient API, last page (all sites)": (
            "datamanager",
            f"{reverse('trials-api:patient-list')}?{_last_page_cursor()}",
        ),
        "screening log, page 1 (all sites)": ("datamanager", reverse("trials:screening-log")),
        "screening log, last page (all sites)": (
            "datamanager",
            f"{reverse('trials:screening-log')}?{_html_last_page_cursor(all_numbers, 50)}",
        ),
        "dashboard (pharmacist)": ("pharmacist", reverse("trials:dashboard")),
        "pharmacy page": ("pharmacist", reverse("randomization:pharmacy-list")),
        "pharmacy API": ("pharmacist", reverse("randomization-api:pharmacy-list")),
    }


def _html_last_page_cursor(numbers, page_size: int) -> str:
    """The query string of an HTML list's last page in screening-number order
    (``trials.paging``: after the last row of the page before it)."""
    from base64 import b64encode
    from urllib.parse import urlencode

    numbers = list(numbers.order_by("screening_number"))
    if len(numbers) <= page_size:
        return ""
    before_last = numbers[((len(numbers) - 1) // page_size) * page_size - 1]
    cursor = b64encode(urlencode({"p": before_last}).encode("ascii")).decode("ascii")
    return urlencode({"cursor": cursor})


def _last_page_cursor(page_size: int = 50) -> str:
    """The query string of the API's last page (keyset cursor: after the row that precedes
    it), as a client that followed every ``next`` link would request it."""
    from base64 import b64encode
    from urllib.parse import urlencode

    from trials.models import Patient

    numbers = Patient.objects.order_by("-screening_number").values_list(
        "screening_number", flat=True
    )
    position = numbers[page_size] if numbers.count() > page_size else None
    if position is None:
        return ""
    cursor = b64encode(urlencode({"p": position}).encode("ascii")).decode("ascii")
    return urlencode({"cursor": cursor})


def measure_pages(size: int, repeat: int) -> list[Figure]:
    users = _users()
    clients = {}
    for role, user in users.items():
        clients[role] = Client()
        clients[role].force_login(user)
    figures = []
    for name, (role, url) in routes().items():
        try:
            ms, queries = timed(lambda c=clients[role], u=url: c.get(u), repeat)
        except RuntimeError as exc:
            raise RuntimeError(f"{name} ({url}, as {role}): {exc}") from exc
        figures.append(Figure(name, size, ms, queries, note=role))
    return figures


def use_database(name: str) -> None:
    """Point the default connection at another database (one per data size)."""
    from django.conf import settings
    from django.contrib.contenttypes.models import ContentType

    connection.close()
    connection.settings_dict["NAME"] = name
    settings.DATABASES[connection.alias]["NAME"] = name
    ContentType.objects.clear_cache()  # ids may differ between the databases


def measure_pages_interleaved(databases: dict[int, str], repeat: int) -> dict[int, list[Figure]]:
    """Pages at every size, taking turns request by request, so that a change in the machine's
    load (other processes) weighs on every size alike instead of skewing the ratios."""
    setups = {}
    for size, name in databases.items():
        use_database(name)
        clients = {}
        for role, user in _users().items():
            clients[role] = Client()
            clients[role].force_login(user)
        todo = {}
        for route, (role, url) in routes().items():
            try:
                _ms, queries = timed(lambda c=clients[role], u=url: c.get(u), 0)
            except RuntimeError as exc:
                raise RuntimeError(f"{route} ({url}, as {role}): {exc}") from exc
            todo[route] = (clients[role], url, role, queries)
        setups[size] = todo
    times: dict[tuple[int, str], list[float]] = {}
    for _ in range(repeat):
        for size, name in databases.items():
            use_database(name)
            for route, (client, url, _role, _q) in setups[size].items():
                start = time.perf_counter()
                client.get(url)
                times.setdefault((size, route), []).append((time.perf_counter() - start) * 1000)
    return {
        size: [
            Figure(route, size, statistics.median(times[(size, route)]), q, note=role)
            for route, (_c, _u, role, q) in todo.items()
        ]
        for size, todo in setups.items()
    }


# --- writes -------------------------------------------------------------------------------------


def _eligible_patients(site, investigator, n: int, *, grade_cycle=("1", "2", "3")) -> list:
    """``n`` patients of ``site`` with a complete, eligible screening (through the services)."""
    from django.utils import timezone

    from devtools.generate import _screening
    from trials import services

    patients = []
    import random

    rng = random.Random(f"bench:{site.pk}:{n}")  # noqa: S311 - synthetic data
    for _ in range(n):
        patient = services.patient_create(
            user=investigator,
            site=site,
            sex="M",
            birth_date=dt.date(1965, 5, 5),
            consent_datetime=timezone.now() - dt.timedelta(hours=1),
            consent_version="v1.0",
        )
        data = _screening(rng, "M", "randomized")
        data["screening_date"] = timezone.localdate()
        services.screening_save(user=investigator, patient=patient, data=data, complete=True)
        patients.append(patient)
    return patients


def extra_randomizations(*, repeat: int, processes: int, per_process: int) -> int:
    """Randomizations the bench makes on the generated trial's list: ``measure_writes`` (a
    warm-up, the counted call and ``repeat`` timed calls) and ``measure_concurrency`` (as many
    serial as concurrent). Any of them may fall in any stratum, so the list gets that many
    more entries in each (#16: 11 "No randomization slot is free" errors at 100 patients)."""
    return (repeat + 2) + processes * per_process * 2


def measure_writes(size: int, repeat: int) -> list[Figure]:
    from crf.models import LabResult
    from crf.services import crf_save
    from randomization.services import patient_randomize
    from trials.forms import SCORE_INPUT_FIELDS
    from trials.models import Patient, Site

    users = _users()
    investigator = get_user_model().objects.get(username=f"{USER_PREFIX}inv01")
    figures = []
    lab = (
        LabResult.objects.filter(patient__site__code="01", status="complete")
        .select_related("visit")
        .order_by("-pk")
        .first()
    )
    if lab is not None:
        data = {f: getattr(lab, f) for f in ["assessment_date", *SCORE_INPUT_FIELDS]}
        values = iter(range(10**6))

        def service_save():
            data["bilirubin_entered"] = Decimal(5 + next(values) % 20)
            return crf_save(
                user=investigator,
                form_code="labs",
                visit=lab.visit,
                data=data,
                complete=True,
                confirm_out_of_range=True,
                reason="Bench: corrected value",
            )

        def orm_save():
            row = LabResult.objects.get(pk=lab.pk)  # what a bare view would do: read, set, save
            row.bilirubin_entered = Decimal(5 + next(values) % 20)
            row.save()

        (base_ms, base_q), (ms, queries) = timed_alternating(orm_save, service_save, repeat)
        figures.append(Figure("lab CRF save, bare ORM (baseline)", size, base_ms, base_q, 1.0))
        figures.append(
            Figure(
                "lab CRF save through crf_save",
                size,
                ms,
                queries,
                ms / base_ms,
                f"budget ≤ {CRF_SAVE_MAX_RATIO}×, ≤ {CRF_SAVE_MAX_QUERIES} queries",
            )
        )

    site = Site.objects.get(code="01")
    patients = _eligible_patients(site, investigator, repeat + 2)
    base = Patient.objects.get(pk=patients[0].pk)

    def patient_orm_save():
        base.initials = "ZZ" if base.initials != "ZZ" else "YY"
        base.save()

    pending = iter(patients)
    (base_ms, base_q), (ms, queries) = timed_alternating(
        patient_orm_save,
        lambda: patient_randomize(
            user=investigator, patient=next(pending), confirm_eligibility=True
        ),
        repeat,
    )
    figures.append(Figure("patient row save, bare ORM (baseline)", size, base_ms, base_q, 1.0))
    figures.append(
        Figure(
            "randomization (patient_randomize)",
            size,
            ms,
            queries,
            ms / base_ms,
            f"budget ≤ {RANDOMIZE_MAX_QUERIES} queries",
        )
    )
    del users
    return figures


# --- concurrent randomizations ------------------------------------------------------------------


def _randomize_batch(args) -> dict:
    patient_ids, username, barrier = args
    from randomization.services import patient_randomize
    from trials.models import Patient

    connections.close_all()
    user = get_user_model().objects.get(username=username)
    patients = list(Patient.objects.filter(pk__in=patient_ids).select_related("site", "trial"))
    errors = []
    if barrier is not None:
        barrier.wait()
    started = time.time()
    for patient in patients:
        try:
            patient_randomize(user=user, patient=patient, confirm_eligibility=True)
        except Exception as exc:  # every failure is the figure, not a crash of the bench
            errors.append(f"{type(exc).__name__}: {exc}")
    ended = time.time()
    connections.close_all()
    return {"started": started, "ended": ended, "errors": errors, "count": len(patients)}


def measure_concurrency(processes: int, per_process: int) -> dict:
    """``processes`` processes, each at its own site, randomizing at the same time."""
    from randomization.models import Allocation
    from trials.models import Site

    if connection.vendor != "postgresql":
        return {"skipped": "needs PostgreSQL (SQLite has a single writer)"}
    sites = list(Site.objects.order_by("code")[:processes])
    jobs, serial = [], []
    for site in sites:
        inv = get_user_model().objects.get(username=f"{USER_PREFIX}inv{site.code}")
        patients = _eligible_patients(site, inv, per_process * 2)
        jobs.append(([p.pk for p in patients[:per_process]], inv.username))
        serial.append(([p.pk for p in patients[per_process:]], inv.username))
    before = set(Allocation.objects.values_list("pk", flat=True))
    # Serial baseline: the same number of randomizations, one after the other, one process.
    started = time.perf_counter()
    serial_errors = []
    for ids, username in serial:
        serial_errors += _randomize_batch((ids, username, None))["errors"]
    serial_s = time.perf_counter() - started
    connections.close_all()
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Manager().Barrier(len(jobs))
    with ctx.Pool(len(jobs)) as pool:
        parts = pool.map(_randomize_batch, [(ids, name, barrier) for ids, name in jobs])
    errors = [e for part in parts for e in part["errors"]]
    elapsed = max(p["ended"] for p in parts) - min(p["started"] for p in parts)
    total = sum(p["count"] for p in parts)
    new = Allocation.objects.exclude(pk__in=before).select_related("entry")
    entries = [a.entry_id for a in new]
    by_stratum: dict[str, list[int]] = {}
    for allocation in Allocation.objects.select_related("entry").filter(
        entry__randomization_list__status="active"
    ):
        by_stratum.setdefault(allocation.entry.stratum, []).append(allocation.entry.sequence)
    gaps = sum(1 for seqs in by_stratum.values() if sorted(seqs) != list(range(1, len(seqs) + 1)))
    serial_rate = len(serial) * per_process / serial_s
    rate = total / elapsed if elapsed else 0.0
    return {
        "processes": len(jobs),
        "randomizations": total,
        "errors": len(errors),
        "error_samples": errors[:3],
        "serial_errors": len(serial_errors),
        "used_twice": len(entries) - len(set(entries)),
        "strata_with_gaps": gaps,
        "per_second": rate,
        "serial_per_second": serial_rate,
        "ratio": rate / serial_rate if serial_rate else None,
    }


# --- daily status job ---------------------------------------------------------------------------


def measure_status_job(days_ahead: int = 10) -> dict:
    from django.utils import timezone

    from crf.services import visits_status_refresh

    started = time.perf_counter()
    result = visits_status_refresh(
        today=timezone.localdate() + dt.timedelta(days=days_ahead), notify=False
    )
    return {
        "seconds": time.perf_counter() - started,
        "changed": sum(result["changed"].values()),
        "batches": result.get("batches", 1),
        "longest_batch_s": result.get("longest_batch_s", time.perf_counter() - started),
    }


# --- EXPLAIN before/after -----------------------------------------------------------------------


class _Rollback(Exception):
    pass


def _plan(qs) -> tuple[float, str]:
    text = qs.explain(analyze=True)
    ms = 0.0
    for line in text.splitlines():
        if line.strip().startswith("Execution Time"):
            ms = float(line.split(":")[1].split()[0])
    scans = []
    for line in text.splitlines():
        node = line.strip().lstrip("-> ").split("  (")[0]
        if ":" in node:  # details (Sort Key, Filter...), not plan nodes
            continue
        if ("Scan" in node or "Sort" in node) and node not in scans:
            scans.append(node)
    return ms, "; ".join(scans)


def _search_term(site_code: str | None = None) -> str:
    """The middle of a real screening number: what a user types to find one patient."""
    from trials.models import Patient

    patients = Patient.objects.filter(site__code=site_code) if site_code else Patient.objects
    number = patients.order_by("pk").values_list("screening_number", flat=True)
    middle = number[max(0, number.count() // 2)] if number.exists() else "S01-0001"
    return middle[1:]  # "01-0123": a contains-search


def _site_last_page(user):
    """The query of the last page of the user's patient list (25 a page, keyset)."""
    from trials.selectors import patient_list

    numbers = list(patient_list(user=user).values_list("screening_number", flat=True))
    after = numbers[-26] if len(numbers) > 25 else ""
    return patient_list(user=user).filter(screening_number__gt=after)[:26]


def explain_indexes() -> list[dict]:
    from crf.selectors import visit_worklist
    from monitoring.selectors import query_list
    from randomization.selectors import pharmacy_patient_list
    from trials.selectors import patient_list, score_gaps_query

    if connection.vendor != "postgresql":
        return []
    users = _users()
    queries = {
        "visit_due_by_window_end": (
            "worklist of an investigator (visits due/overdue by window end)",
            lambda: visit_worklist(user=users["investigator"])[:50],
        ),
        "visit_due_by_window_end ": (  # the same index, trial-wide (data manager)
            "worklist, all sites",
            lambda: visit_worklist(user=users["datamanager"])[:50],
        ),
        "patient_created_at": (
            "dashboard: 10 most recent patients",
            lambda: patient_list(user=users["datamanager"]).order_by("-created_at")[:10],
        ),
        "patient_screening_number": (
            "patient list / screening log, all sites, page 1 (screening-number order)",
            lambda: patient_list(user=users["datamanager"])[:50],
        ),
        "patient_subject_id": (
            "pharmacy list of a pharmacist (randomization-number order)",
            lambda: pharmacy_patient_list(user=users["pharmacist"])[:25],
        ),
        "allocation_randomized_at": (
            "pharmacist dashboard: doses due, earliest randomized first",
            lambda: pharmacy_patient_list(user=users["pharmacist"]).order_by(
                "allocation__randomized_at", "pk"
            )[:25],
        ),
        "score_record_gap_recent": (
            "worklist: recent records missing a primary score",
            lambda: score_gaps_query(user=users["investigator"])[:25],
        ),
        "patient_site_number": (
            "patient list of an investigator, last page (keyset)",
            lambda: _site_last_page(users["investigator"]),
        ),
        "query_open_due": (
            "dashboard: open data queries of an investigator, oldest due first",
            lambda: query_list(user=users["investigator"], status="open")[:10],
        ),
    }
    rows = []
    for index, (label, query) in queries.items():
        after_ms, after_plan = _plan(query())
        before_ms, before_plan = after_ms, after_plan
        try:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    for name in index.strip().split(", "):
                        cursor.execute(f"DROP INDEX {name}")  # rolled back below
                before_ms, before_plan = _plan(query())
                raise _Rollback
        except _Rollback:
            pass
        rows.append(
            {
                "index": index,
                "query": label,
                "before_ms": before_ms,
                "before_plan": before_plan,
                "after_ms": after_ms,
                "after_plan": after_plan,
            }
        )
    return rows


# --- storage ------------------------------------------------------------------------------------


def measure_storage(top: int = 6) -> dict:
    """Database size and its largest tables (with indexes), PostgreSQL only."""
    if connection.vendor != "postgresql":
        return {}
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_database_size(current_database())")
        total = cursor.fetchone()[0]
        cursor.execute(
            "SELECT relname, pg_total_relation_size(c.oid) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind = 'r' AND n.nspname = 'public' ORDER BY 2 DESC LIMIT %s",
            [top],
        )
        tables = cursor.fetchall()
    return {"total_mb": total / 2**20, "tables": [(name, b / 2**20) for name, b in tables]}


# --- report -------------------------------------------------------------------------------------


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    db = connection.vendor
    if db == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            db = f"PostgreSQL {cursor.fetchone()[0]}"
    else:
        import sqlite3

        db = f"SQLite {sqlite3.sqlite_version}"
    return (
        f"{platform.node()}: {os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}, "
        f"{db}, {platform.platform()}"
    )


def _ok(flag: bool) -> str:
    return "ok" if flag else "**over budget**"


def report(results: list[SizeResult], *, command: str, machine_line: str) -> str:
    """Markdown of the run: every figure with its ratio to the baseline of the same run."""
    base = results[0]
    lines = [
        "# Benchmark results (`make bench`)",
        "",
        f"- Date (UTC): {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M}",
        f"- Machine: {machine_line}",
        f"- Command: `{command}`",
        "- Datasets (generated through the services by `manage.py generate_trial`):",
    ]
    for r in results:
        s = r.summary
        over = f", recruited over {r.months} months" if r.months else ""
        lines.append(
            f"  - {r.size} patients{over}: {s.randomized} randomized, {s.visits} visits, "
            f"{s.crfs} eCRFs, {s.corrections} corrections (generated in {s.seconds:.0f} s)"
        )
    lines += [
        "",
        "Ratios compare with a baseline measured in the same run, so they carry across "
        "machines; the milliseconds do not.",
        "",
        f"## Pages and API lists: {results[-1].size} vs {base.size} patients",
        "",
        f"Median of repeated requests (Django test client, one process). Budget: time ratio ≤ "
        f"{PAGE_MAX_RATIO}×, same query count.",
        "",
        "| page | role | ms at "
        + " | ms at ".join(str(r.size) for r in results)
        + " | queries | time ratio | verdict |",
        "|---|---|" + "---|" * len(results) + "---|---|---|",
    ]
    for i, fig in enumerate(base.pages):
        row = [r.pages[i] for r in results]
        ratio = row[-1].ms / fig.ms if fig.ms else 0
        queries = " → ".join(str(f.queries) for f in row)
        flat = len({f.queries for f in row}) == 1
        lines.append(
            f"| {fig.name} | {fig.note} | "
            + " | ".join(f"{f.ms:.1f}" for f in row)
            + f" | {queries} | {ratio:.2f}× | {_ok(ratio <= PAGE_MAX_RATIO and flat)} |"
        )
    stored = [r for r in results if r.storage]
    if stored:
        lines += ["", "## Storage (PostgreSQL, after generation)", ""]
        for r in stored:
            top = ", ".join(f"{name} {mb:.1f}" for name, mb in r.storage["tables"])
            lines.append(
                f"- {r.size} patients: database {r.storage['total_mb']:.0f} MB; largest tables "
                f"(MB, with indexes): {top}"
            )
    lines += ["", "## Writes: service vs bare ORM save of the same row", ""]
    lines += ["| data size | figure | median ms | queries | × baseline | budget |"]
    lines += ["|---|---|---|---|---|---|"]
    for r in results:
        for f in r.writes:
            ratio = "" if f.ratio is None else f"{f.ratio:.2f}×"
            lines.append(
                f"| {r.size} | {f.name} | {f.ms:.2f} | {f.queries} | {ratio} | {f.note} |"
            )
    lines += ["", "## Concurrent randomizations (separate processes, one site each)", ""]
    for r in results:
        c = r.concurrency
        if not c:
            continue
        if "skipped" in c:
            lines.append(f"- {r.size} patients: skipped ({c['skipped']})")
            continue
        lines.append(
            f"- {r.size} patients: {c['processes']} processes × "
            f"{c['randomizations'] // c['processes']} randomizations: **{c['errors']} errors**, "
            f"{c['used_twice']} entries used twice, {c['strata_with_gaps']} strata with a gap; "
            f"{c['per_second']:.1f}/s concurrent vs {c['serial_per_second']:.1f}/s one after "
            f"the other in one process ({c['ratio']:.2f}×)"
            + (f"; errors: {c['error_samples']}" if c["errors"] else "")
        )
    lines += ["", "## Daily visit status job (all open visits moved 10 days ahead)", ""]
    for r in results:
        j = r.status_job
        if j:
            lines.append(
                f"- {r.size} patients: {j['changed']} visits changed in {j['seconds']:.2f} s, "
                f"{j['batches']} transactions, longest {j['longest_batch_s']:.3f} s "
                f"({j['longest_batch_s'] / j['seconds'] if j['seconds'] else 0:.0%} of the job)"
            )
    explained = [r for r in results if r.explain]
    if explained:
        r = explained[-1]
        lines += [
            "",
            f"## Indexes: EXPLAIN ANALYZE at {r.size} patients, without (dropped in a rolled-back "
            "transaction) and with the index",
            "",
            "| index | query | without: ms | plan | with: ms | plan | × faster |",
            "|---|---|---|---|---|---|---|",
        ]
        for e in r.explain:
            speed = e["before_ms"] / e["after_ms"] if e["after_ms"] else 0
            lines.append(
                f"| `{e['index']}` | {e['query']} | {e['before_ms']:.2f} | {e['before_plan']} | "
                f"{e['after_ms']:.2f} | {e['after_plan']} | {speed:.1f}× |"
            )
    http = [r for r in results if r.http]
    if http:
        lines += [
            "",
            "## HTTP throughput (gunicorn on loopback, concurrent users, no think time)",
            "",
            "| data size | users | trivial authenticated view req/s | investigator journey req/s "
            "| share | errors | verdict |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in http:
            h = r.http
            if "skipped" in h:
                lines.append(f"| {r.size} | | skipped: {h['skipped']} | | | | |")
                continue
            share = h["journey_rps"] / h["trivial_rps"] if h["trivial_rps"] else 0
            lines.append(
                f"| {r.size} | {h['users']} | {h['trivial_rps']:.0f} | {h['journey_rps']:.0f} | "
                f"{share:.0%} | {h['errors']} | "
                f"{_ok(share >= HTTP_MIN_SHARE and h['errors'] == 0)} |"
            )
        lines.append("")
        lines.append(f"Journey: {http[-1].http.get('journey', '')}")
    return "\n".join(lines) + "\n"


def measure_http_safe(**kwargs) -> dict:
    from .http import measure_http

    try:
        return measure_http(**kwargs)
    except RuntimeError as exc:
        return {"skipped": str(exc)}


class _Null:
    """A file that forgets what COPY writes to it."""

    def write(self, data) -> int:
        return len(data)


def _copy_seconds(sql: str, params=()) -> float:
    """Seconds PostgreSQL takes to COPY the rows of ``sql`` out as CSV (to nowhere)."""
    started = time.perf_counter()
    with connection.cursor() as cursor:
        query = cursor.mogrify(f"COPY ({sql}) TO STDOUT CSV", params)
        cursor.copy_expert(query.decode(), _Null())
    return time.perf_counter() - started


def _select_all(model) -> str:
    # A model's own table name, quoted: no user input reaches this SQL.
    return f"SELECT * FROM {connection.ops.quote_name(model._meta.db_table)}"  # noqa: S608


def _export_queries_copied(user, codes: list[str]) -> tuple[float | None, float | None]:
    """Seconds of PostgreSQL COPY of the exports' own queries (every dataset, whole trial):
    the rows queries (what the CSV writes) and the rows + history queries (the ODM's)."""
    from exports.dictionary import dataset_variables, datasets
    from exports.formats import ItemGroupWriter
    from exports.selectors import ExportFilter, dataset_history_queryset, dataset_values_queryset

    if connection.vendor != "postgresql":
        return None, None
    flt = ExportFilter()

    def copy(qs) -> float:
        return _copy_seconds(*qs.query.sql_with_params())

    rows_s = history_s = 0.0
    for code in codes:
        dataset = datasets()[code]
        rows_s += copy(dataset_values_queryset(user=user, dataset=dataset, flt=flt, as_text=True))
        writer = ItemGroupWriter(dataset, dataset_variables(dataset))
        history = dataset_history_queryset(
            user=user, dataset=dataset, flt=flt, fields=writer.history_fields, as_text=True
        )
        history_s += copy(history)
    return rows_s, rows_s + history_s


EXPORT_ROUNDS = 3  # timed rounds of every export and of its COPY baseline


def export_section(databases: dict[int, str]) -> str:
    """Markdown: the exports (issue 15) at each size. CSV of every dataset and one ODM file of
    all of them, as the data manager, streamed to nowhere: rows per second vs PostgreSQL
    ``COPY (SELECT *) TO STDOUT`` of the same tables (the physical floor of reading those
    rows), query counts, and the peak Python memory of the streaming (tracemalloc, a second
    pass), which should not grow with the data."""
    import tracemalloc

    from django.db import reset_queries
    from django.test.utils import CaptureQueriesContext

    from exports.dictionary import datasets
    from exports.services import export_open

    def drain(fmt: str, codes: list[str], user) -> int:
        return sum(len(c) for c in export_open(user=user, fmt=fmt, codes=codes).chunks)

    lines = [
        "## Exports: streamed CSV and ODM of every dataset vs PostgreSQL COPY of the same rows",
        "",
        "| patients | rows | CSV rows/s | ODM rows/s | COPY rows/s | CSV × COPY | ODM × COPY "
        "| CSV / ODM queries | CSV / ODM peak MB | CSV / ODM MB out | ODM × COPY with history |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    own: list[str] = []
    for size, name in databases.items():
        if name != connection.settings_dict["NAME"]:
            use_database(name)
        user = get_user_model().objects.get(username=f"{USER_PREFIX}datamanager")
        codes = list(datasets())
        rows = sum(datasets()[c].model.objects.count() for c in codes)
        # Rounds in turn (each export, then COPY of its own queries): a change in the
        # machine's load weighs on the exports and on their baselines alike; medians.
        runs: dict[str, list[float]] = {"csv": [], "odm": [], "own_csv": [], "own_odm": []}
        shape: dict[str, tuple[int, int]] = {}  # queries and bytes of each export (any round)
        for _round in range(EXPORT_ROUNDS):
            for fmt in ("csv", "odm"):
                groups = [[c] for c in codes] if fmt == "csv" else [codes]
                reset_queries()
                with CaptureQueriesContext(connection) as ctx:
                    start = time.perf_counter()
                    out = sum(drain(fmt, g, user) for g in groups)
                    runs[fmt].append(time.perf_counter() - start)
                shape[fmt] = (len(ctx.captured_queries), out)
            own_csv, own_odm = _export_queries_copied(user, codes)
            if own_csv is not None:
                runs["own_csv"].append(own_csv)
                runs["own_odm"].append(own_odm)
        figures = {fmt: (statistics.median(runs[fmt]), *shape[fmt]) for fmt in ("csv", "odm")}
        peaks = {}
        for fmt in ("csv", "odm"):
            groups = [[c] for c in codes] if fmt == "csv" else [codes]
            tracemalloc.start()
            for g in groups:
                drain(fmt, g, user)
            peaks[fmt] = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
        copy_s = trail_s = None
        if connection.vendor == "postgresql":
            dataset_models = [datasets()[c].model for c in codes]
            copy_s = sum(_copy_seconds(_select_all(m)) for m in dataset_models)
            # The ODM also reads every version: COPY of the history tables too.
            trail_s = copy_s + sum(
                _copy_seconds(_select_all(m.history.model)) for m in dataset_models
            )
        own_csv_s = statistics.median(runs["own_csv"]) if runs["own_csv"] else None
        own_odm_s = statistics.median(runs["own_odm"]) if runs["own_odm"] else None
        csv_s, csv_q, csv_out = figures["csv"]
        odm_s, odm_q, odm_out = figures["odm"]
        copy_rate = f"{rows / copy_s:,.0f}" if copy_s else "n/a (SQLite)"
        if own_csv_s:
            own.append(
                f"| {size} | {own_csv_s * 1000:.0f} | {csv_s * 1000:.0f} | "
                f"{own_csv_s / csv_s:.2f}× | {own_odm_s * 1000:.0f} | {odm_s * 1000:.0f} | "
                f"{own_odm_s / odm_s:.2f}× |"
            )
        lines.append(
            f"| {size} | {rows:,} | {rows / csv_s:,.0f} | {rows / odm_s:,.0f} | {copy_rate} | "
            + (f"{copy_s / csv_s:.2f}× | {copy_s / odm_s:.2f}× | " if copy_s else "| | ")
            + f"{csv_q} / {odm_q} | {peaks['csv']:.1f} / {peaks['odm']:.1f} | "
            f"{csv_out / 2**20:.1f} / {odm_out / 2**20:.1f} | "
            + (f"{trail_s / odm_s:.2f}× |" if trail_s else "|")
        )
    lines += [
        "",
        "× COPY is the export's share of the database's own CSV speed (1.0× = as fast as COPY). "
        "The ODM carries every version of every form (the audit trail), so it writes more than "
        "the CSV; its last column compares it with COPY of the tables and of their history "
        "tables (the rows it reads). Peak MB is Python's allocation peak while streaming: flat "
        "across sizes means constant memory.",
    ]
    if own:
        lines += [
            "",
            "### The same exports vs COPY of their own queries",
            "",
            "The physical floor of each export's own SQL: the same scoped, joined and ordered "
            "queries the exports stream (`exports.selectors.dataset_values_queryset`, and for the "
            "ODM also `dataset_history_queryset`), copied by PostgreSQL with nothing converted. "
            "The share is what the export's own work (conversion, writing, audit) leaves.",
            "",
            "| patients | COPY of the CSV's queries ms | CSV ms | CSV × | COPY of the ODM's "
            "queries ms | ODM ms | ODM × |",
            "|---|---|---|---|---|---|---|",
            *own,
        ]
    return "\n".join(lines) + "\n"
