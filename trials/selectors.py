"""Every read of trials data that leaves the app, scoped to what ``user`` may see."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.db.models import Count, IntegerField, Q, QuerySet, Value
from django.http import Http404

from . import eligibility, history, roles
from .charts import line_chart_svg
from .models import (
    Patient,
    PatientStatus,
    RoleGrantRequest,
    ScoreRecord,
    Screening,
    Site,
    Trial,
)


def site_list(*, user) -> QuerySet[Site]:
    ids = roles.user_site_ids(user)
    qs = Site.objects.select_related("trial").order_by("code")
    return qs if ids is None else qs.filter(pk__in=ids)


def trial_list(*, user) -> QuerySet[Trial]:
    """The trials of the sites the user may see (issue 15's API)."""
    return Trial.objects.filter(pk__in=site_list(user=user).values("trial_id")).order_by("code")


def site_list_for_data_entry(*, user) -> QuerySet[Site]:
    """The sites where the user may register and screen patients. Data entry needs site
    membership, so the candidates are the member sites (cached on the user): no query to
    build it (#16: the dashboard read the site list twice for this)."""
    members = roles.member_site_ids(user) if roles.user_roles(user) else frozenset()
    entry = sorted(pk for pk in members if roles.can_enter_data(user, pk))
    return site_list(user=user).filter(pk__in=entry)


# Screening numbers start with the site code ("S01-0007"): this is site order, read from the
# index on the number instead of a sort of every patient joined to its site (#16).
PATIENT_ORDER = ("screening_number", "pk")


def patient_list(
    *, user, q: str = "", site: int | None = None, status: str = ""
) -> QuerySet[Patient]:
    """Patients at the sites the user may see (none for a user without a role)."""
    ids = roles.user_site_ids(user)
    qs = Patient.objects.select_related("site", "trial").order_by(*PATIENT_ORDER)
    if ids is not None:
        qs = qs.filter(site_id__in=ids)
    if q:
        qs = patients_matching(qs, q)
    if site:
        qs = qs.filter(site_id=site)
    if status:
        qs = qs.filter(status=status)
    return qs


def patients_matching(qs: QuerySet[Patient], q: str) -> QuerySet[Patient]:
    """The search of the patient lists: screening number or subject id contains, initials."""
    if not q:
        return qs
    return qs.filter(
        Q(screening_number__icontains=q) | Q(subject_id__icontains=q) | Q(initials__iexact=q)
    )


def patient_get(*, user, pk: int, for_entry: bool = False) -> Patient:
    """THE access helper: one patient, or 404 when it does not exist *or* the user may not
    see it (the same answer, no leak). ``for_entry``: the user must also enter data at its
    site (403 for a reader who may see it: monitors, data managers, pharmacists).

    Every view and API gets its patient here; selectors take the patient it returns and
    check its site scope without reading it again (``patient_checked``).
    """
    try:
        patient = patient_list(user=user).get(pk=pk)
    except (Patient.DoesNotExist, ValueError, TypeError):
        raise Http404("No such patient.") from None
    if for_entry and not roles.can_enter_data(user, patient.site_id):
        raise PermissionDenied("Only the site's investigators enter data.")
    return patient


def patient_checked(*, user, patient: Patient) -> Patient:
    """``patient`` when the user may see it, else 404: the scope of ``patient_list`` checked on
    a row the caller already read (``patient_get``, or a visit's patient), without reading it
    again (the patient page read the same row seven times). An unsaved or partial object (no
    site) is looked up as ``patient_get`` does. Lets each selector guard itself for free."""
    if patient.pk is None or patient.site_id is None:
        return patient_get(user=user, pk=patient.pk)
    ids = roles.user_site_ids(user)
    if ids is not None and patient.site_id not in ids:
        raise Http404("No such patient.")
    return patient


def screening_get(*, user, patient: Patient) -> Screening | None:
    patient = patient_checked(user=user, patient=patient)
    screening = Screening.objects.filter(patient=patient).first()
    if screening is not None:
        screening.patient = patient  # the row already read (its assessment needs it, #16)
    return screening


def screening_assessment(*, screening: Screening) -> eligibility.Assessment:
    """The criterion-by-criterion eligibility of a saved screening."""
    patient = screening.patient
    return eligibility.assess(
        s=screening,
        birth_date=patient.birth_date,
        sex=patient.sex,
        consent_datetime=patient.consent_datetime,
        aclf_grade=screening.aclf_grade,
        min_age=patient.trial.min_age,
        max_age=patient.trial.max_age,
    )


def screening_log(*, user, site: int | None = None) -> QuerySet[Patient]:
    """Every screened patient with outcome and reason codes; nothing is ever deleted."""
    return patient_list(user=user, site=site).select_related("screening")


def score_record_list(*, user, patient: Patient) -> QuerySet[ScoreRecord]:
    """The patient's stored scores in time order (trajectory)."""
    patient_checked(user=user, patient=patient)
    return ScoreRecord.objects.filter(patient=patient).order_by("assessed_on", "pk")


def status_counts(*, user) -> list[tuple[str, str, int]]:
    """(status, label, number of patients) for every status, in protocol order."""
    rows = patient_list(user=user).order_by().values("status").annotate(n=Count("pk"))
    counts = {row["status"]: row["n"] for row in rows}
    return [(value, label, counts.get(value, 0)) for value, label in PatientStatus.choices]


def patient_history(
    *, user, patient: Patient, filters: history.Filters | None = None
) -> list[history.AuditEntry]:
    """Every audited change of the patient's records, newest first (bounded queries per model).

    The allocation's trail is left out unless the user may see this patient's arm.
    """
    filters = filters or history.Filters()
    pairs = [
        (source, history.with_previous(qs))
        for source, qs in _patient_history_querysets(user=user, patient=patient, filters=filters)
    ]
    return history.entries(pairs, field_name=filters.field)


def _patient_history_querysets(
    *, user, patient: Patient, filters: history.Filters
) -> list[tuple[history.AuditSource, QuerySet]]:
    """The filtered history of each trail of the patient this user may read (site scope
    checked; the allocation's trail only for those who may see this patient's arm)."""
    patient_checked(user=user, patient=patient)
    found = []
    for source in history.sources_for(user=user, patient=patient):
        qs = history.history_queryset(source, filters)
        if qs is not None:
            found.append((source, history.patient_filter(source, qs, patient.pk)))
    return found


def may_read_audit_log(user) -> bool:
    """The trial-wide audit log is for those who audit the trial: monitors and data managers."""
    return getattr(user, "is_superuser", False) or roles.has_role(
        user, roles.Role.MONITOR, roles.Role.DATA_MANAGER
    )


@dataclass
class AuditLogPage:
    entries: list[history.AuditEntry]
    number: int
    per_page: int
    total: int
    patients: dict[int, Patient]

    @property
    def has_next(self) -> bool:
        return self.number * self.per_page < self.total

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def num_pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def _history_page(
    querysets: list[tuple[history.AuditSource, QuerySet]],
    *,
    page: int,
    per_page: int,
    field_name: str,
    small: bool = False,
) -> tuple[list[history.AuditEntry], int, int]:
    """(entries, page number, total) of one page of several sources' history, newest first.

    Queries stay bounded on a large trail: per source, a count and the keys (time, version
    id) of the newest ``page * per_page`` rows; then only the page's rows and their previous
    versions are read in full, and one query per related model. ``small`` (one patient's
    trail): every key of every source in one ``UNION ALL``, whose length is the count. A field
    filter narrows the changes shown, not the paging.
    """
    ordered = [
        (
            source,
            qs.order_by("-history_date", "-history_id").values_list("history_date", "history_id"),
        )
        for source, qs in querysets
    ]
    if small:
        # One UNION ALL of every source's keys, tagged with the source's index.
        tagged = [
            qs.order_by()
            .annotate(source_index=Value(index, output_field=IntegerField()))
            .values_list("history_date", "history_id", "source_index")
            for index, (_source, qs) in enumerate(querysets)
        ]
        all_keys: list[list] = [[] for _ in querysets]
        if tagged:
            for when, history_id, index in tagged[0].union(*tagged[1:], all=True):
                all_keys[index].append((when, history_id))
        for source_keys in all_keys:
            source_keys.sort(reverse=True)
        counts = [len(keys) for keys in all_keys]
    else:
        counts = [qs.count() for _source, qs in querysets]
    total = sum(counts)
    page = min(max(1, page), max(1, -(-total // per_page)))  # never past the last page
    take = page * per_page
    # The newest ``take`` keys per source, merged; then only the page's rows are read in
    # full, so a deep page costs little more than the first.
    keys = [
        (history.sort_time(source, when), history_id, index)
        for index, (source, source_keys) in enumerate(ordered)
        if counts[index]
        for when, history_id in (all_keys[index] if small else source_keys)[:take]
    ]
    keys.sort(key=lambda k: (k[0], k[1]), reverse=True)
    wanted: dict[int, list[int]] = {}
    for _when, history_id, index in keys[(page - 1) * per_page : take]:
        wanted.setdefault(index, []).append(history_id)
    pairs = [
        (querysets[i][0], history.with_previous(querysets[i][1].filter(history_id__in=ids)))
        for i, ids in wanted.items()
    ]
    return history.entries(pairs, field_name=field_name), page, total


def patient_history_page(
    *,
    user,
    patient: Patient,
    filters: history.Filters | None = None,
    page: int = 1,
    per_page: int = 50,
) -> AuditLogPage:
    """One page of the patient's audit trail, newest first: only that page's versions are
    read in full (a patient edited ~200 times rendered 1.3 MB and read every version, #16).

    The allocation's trail is left out unless the user may see this patient's arm.
    """
    filters = filters or history.Filters()
    querysets = _patient_history_querysets(user=user, patient=patient, filters=filters)
    found, page, total = _history_page(
        querysets, page=page, per_page=per_page, field_name=filters.field, small=True
    )
    return AuditLogPage(found, page, per_page, total, {patient.pk: patient})


def audit_log(
    *, user, filters: history.Filters | None = None, page: int = 1, per_page: int = 50
) -> AuditLogPage:
    """One page of the trial-wide trail (patients of the user's sites), newest first, in
    bounded queries (``_history_page``)."""
    if not may_read_audit_log(user):
        raise PermissionDenied
    filters = filters or history.Filters()
    site_ids = roles.user_site_ids(user)
    querysets = []
    for source in history.sources_for(user=user):
        qs = history.history_queryset(source, filters)
        if qs is None:
            continue
        if site_ids is not None:
            qs = history.site_filter(source, qs, site_ids)
        querysets.append((source, qs))
    found, page, total = _history_page(
        querysets, page=page, per_page=per_page, field_name=filters.field
    )
    ids = {e.patient_id for e in found if e.patient_id}
    patients = Patient.objects.select_related("site").in_bulk(ids)
    return AuditLogPage(found, page, per_page, total, patients)


ON_STUDY_STATUSES = (PatientStatus.SCREENING, PatientStatus.RANDOMIZED, PatientStatus.IN_FOLLOW_UP)


def role_grant_requests(*, user) -> QuerySet[RoleGrantRequest]:
    """Role requests for those who make or decide them (trial admin, statistician, superuser)."""
    if not (roles.can_manage_users(user) or roles.can_approve_unblinded_grants(user)):
        return RoleGrantRequest.objects.none()
    return RoleGrantRequest.objects.select_related("user", "requested_by", "decided_by")


def score_gaps_query(*, user) -> QuerySet[ScoreRecord]:
    """Score records of on-study patients missing a primary score (CLIF-SOFA or CLIF-C ACLF
    where it applies), newest first (partial index ``score_record_gap_recent``, #16)."""
    ids = roles.user_site_ids(user)
    qs = (
        ScoreRecord.objects.filter(Q(clif_sofa__isnull=True) | Q(clif_c_aclf__isnull=True))
        # CLIF-C ACLF does not apply without ACLF (scoring.clif_c_aclf: applicable is False
        # exactly when the grade is "no_aclf"): the typed grade column says it (#16).
        .exclude(aclf_grade="no_aclf", clif_sofa__isnull=False)
        .filter(patient__status__in=ON_STUDY_STATUSES)
        .select_related("patient")
        .order_by("-assessed_on", "-id")
    )
    if ids is not None:
        qs = qs.filter(patient__site_id__in=ids)
    return qs


def score_gaps(*, user, limit: int = 25) -> list[ScoreRecord]:
    """The most recent score gaps for the site's worklist: each says which inputs lacked."""
    return list(score_gaps_query(user=user)[:limit])


# --- issue 17: score trajectories, CONSORT flow, recruitment ---------------------------------

TRAJECTORY_SCORES = (
    ("clif_sofa", "CLIF-SOFA", 0, 24),
    ("clif_c_aclf", "CLIF-C ACLF", None, None),
    ("meld", "MELD", None, None),
    ("child_pugh_score", "Child-Pugh", 5, 15),
)


def _short_visit_label(label: str) -> str:
    """'Dose 1 (day 1)' -> 'D1', 'Follow-up 28 days' -> '28 d': x-axis labels that fit."""
    if label.lower().startswith("screening"):
        return "Scr"
    if m := re.match(r"Dose (\d+)", label):
        return f"D{m.group(1)}"
    if m := re.match(r"Follow-up (\d+) (day|month)", label):
        return f"{m.group(1)} {m.group(2)[0]}"
    return label[:8]


def score_trajectory_charts(*, scores) -> list[dict]:
    """One SVG line chart per primary score over the patient's visits (no query: the
    stored scores are passed in). Values are labelled at each marker; the table on the page
    is the text alternative."""
    scores = list(scores)
    if not scores:
        return []
    labels = [_short_visit_label(s.label) for s in scores]
    charts = []
    for attr, title, lo, hi in TRAJECTORY_SCORES:
        values = [
            float(getattr(s, attr)) if getattr(s, attr) is not None else None for s in scores
        ]
        charts.append(
            {
                "title": title,
                "svg": line_chart_svg(
                    title=title,
                    labels=labels,
                    series=[(title, values)],
                    y_min=lo,
                    y_max=hi,
                    chart_id=f"chart-{attr}",
                ),
            }
        )
    return charts


def screening_in_progress(*, user, limit: int = 10) -> list[Patient]:
    """The investigator's worklist: patients still in screening at the sites they enter data."""
    return list(
        patient_list(user=user)
        .filter(status=PatientStatus.SCREENING, site__in=site_list_for_data_entry(user=user))
        .order_by("created_at")[:limit]
    )


def recruitment_by_site(*, user) -> list[dict]:
    """Registered, screen-failed and randomized patients per site (one grouped query)."""
    not_randomized = [PatientStatus.SCREENING, PatientStatus.SCREEN_FAILED]
    return list(
        patient_list(user=user)
        .order_by()
        .values("site__code", "site__name")
        .annotate(
            registered=Count("pk"),
            screen_failed=Count("pk", filter=Q(status=PatientStatus.SCREEN_FAILED)),
            randomized=Count("pk", filter=~Q(status__in=not_randomized)),
        )
        .order_by("site__code")
    )
