"""The trial overview: the live CONSORT flow and recruitment against the target (issue 17).

Here, above ``trials``, ``crf`` and ``randomization``, because the flow spans all three:
patients and screen failures (trials), doses and follow-up visits (crf) and, for the
unblinded statistician only, the counts by arm from randomization's guarded batch reader.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from crf.selectors import DOSE_CODES, consort_visit_stages
from randomization.selectors import consort_counts_by_arm, randomization_dates
from trials import eligibility
from trials.charts import FlowBox, flow_diagram_svg, line_chart_svg
from trials.models import PatientStatus
from trials.selectors import patient_list, site_list

ENDINGS = (
    (PatientStatus.WITHDRAWN, "Withdrawn"),
    (PatientStatus.DIED, "Died"),
    (PatientStatus.TRANSPLANTED, "Transplanted"),
    (PatientStatus.LOST_TO_FOLLOW_UP, "Lost to follow-up"),
)


@dataclass(frozen=True)
class ConsortFlow:
    registered: int
    in_screening: int
    excluded: int
    excluded_by: list[tuple[str, str, int]]  # (code, criterion text, patients)
    stage_rows: list[tuple[str, str]]  # (stage key, label) after randomization
    pooled: dict[str, int]
    by_arm: list[tuple[str, dict[str, int]]] | None  # unblinded statistician only
    svg: str


def consort_flow(*, user) -> ConsortFlow:
    """The live CONSORT flow of the patients ``user`` may see (bounded number of queries):
    registered -> excluded by criterion -> randomized -> each dose -> each follow-up ->
    withdrawn / died / transplanted / lost. Pooled for everyone; by arm only for the
    unblinded statistician, through randomization's guarded batch reader."""
    rows = list(
        patient_list(user=user).order_by().values_list("pk", "status", "screen_failure_reasons")
    )
    not_randomized = {PatientStatus.SCREENING, PatientStatus.SCREEN_FAILED}
    randomized = {pk for pk, status, _ in rows if status not in not_randomized}
    failed = [
        reasons or [] for _, status, reasons in rows if status == PatientStatus.SCREEN_FAILED
    ]
    by_code = Counter(code for reasons in failed for code in reasons)
    labels = eligibility.criterion_labels()
    stages: dict[str, set[int]] = {"randomized": randomized}
    stages.update(consort_visit_stages(patient_ids=randomized))
    for status, _ in ENDINGS:
        stages[status] = {pk for pk, s, _ in rows if s == status}
    stage_rows = [
        ("randomized", "Randomized"),
        *[(code, f"Received dose {code[-1]}") for code in DOSE_CODES],
        ("fu_d28", "Completed 28-day follow-up"),
        ("fu_m3", "Completed 3-month follow-up"),
        ("fu_m12", "Completed 12-month follow-up"),
        *[(str(status), label) for status, label in ENDINGS],
    ]
    pooled = {key: len(stages[key]) for key, _ in stage_rows}
    by_arm = consort_counts_by_arm(user=user, stages=stages)
    flow = ConsortFlow(
        registered=len(rows),
        in_screening=sum(1 for _, s, _ in rows if s == PatientStatus.SCREENING),
        excluded=len(failed),
        excluded_by=[(c, labels.get(c, ""), n) for c, n in sorted(by_code.items())],
        stage_rows=stage_rows,
        pooled=pooled,
        by_arm=by_arm,
        svg="",
    )

    def after_randomization(counts: dict[str, int], first: str) -> list[FlowBox]:
        return [
            FlowBox((first,)),
            FlowBox(("Dosing", *[f"Received dose {c[-1]}: {counts[c]}" for c in DOSE_CODES])),
            FlowBox(
                (
                    "Follow-up completed",
                    f"28 days: {counts['fu_d28']}",
                    f"3 months: {counts['fu_m3']}",
                    f"12 months: {counts['fu_m12']}",
                )
            ),
            FlowBox(("Ended early", *[f"{label}: {counts[str(s)]}" for s, label in ENDINGS])),
        ]

    screening_box = FlowBox(
        (f"Registered for screening: {flow.registered}",),
        side=(
            f"Excluded (screen failure): {flow.excluded}",
            *[f"{code} {text[:30]}: {n}" for code, text, n in flow.excluded_by],
            f"Still in screening: {flow.in_screening}",
        ),
    )
    columns = [
        (
            "All patients (pooled)",
            [screening_box, *after_randomization(pooled, f"Randomized: {pooled['randomized']}")],
        )
    ]
    for label, counts in by_arm or []:
        columns.append(
            (
                label,
                [FlowBox(()), *after_randomization(counts, f"Allocated: {counts['randomized']}")],
            )
        )
    svg = flow_diagram_svg(title="CONSORT flow diagram (live)", columns=columns)
    return ConsortFlow(**{**flow.__dict__, "svg": svg})


def recruitment(*, user) -> dict:
    """Randomized patients per month, cumulative, against the trial's target (blinded)."""
    trial = site_list(user=user).values_list("trial__target_size", flat=True).first()
    ids = patient_list(user=user).values_list("pk", flat=True)
    dates = randomization_dates(user=user, patient_ids=ids)
    months: list[str] = []
    cumulative: list[float | None] = []
    total = 0
    if dates:
        y, m = dates[0].year, dates[0].month
        last = (dates[-1].year, dates[-1].month)
        while (y, m) <= last:
            total += sum(1 for d in dates if (d.year, d.month) == (y, m))
            months.append(f"{y}-{m:02d}")
            cumulative.append(float(total))
            y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    target = float(trial) if trial else None
    svg = line_chart_svg(
        title="Randomized patients (cumulative) against the target",
        labels=months or ["—"],
        series=[("Randomized", cumulative or [None])],
        y_min=0,
        target=("target", target) if target else None,
        width=520,
        height=220,
        chart_id="recruitment",
    )
    return {"months": list(zip(months, cumulative, strict=True)), "target": trial, "svg": svg}
