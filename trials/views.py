"""HTML views for patients and screening: parse, call one service/selector, render."""

from __future__ import annotations

import csv

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.module_loading import import_string

from . import roles, selectors, services
from .audit import REASON_FIELD
from .forms import (
    PatientCreateForm,
    ScoreCalculatorForm,
    ScreeningForm,
    apply_validation_error,
)
from .models import PatientStatus

# Apps that add a panel to the patient page / dashboard: each provides, in its selectors,
# ``patient_panel_context(*, user, patient) -> dict | None`` and/or
# ``dashboard_panel_context(*, user) -> dict | None``, rendered with
# ``templates/<app>/_patient_panel.html`` / ``_dashboard_panel.html``. Blinding is the
# providing selector's job: it decides what the user may see.
PANEL_APPS = ("randomization", "crf")


def _panels(kind: str, **kwargs) -> list[dict]:
    panels = []
    for app in PANEL_APPS:
        try:
            provider = import_string(f"{app}.selectors.{kind}_panel_context")
        except ImportError:
            continue
        context = provider(**kwargs)
        if context is not None:
            panels.append({"template": f"{app}/_{kind}_panel.html", **context})
    return panels


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    user = request.user
    context = {
        "counts": selectors.status_counts(user=user),
        "sites": selectors.site_list(user=user),
        "recent": selectors.patient_list(user=user).order_by("-created_at")[:10],
        "role_set": {r.value for r in roles.user_roles(user)},
        "panels": _panels("dashboard", user=user),
    }
    return render(request, "trials/dashboard.html", context)


@login_required
def patient_list(request: HttpRequest) -> HttpResponse:
    site = request.GET.get("site") or None
    qs = selectors.patient_list(
        user=request.user,
        q=request.GET.get("q", "").strip(),
        site=int(site) if site and site.isdigit() else None,
        status=request.GET.get("status", "")
        if request.GET.get("status") in PatientStatus.values
        else "",
    )
    page = Paginator(qs, 25).get_page(request.GET.get("page"))
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
        try:
            patient = services.patient_create(user=request.user, **form.cleaned_data)
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, f"Patient {patient.screening_number} registered.")
            return redirect("trials:screening-edit", pk=patient.pk)
    return render(request, "trials/patient_create.html", {"form": form})


@login_required
def patient_detail(request: HttpRequest, pk: int) -> HttpResponse:
    patient = selectors.patient_get(user=request.user, pk=pk)
    screening = selectors.screening_get(user=request.user, patient=patient)
    return render(
        request,
        "trials/patient_detail.html",
        {
            "patient": patient,
            "screening": screening,
            "assessment": selectors.screening_assessment(screening=screening)
            if screening
            else None,
            "scores": selectors.score_record_list(user=request.user, patient=patient),
            "can_enter_data": roles.can_enter_data(request.user, patient.site_id),
            "panels": _panels("patient", user=request.user, patient=patient),
        },
    )


@login_required
def screening_edit(request: HttpRequest, pk: int) -> HttpResponse:
    patient = selectors.patient_get(user=request.user, pk=pk)
    if not roles.can_enter_data(request.user, patient.site_id):
        raise PermissionDenied
    screening = selectors.screening_get(user=request.user, patient=patient)
    form = ScreeningForm(request.POST or None, instance=screening)
    if request.method == "POST" and form.is_valid():
        data = {k: v for k, v in form.cleaned_data.items() if k != REASON_FIELD}
        try:
            screening = services.screening_save(
                user=request.user,
                patient=patient,
                data=data,
                complete="complete" in request.POST,
                reason=form.cleaned_data.get(REASON_FIELD, ""),
            )
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, "Screening saved.")
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
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    return render(request, "trials/screening_log.html", {"page": page})


AUDIT_PAGE_SIZE = 50


@login_required
def patient_history(request: HttpRequest, pk: int) -> HttpResponse:
    patient = selectors.patient_get(user=request.user, pk=pk)
    entries = selectors.patient_history(user=request.user, patient=patient)
    # Paged (#16): a patient edited ~200 times rendered a 1.3 MB page.
    page = Paginator(entries, AUDIT_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "trials/patient_history.html",
        {"patient": patient, "entries": page.object_list, "page": page},
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
