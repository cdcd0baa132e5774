"""Every read of monitoring state, scoped to the patients the user may see (no arm here)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.http import Http404
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from trials import roles
from trials.models import FormStatus, Patient
from trials.selectors import patient_checked, patient_list

from . import services
from .models import CasebookSignature, DataQuery, Lock, SdvMark


def query_list(
    *,
    user,
    status: str = "",
    site: int | None = None,
    overdue: bool = False,
    form_code: str = "",
    patient: Patient | None = None,
) -> QuerySet[DataQuery]:
    """Queries on patients of the user's sites, oldest due first."""
    qs = DataQuery.objects.filter(patient__in=patient_list(user=user)).select_related(
        "patient__site", "visit__definition", "raised_by"
    )
    if status in DataQuery.Status.values:
        qs = qs.filter(status=status)
    if site:
        qs = qs.filter(patient__site_id=site)
    if overdue:
        qs = qs.filter(status=DataQuery.Status.OPEN, due_date__lt=timezone.localdate())
    if form_code:
        qs = qs.filter(form_code=form_code)
    if patient is not None:
        qs = qs.filter(patient=patient)
    return qs.order_by("due_date", "pk")


def query_counts_per_site(*, user) -> list[dict]:
    """Per site: open, answered, closed and overdue queries, and the open ones by age since
    raised (under 7 days, 7 to 30, over 30: the monitor's dashboard, issue 17), in one query."""
    today = timezone.localdate()
    now = timezone.now()
    still_open = Q(status=DataQuery.Status.OPEN)
    week_ago, month_ago = now - dt.timedelta(days=7), now - dt.timedelta(days=30)
    rows = (
        DataQuery.objects.filter(patient__in=patient_list(user=user))
        .values("patient__site__code", "patient__site__name")
        .annotate(
            open=Count("pk", filter=Q(status=DataQuery.Status.OPEN)),
            answered=Count("pk", filter=Q(status=DataQuery.Status.ANSWERED)),
            closed=Count("pk", filter=Q(status=DataQuery.Status.CLOSED)),
            overdue=Count("pk", filter=Q(status=DataQuery.Status.OPEN, due_date__lt=today)),
            age_week=Count("pk", filter=still_open & Q(raised_at__gt=week_ago)),
            age_month=Count(
                "pk", filter=still_open & Q(raised_at__lte=week_ago, raised_at__gt=month_ago)
            ),
            age_older=Count("pk", filter=still_open & Q(raised_at__lte=month_ago)),
        )
        .order_by("patient__site__code")
    )
    return list(rows)


def query_get(*, user, pk: int) -> DataQuery:
    query = query_list(user=user).filter(pk=pk).first()
    if query is None:
        raise Http404("No such query.")
    return query


def lock_get(*, user, pk: int) -> Lock:
    lock = (
        Lock.objects.select_related("patient__site", "visit__definition")
        .filter(pk=pk, patient__in=patient_list(user=user))
        .first()
    )
    if lock is None:
        raise Http404("No such lock.")
    return lock


def is_overdue(query: DataQuery) -> bool:
    return query.status == DataQuery.Status.OPEN and query.due_date < timezone.localdate()


@dataclass
class SignatureState:
    signature: CasebookSignature | None
    valid: bool

    @property
    def needs_resignature(self) -> bool:
        return self.signature is not None and not self.valid


def signature_state(*, user, patient: Patient) -> SignatureState:
    """The latest casebook signature and whether the data are still those it approved."""
    patient_checked(user=user, patient=patient)
    signature = CasebookSignature.objects.filter(patient=patient).first()
    valid = signature is not None and signature.data_hash == services.casebook_hash(patient)
    return SignatureState(signature, valid)


@dataclass
class PatientMonitoring:
    patient: Patient
    queries: list[DataQuery]
    locks: list[Lock]
    sdv: list[SdvMark]
    signature: SignatureState
    records: list[tuple[str, str, int]]  # (form code, label, record id) for the forms below
    visits: list = field(default_factory=list)


def patient_monitoring(*, user, patient: Patient) -> PatientMonitoring:
    """Queries, locks, SDV marks, signature and the patient's form records (bounded)."""
    from crf.models import Visit
    from crf.registry import FORMS

    patient_checked(user=user, patient=patient)
    records = []
    for code, spec in FORMS.items():
        qs = spec.model.objects.filter(patient=patient)
        if spec.per_visit:
            for pk, name in qs.values_list("pk", "visit__definition__name"):
                records.append((code, f"{spec.label} — {name}", pk))
        else:
            records += [(code, spec.label, pk) for pk in qs.values_list("pk", flat=True)]
    return PatientMonitoring(
        patient=patient,
        queries=list(query_list(user=user, patient=patient)),
        locks=list(
            Lock.objects.filter(patient=patient)
            .select_related("visit__definition", "locked_by", "unlocked_by")
            .order_by("-locked_at")
        ),
        sdv=list(
            SdvMark.objects.filter(patient=patient)
            .select_related("verified_by")
            .order_by("-verified_at")
        ),
        signature=signature_state(user=user, patient=patient),
        records=records,
        visits=list(
            Visit.objects.filter(patient=patient)
            .select_related("definition")
            .order_by("target_date", "pk")
        ),
    )


def crf_context(*, user, spec, patient: Patient, visit=None, instance=None) -> dict:
    """What the CRF page shows per field: history link, open queries, SDV marks, the lock."""
    record_id = getattr(instance, "pk", None)
    lock = services.active_lock(
        patient_id=patient.pk,
        visit_id=getattr(visit, "pk", None),
        form_code=spec.code,
        record_id=record_id,
    )
    context = {
        "locked": services.locked_message(lock) if lock else "",
        "history_url": "",
        "queries": {},
        "sdv": {},
        "form_sdv": None,
        "form_queries": [],
        "may_raise": services.may_raise_query(user, patient),
        "may_verify": services.may_verify(user, patient),
        "form_code": spec.code,
        "record_id": record_id,
        "patient_pk": patient.pk,
        "visit_pk": getattr(visit, "pk", None),
    }
    if record_id is None:
        return context
    context["history_url"] = reverse("trials:patient-history", args=[patient.pk]) + (
        f"?form={spec.model._meta.label_lower}&record={record_id}"
    )
    for query in DataQuery.objects.filter(form_code=spec.code, record_id=record_id).exclude(
        status=DataQuery.Status.CLOSED
    ):
        if query.field:
            context["queries"].setdefault(query.field, []).append(query)
        else:
            context["form_queries"].append(query)
    for mark in SdvMark.objects.filter(form_code=spec.code, record_id=record_id).order_by(
        "verified_at"
    ):
        # The latest mark per item: verified, or cleared with the reason.
        if mark.field:
            context["sdv"][mark.field] = mark
        else:
            context["form_sdv"] = mark
    return context


def patient_panel_context(*, user, patient: Patient) -> dict | None:
    """The patient page's monitoring panel (trials.views.PANEL_APPS)."""
    if not roles.user_roles(user):
        return None
    open_queries = query_list(user=user, patient=patient).exclude(status=DataQuery.Status.CLOSED)
    return {
        "patient": patient,
        "open_queries": open_queries.count(),
        "signature": signature_state(user=user, patient=patient),
        "locked": Lock.objects.filter(
            patient=patient, level=Lock.Level.PATIENT, unlocked_at__isnull=True
        ).exists(),
    }


def dashboard_panel_context(*, user) -> dict | None:
    """Per role: monitors see the queries they wait on, data managers also the locks, site
    staff the queries they must answer (trials.views.PANEL_APPS)."""
    monitors = roles.has_role(user, roles.Role.MONITOR, roles.Role.DATA_MANAGER)
    answers = bool(roles.user_roles(user) & roles.DATA_ENTRY_ROLES)
    if not (monitors or answers):
        return None
    queries = query_list(user=user)
    if monitors:
        title = _("Data queries to follow up")
        waiting = queries.filter(status=DataQuery.Status.ANSWERED)
        waiting_label = _("answered, to close or re-open")
    else:
        title = _("Data queries to answer")
        waiting = queries.filter(status=DataQuery.Status.OPEN)
        waiting_label = _("open, to answer")
    sdv = forms_awaiting_sdv(user=user) if roles.has_role(user, roles.Role.MONITOR) else None
    return {
        "title": title,
        "sdv": sdv[0] if sdv else None,
        "sdv_count": sdv[1] if sdv else 0,
        "waiting_label": waiting_label,
        "waiting": list(waiting[:10]),
        "counts": query_counts_per_site(user=user),
        "by_age": monitors,
        "active_locks": (
            Lock.objects.filter(
                unlocked_at__isnull=True, patient__in=patient_list(user=user)
            ).count()
            if roles.has_role(user, roles.Role.DATA_MANAGER)
            else None
        ),
    }


SDV_LIST_LIMIT = 10  # the monitor's dashboard: the forms waiting longest; the count says all


def forms_awaiting_sdv(*, user, limit: int | None = None) -> tuple[list[dict], int]:
    """Complete visit eCRFs at the user's sites with no active whole-form SDV mark, the
    longest waiting first (issue 17: the monitor's dashboard), and how many in all."""
    from crf.selectors import visit_forms_listed

    def unverified(code: str, qs: QuerySet) -> QuerySet:
        verified = SdvMark.objects.filter(
            form_code=code, record_id=OuterRef("pk"), field="", cleared_at__isnull=True
        )
        return qs.filter(~Exists(verified))

    return visit_forms_listed(
        user=user,
        status=FormStatus.COMPLETE,
        newest_first=False,
        limit=limit or SDV_LIST_LIMIT,
        narrow=unverified,
    )
