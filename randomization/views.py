"""HTML views: randomize, pharmacy, emergency unblinding and the statistician's list.

Unblinded pages answer 404 (never 403) to everyone else, so their existence for a patient
is not revealed. The arm reaches a template only through the guarded selectors.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from crf import selectors as crf_selectors
from trials import roles
from trials import selectors as trial_selectors
from trials.forms import apply_validation_error
from trials.idempotency import form_token, page_once
from trials.paging import keyset_page

from . import forms, selectors, services

PHARMACY_PAGE_SIZE = 25
PHARMACY_ORDER = ("subject_id", "pk")


def _post(request: HttpRequest):
    """Bound form data on POST even when nothing was ticked (an empty POST is falsy)."""
    return request.POST if request.method == "POST" else None


@login_required
def patient_randomize(request: HttpRequest, pk: int) -> HttpResponse:
    patient = trial_selectors.patient_get(user=request.user, pk=pk, for_entry=True)
    if selectors.allocation_get_blinded(user=request.user, patient=patient):
        messages.info(request, _("This patient is already randomized."))
        return redirect("trials:patient-detail", pk=patient.pk)
    screening = trial_selectors.screening_get(user=request.user, patient=patient)
    form = forms.RandomizeForm(_post(request))
    if request.method == "POST" and form.is_valid():
        try:
            allocation = services.patient_randomize(
                user=request.user, patient=patient, confirm_eligibility=True
            )
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(
                request,
                _(
                    "Randomized: number %(number)s. The pharmacy has been notified that dose 1 "
                    "is due."
                )
                % {"number": allocation.randomization_number},
            )
            # Straight on to day 1's first form (issue 17); the patient page otherwise.
            entry = crf_selectors.patient_form_to_enter(user=request.user, patient=patient)
            if entry is not None:
                visit, cell = entry
                return redirect("crf:crf-edit", visit_pk=visit.pk, form_code=cell.code)
            return redirect("trials:patient-detail", pk=patient.pk)
    return render(
        request,
        "randomization/patient_randomize.html",
        {
            "patient": patient,
            "screening": screening,
            "assessment": trial_selectors.screening_assessment(screening=screening)
            if screening
            else None,
            "problems": services.patient_randomization_problems(patient=patient),
            "form": form,
        },
    )


@login_required
def pharmacy_list(request: HttpRequest) -> HttpResponse:
    if not roles.has_role(request.user, roles.Role.PHARMACIST):
        raise Http404("No such page.")
    ended = request.GET.get("ended") == "1"
    patients = selectors.pharmacy_patient_list(user=request.user, on_treatment=not ended)
    # Keyset pages in randomization-number order (index ``patient_subject_id``, as the API).
    page = keyset_page(
        request, patients, ordering=PHARMACY_ORDER, page_size=PHARMACY_PAGE_SIZE, count=True
    )
    rows = selectors.pharmacy_worklist(user=request.user, patients=page.object_list)
    return render(
        request,
        "randomization/pharmacy_list.html",
        {
            "page": page,
            "rows": rows,
            "ended": ended,
            "demo_list": selectors.demo_list_active(user=request.user),
        },
    )


@login_required
def preparation_create(request: HttpRequest, pk: int) -> HttpResponse:
    patient = selectors.pharmacy_patient_get(user=request.user, pk=pk)
    if not roles.can_prepare_dose(request.user, patient):
        raise Http404("No such page.")
    rows = selectors.pharmacy_worklist(user=request.user, patients=[patient])
    row = rows[0] if rows else None
    initial = {"dose_number": row.next_dose_number} if row and row.next_dose_number else {}
    form = forms.DosePreparationForm(_post(request), initial=initial)
    if request.method == "POST" and form.is_valid():

        def record() -> str:
            prep = services.dose_preparation_record(
                user=request.user, patient=patient, **form.cleaned_data
            )
            messages.success(
                request, _("Dose %(dose)s preparation recorded.") % {"dose": prep.dose_number}
            )
            return reverse("randomization:pharmacy-list")

        try:
            url, replayed = page_once(request, record)  # issue 11: once per form token
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            if replayed:
                messages.info(request, _("This preparation was already recorded: sent twice."))
            return redirect(url)
    return render(
        request,
        "randomization/preparation_create.html",
        {"patient": patient, "row": row, "form": form, "form_token": form_token(request)},
    )


@login_required
def unblinding_create(request: HttpRequest, pk: int) -> HttpResponse:
    patient = trial_selectors.patient_get(user=request.user, pk=pk)
    if not roles.can_emergency_unblind(request.user, patient):
        raise Http404("No such page.")
    allocation = selectors.allocation_get_blinded(user=request.user, patient=patient)
    if allocation is None:
        raise Http404("The patient is not randomized.")
    form = forms.EmergencyUnblindingForm(_post(request))
    if request.method == "POST" and form.is_valid():
        try:
            services.emergency_unblinding_create(
                user=request.user, patient=patient, request=request, **form.cleaned_data
            )
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.warning(
                request, _("Emergency unblinding recorded; the sponsor has been notified.")
            )
            return redirect("randomization:allocation-unblinded", pk=patient.pk)
    return render(
        request,
        "randomization/unblinding_create.html",
        {"patient": patient, "allocation": allocation, "form": form},
    )


@login_required
def allocation_unblinded(request: HttpRequest, pk: int) -> HttpResponse:
    patient = trial_selectors.patient_get(user=request.user, pk=pk)
    unblinded = selectors.allocation_get_unblinded(
        user=request.user, patient=patient, purpose="allocation page"
    )
    return render(
        request,
        "randomization/allocation_unblinded.html",
        {
            "patient": patient,
            "unblinded": unblinded,
            "unblindings": selectors.emergency_unblinding_list(user=request.user, patient=patient),
        },
    )


@login_required
def unblinding_list(request: HttpRequest) -> HttpResponse:
    rows = selectors.emergency_unblinding_list(user=request.user)
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    return render(request, "randomization/unblinding_list.html", {"page": page})


def _statistician_only(request: HttpRequest) -> None:
    if not roles.can_manage_randomization_list(request.user):
        raise Http404("No such page.")


@login_required
def list_detail(request: HttpRequest) -> HttpResponse:
    _statistician_only(request)
    overview = selectors.randomization_list_overview(user=request.user)
    if request.GET.get("format") == "csv" and overview and overview["active"]:
        response = HttpResponse(
            selectors.randomization_list_csv(user=request.user), content_type="text/csv"
        )
        version = overview["active"].version
        response["Content-Disposition"] = (
            f'attachment; filename="randomization_list_v{version}.csv"'
        )
        return response
    return render(
        request,
        "randomization/list_detail.html",
        {
            "overview": overview,
            "generate_form": forms.ListGenerateForm(),
            "upload_form": forms.ListUploadForm(),
            "supersede_form": forms.ListSupersedeForm(),
        },
    )


@login_required
def list_generate(request: HttpRequest) -> HttpResponse:
    _statistician_only(request)
    overview = selectors.randomization_list_overview(user=request.user)
    form = forms.ListGenerateForm(_post(request))
    if request.method == "POST" and form.is_valid() and overview:
        try:
            rlist = services.randomization_list_generate(
                user=request.user, trial=overview["trial"], **form.cleaned_data
            )
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(
                request,
                _("List v%(version)s generated (SHA-256 %(sha)s).")
                % {"version": rlist.version, "sha": rlist.sha256},
            )
            return redirect("randomization:list-detail")
    return render(request, "randomization/list_form.html", {"form": form, "title": "Generate"})


@login_required
def list_upload(request: HttpRequest) -> HttpResponse:
    _statistician_only(request)
    overview = selectors.randomization_list_overview(user=request.user)
    form = forms.ListUploadForm(_post(request), request.FILES or None)
    if request.method == "POST" and form.is_valid() and overview:
        try:
            rlist = services.randomization_list_upload(
                user=request.user,
                trial=overview["trial"],
                content=form.cleaned_data["file"].read(),
                reason=form.cleaned_data["reason"],
            )
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(
                request,
                _("List v%(version)s uploaded (SHA-256 %(sha)s).")
                % {"version": rlist.version, "sha": rlist.sha256},
            )
            return redirect("randomization:list-detail")
    return render(request, "randomization/list_form.html", {"form": form, "title": "Upload"})


@login_required
def list_supersede(request: HttpRequest) -> HttpResponse:
    _statistician_only(request)
    overview = selectors.randomization_list_overview(user=request.user)
    if not overview or not overview["active"]:
        raise Http404("No active list.")
    form = forms.ListSupersedeForm(_post(request))
    if request.method == "POST" and form.is_valid():
        try:
            services.randomization_list_supersede(
                user=request.user,
                randomization_list=overview["active"],
                reason=form.cleaned_data["reason"],
            )
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, _("The list was superseded; generate or upload a new one."))
            return redirect("randomization:list-detail")
    return render(request, "randomization/list_form.html", {"form": form, "title": "Supersede"})
