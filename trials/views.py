"""HTML views for patients and screening: parse, call one service/selector, render."""

from __future__ import annotations

import csv
import re

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from . import idempotency, panels, roles, selectors, services
from .audit import REASON_FIELD
from .concurrency import VERSION_FIELD, StaleEdit
from .filters import PatientFilter
from .forms import (
    AuditFilterForm,
    IdentityCorrectionForm,
    PatientCreateForm,
    RoleGrantDecisionForm,
    ScoreCalculatorForm,
    ScreeningForm,
    apply_validation_error,
    show_stale_edit,
)
from .idempotency import page_once
from .limits import OutOfRangeWarning
from .models import PatientStatus
from .paging import keyset_page

PATIENT_PAGE_SIZE = 25
SCREENING_LOG_PAGE_SIZE = 50


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    user = request.user
    entry_sites = selectors.site_list_for_data_entry(user=user)
    context = {
        # Quick action (issue 17): registration from the dashboard, one page load less.
        "register_form": PatientCreateForm(sites=entry_sites) if entry_sites.exists() else None,
        "form_token": idempotency.form_token(request),
        "counts": selectors.status_counts(user=user),
        "sites": list(selectors.site_list(user=user)),  # shown twice: read once
        "recent": selectors.patient_list(user=user).order_by("-created_at")[:10],
        "role_set": {r.value for r in roles.user_roles(user)},
        "panels": panels.render_context("dashboard", user=user),
        # issue 17: what each role starts from.
        "screening_open": selectors.screening_in_progress(user=user),
        "by_site": selectors.recruitment_by_site(user=user)
        if roles.has_role(user, roles.Role.MONITOR, roles.Role.DATA_MANAGER)
        else None,
    }
    return render(request, "trials/dashboard.html", context)


@login_required
def patient_list(request: HttpRequest) -> HttpResponse:
    # The same FilterSet as the API; an invalid filter value is ignored here (shown unfiltered).
    filters = PatientFilter(request.GET, queryset=selectors.patient_list(user=request.user))
    # Keyset pages in the order of index ``patient_screening_number`` (#16): the last page
    # costs what the first does; the count is a scan of the narrow patient index.
    page = keyset_page(
        request,
        filters.qs,
        ordering=selectors.PATIENT_ORDER,
        page_size=PATIENT_PAGE_SIZE,
        count=True,
    )
    return render(
        request,
        "trials/patient_list.html",
        {
            "page": page,
            "sites": selectors.site_list(user=request.user),
            "statuses": PatientStatus.choices,
            "params": request.GET,
            "can_create": selectors.site_list_for_data_entry(user=request.user).exists(),
        },
    )


@login_required
def patient_create(request: HttpRequest) -> HttpResponse:
    allowed = selectors.site_list_for_data_entry(user=request.user)
    if not allowed.exists():
        raise PermissionDenied
    form = PatientCreateForm(request.POST or None, sites=allowed)
    if request.method == "POST" and form.is_valid():

        def create() -> str:
            patient = services.patient_create(user=request.user, **form.cleaned_data)
            messages.success(
                request,
                _("Patient %(number)s registered.") % {"number": patient.screening_number},
            )
            return reverse("trials:screening-edit", kwargs={"pk": patient.pk})

        try:
            url, replayed = page_once(request, create)  # once per form token
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            if replayed:
                messages.info(request, _("This patient was already registered: sent twice."))
            return redirect(url)
    return render(
        request,
        "trials/patient_create.html",
        {"form": form, "form_token": idempotency.form_token(request)},
    )


@login_required
def patient_detail(request: HttpRequest, pk: int) -> HttpResponse:
    patient = selectors.patient_get(user=request.user, pk=pk)
    screening = selectors.screening_get(user=request.user, patient=patient)
    scores = list(selectors.score_record_list(user=request.user, patient=patient))
    return render(
        request,
        "trials/patient_detail.html",
        {
            "patient": patient,
            "screening": screening,
            "assessment": selectors.screening_assessment(screening=screening)
            if screening
            else None,
            "scores": scores,
            "score_charts": selectors.score_trajectory_charts(scores=scores),
            "can_enter_data": roles.can_enter_data(request.user, patient.site_id),
            "panels": panels.render_context("patient", user=request.user, patient=patient),
        },
    )


@login_required
def screening_edit(request: HttpRequest, pk: int) -> HttpResponse:
    patient = selectors.patient_get(user=request.user, pk=pk, for_entry=True)
    screening = selectors.screening_get(user=request.user, patient=patient)
    form = ScreeningForm(request.POST or None, instance=screening, patient=patient)
    if request.method == "POST" and form.is_valid():
        try:
            screening = services.screening_save(
                user=request.user,
                patient=patient,
                data=form.data_for_service(),
                complete="complete" in request.POST,
                reason=form.cleaned_data.get(REASON_FIELD, ""),
                confirm_out_of_range=form.cleaned_data["confirm_out_of_range"],
                expected_version=form.cleaned_data.get(VERSION_FIELD),
            )
        except StaleEdit as exc:
            show_stale_edit(form, exc)
        except OutOfRangeWarning as warning:
            form.warnings = warning.warnings
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, _("Screening saved."))
            if "complete" in request.POST:
                # Eligible and complete: straight on to randomization (its page confirms).
                url = panels.after_screening_url(user=request.user, patient=patient)
                if url:
                    return redirect(url)
            return redirect("trials:patient-detail", pk=patient.pk)
    return render(
        request,
        "trials/screening_edit.html",
        {
            "patient": patient,
            "form": form,
            "screening": screening,
            "assessment": selectors.screening_assessment(screening=screening)
            if screening
            else None,
        },
    )


@login_required
def patient_identity_correct(request: HttpRequest, pk: int) -> HttpResponse:
    patient = selectors.patient_get(user=request.user, pk=pk, for_entry=True)
    # An unsaved copy: the form must not change the patient object before the service runs.
    form = IdentityCorrectionForm(
        request.POST or None, instance=selectors.patient_get(user=request.user, pk=pk)
    )
    if request.method == "POST" and form.is_valid():
        data = {k: v for k, v in form.cleaned_data.items() if k != "reason"}
        try:
            services.patient_identity_correct(
                user=request.user, patient=patient, data=data, reason=form.cleaned_data["reason"]
            )
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(
                request, "Record corrected; eligibility and every stored score were re-derived."
            )
            return redirect("trials:patient-detail", pk=patient.pk)
    return render(request, "trials/patient_identity.html", {"patient": patient, "form": form})


@login_required
@require_POST
def screening_preview(request: HttpRequest, pk: int) -> JsonResponse:
    """The grade, its organ basis and open criteria for the values typed so far (not saved)."""
    patient = selectors.patient_get(user=request.user, pk=pk, for_entry=True)
    form = ScreeningForm(
        request.POST, instance=selectors.screening_get(user=request.user, patient=patient)
    )
    form.is_valid()  # a half-typed form still previews what can be computed
    data = {k: v for k, v in form.cleaned_data.items() if k in services.SCREENING_INPUT_FIELDS}
    try:
        preview = services.screening_preview(patient=patient, data=data)
    except ValidationError as exc:
        return JsonResponse({"errors": exc.message_dict if hasattr(exc, "error_dict") else {}})
    return JsonResponse(preview)


@login_required
def screening_log(request: HttpRequest) -> HttpResponse:
    rows = selectors.screening_log(user=request.user)
    if request.GET.get("format") == "csv":
        response = HttpResponse(content_type="text/csv")
        response["Content-Disposition"] = 'attachment; filename="screening_log.csv"'
        writer = csv.writer(response)
        writer.writerow(["screening_number", "site", "screening_date", "status", "reasons"])
        for p in rows:
            screening = getattr(p, "screening", None)
            writer.writerow(
                [
                    p.screening_number,
                    p.site.code,
                    screening.screening_date if screening else "",
                    p.status,
                    " ".join(p.screen_failure_reasons),
                ]
            )
        return response
    page = keyset_page(
        request,
        rows,
        ordering=selectors.PATIENT_ORDER,
        page_size=SCREENING_LOG_PAGE_SIZE,
        count=True,
    )
    return render(request, "trials/screening_log.html", {"page": page})


AUDIT_CSV_LIMIT = 10_000  # entries per download of the trial-wide log (narrow by filters)


def _audit_csv(request: HttpRequest, entries, *, name: str, patients: dict | None = None):
    """One row per changed field; the download itself is an access event (who, what, when)."""
    from .models import AccessEvent

    response = HttpResponse(content_type="text/csv; charset=utf-8")
    safe = re.sub(r"[^A-Za-z0-9_-]", "_", name)
    response["Content-Disposition"] = f'attachment; filename="{safe}.csv"'
    writer = csv.writer(response)
    writer.writerow(
        ["when", "user", "role", "patient", "record", "action", "field", "old", "new", "reason"]
    )
    for e in entries:
        when = e.when.date().isoformat() if e.date_only else e.when.isoformat()
        patient = (patients or {}).get(e.patient_id) if patients is not None else None
        for c in e.changes or [None]:
            writer.writerow(
                [
                    when,
                    e.user,
                    e.role,
                    str(patient) if patient else "",
                    e.object_label,
                    e.action,
                    c.label if c else "",
                    c.old if c else "",
                    c.new if c else "",
                    e.reason,
                ]
            )
    services.access_event_record(
        action=AccessEvent.Action.AUDIT_TRAIL_EXPORTED,
        actor=request.user,
        detail=f"{name}; filters: {request.GET.urlencode()}"[:1000],
    )
    return response


AUDIT_PAGE_SIZE = 50


def _page_number(request: HttpRequest) -> int:
    raw = request.GET.get("page", "1")
    return int(raw) if raw.isdigit() and len(raw) < 7 else 1


def _query_without_page(request: HttpRequest) -> str:
    """The filters of the request, for the pager's links to carry."""
    params = request.GET.copy()
    params.pop("page", None)
    return params.urlencode()


@login_required
def patient_history(request: HttpRequest, pk: int) -> HttpResponse:
    patient = selectors.patient_get(user=request.user, pk=pk)
    form = AuditFilterForm(request.GET or None, user=request.user, patient=patient)
    filters = form.filters() if request.GET else None
    if request.GET.get("format") == "csv":
        entries = selectors.patient_history(user=request.user, patient=patient, filters=filters)
        return _audit_csv(request, entries, name=f"audit_trail_{patient}")
    # Paged in the database (#16): a patient edited ~200 times rendered a 1.3 MB page.
    page = selectors.patient_history_page(
        user=request.user,
        patient=patient,
        filters=filters,
        page=_page_number(request),
        per_page=AUDIT_PAGE_SIZE,
    )
    return render(
        request,
        "trials/patient_history.html",
        {
            "patient": patient,
            "entries": page.entries,
            "page": page,
            "filter_form": form,
            "params": request.GET,
            "query": _query_without_page(request),
        },
    )


@login_required
def audit_log(request: HttpRequest) -> HttpResponse:
    """The trial-wide audit trail for monitors and data managers, paginated."""
    form = AuditFilterForm(request.GET or None, user=request.user)
    page = selectors.audit_log(
        user=request.user,
        filters=form.filters() if request.GET else None,
        page=_page_number(request),
    )
    if request.GET.get("format") == "csv":
        everything = selectors.audit_log(
            user=request.user,
            filters=form.filters(),
            page=1,
            per_page=AUDIT_CSV_LIMIT,
        )
        return _audit_csv(
            request, everything.entries, name="audit_log", patients=everything.patients
        )
    return render(
        request,
        "trials/audit_log.html",
        {"page": page, "filter_form": form, "query": _query_without_page(request)},
    )


@login_required
def score_calculator(request: HttpRequest) -> HttpResponse:
    """Compute every score for typed-in values; nothing is stored."""
    form = ScoreCalculatorForm(request.POST or None)
    result = inputs = None
    if request.method == "POST" and form.is_valid():
        instance = form.save(commit=False)
        try:
            services.score_inputs_normalize(instance)
            inputs = services.score_inputs_from_values(
                instance,
                age=form.cleaned_data["age"],
                sex=form.cleaned_data["sex"],
                source_label="Calculator",
            )
            result = services.scores_compute(inputs)
        except ValidationError as exc:
            apply_validation_error(form, exc)
    return render(
        request, "trials/score_calculator.html", {"form": form, "result": result, "inputs": inputs}
    )


@login_required
def role_requests(request: HttpRequest) -> HttpResponse:
    """Pending unblinded-role requests: decided here by the statistician or a superuser."""
    may_decide = roles.can_approve_unblinded_grants(request.user)
    if not (may_decide or roles.can_manage_users(request.user)):
        raise Http404("No such page.")
    requests = selectors.role_grant_requests(user=request.user)
    form = RoleGrantDecisionForm(request.POST or None)
    if request.method == "POST":
        grant = get_object_or_404(requests, pk=request.POST.get("grant"))
        if form.is_valid():
            try:
                services.role_grant_decide(
                    approver=request.user,
                    grant=grant,
                    approve=form.cleaned_data["decision"] == "approve",
                    reason=form.cleaned_data["reason"],
                )
            except PermissionDenied as exc:
                messages.error(request, str(exc))
            except ValidationError as exc:
                apply_validation_error(form, exc)
            else:
                messages.success(
                    request, _("Request for %(user)s decided.") % {"user": grant.user}
                )
                return redirect("trials:role-requests")
    page = Paginator(requests, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "trials/role_requests.html",
        {"page": page, "form": form, "may_decide": may_decide},
    )
