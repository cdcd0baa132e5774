"""HTML views of visits and eCRFs: parse, call one service/selector, render.

Reading follows ``trials.selectors.patient_get`` (other site -> 404); writing needs
``trials.roles.can_enter_data`` (the site's investigators and PI). Monitors and data
managers see every form read-only.
"""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from trials import roles
from trials import selectors as trial_selectors
from trials import services as trial_services
from trials.audit import REASON_FIELD
from trials.concurrency import VERSION_FIELD, StaleEdit
from trials.forms import apply_validation_error, show_stale_edit
from trials.idempotency import form_token, page_once
from trials.models import FormStatus
from trials.paging import keyset_page
from trials.selectors import patient_get
from trials.templatetags.scores import input_labels

from . import hooks, registry, selectors, services
from .forms import CONFIRM_FIELD, VisitDefinitionForm
from .rules import sequencing_error

# Date fields of a visit's forms that are usually "today" when the visit is entered on its day.
TODAY_FIELDS = ("assessment_date",)
NEXT = "next"  # value of the "Save and next form" button (name "complete")
SCORES = "scores"  # value of "Save as complete and see the scores" (the patient page)


def _prefill_today(form, *, visit, instance) -> None:
    """A new form of a visit whose window includes today starts with today's date (issue 17).

    Only a suggestion shown in the empty form: nothing is saved until the user saves.
    """
    if instance is not None or visit is None:
        return
    today = timezone.localdate()
    start = visit.window_start or visit.target_date
    end = visit.window_end or visit.target_date
    if start and end and not (start <= today <= end):
        return
    for name in TODAY_FIELDS:
        if name in form.fields:
            form.initial.setdefault(name, today)


def _crf_page(
    request: HttpRequest,
    *,
    spec: registry.FormSpec,
    patient,
    visit=None,
    instance=None,
    pk: int | None = None,
    success_url: str,
    cancel_url: str,
) -> HttpResponse:
    """The one entry page of every eCRF (draft / complete, soft-limit confirmation)."""
    can_write = roles.can_enter_data(request.user, patient.site_id)
    if request.method == "POST" and not can_write:
        raise PermissionDenied
    monitoring = hooks.page_context_for(
        user=request.user, spec=spec, patient=patient, visit=visit, instance=instance
    )
    blocked = sequencing_error(spec, patient=patient, visit=visit) or monitoring["locked"]
    form = spec.form_class(
        request.POST if request.method == "POST" else None,
        instance=instance,
        read_only=not can_write or bool(blocked),
        patient=patient,
    )
    if request.method != "POST" and can_write and not blocked:
        _prefill_today(form, visit=visit, instance=instance)
    if request.method == "POST" and not blocked and form.is_valid():

        def save() -> str:
            services.crf_save(
                user=request.user,
                form_code=spec.code,
                data=form.data_for_service(),
                complete="complete" in request.POST,
                reason=form.cleaned_data.get(REASON_FIELD, ""),
                confirm_out_of_range=form.cleaned_data.get(CONFIRM_FIELD, False),
                visit=visit,
                patient=patient,
                pk=pk,
                expected_version=form.cleaned_data.get(VERSION_FIELD),
            )
            if request.POST.get("complete") == NEXT and visit is not None:
                # Save and next form (issue 17): straight on to the visit's next open form.
                cell = selectors.visit_next_form(user=request.user, visit=visit, after=spec.code)
                if cell is not None:
                    return reverse(
                        "crf:crf-edit", kwargs={"visit_pk": visit.pk, "form_code": cell.code}
                    )
            if request.POST.get("complete") == SCORES and visit is not None:
                # The visit entered: on to the patient page, where its scores are (issue 17).
                return reverse("trials:patient-detail", kwargs={"pk": patient.pk}) + "#scores"
            return success_url

        try:
            # A new record (e.g. an AE) is created once per form token, even if re-posted.
            success_url, replayed = (
                page_once(request, save) if instance is None else (save(), False)
            )
        except StaleEdit as exc:
            show_stale_edit(form, exc)
        except services.OutOfRangeWarning as warning:
            form.warnings = warning.warnings
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            if replayed:
                messages.info(
                    request, _("%(form)s was already saved: sent twice.") % {"form": spec.label}
                )
            elif "complete" in request.POST:
                messages.success(request, _("%(form)s complete.") % {"form": spec.label})
            else:
                messages.success(request, _("%(form)s saved as draft.") % {"form": spec.label})
            return redirect(success_url)
    return render(
        request,
        "crf/crf_edit.html",
        {
            "form_token": form_token(request),
            "spec": spec,
            "patient": patient,
            "visit": visit,
            "instance": instance,
            "form": form,
            "can_write": can_write and not blocked,
            "blocked": blocked,
            "was_complete": instance is not None and instance.status == FormStatus.COMPLETE,
            "cancel_url": cancel_url,
            "monitoring": monitoring,
            # The visit's scores come from its laboratory form.
            "shows_scores": visit is not None and "labs" in visit.definition.expected_forms,
            "next_form": selectors.visit_next_form(user=request.user, visit=visit, after=spec.code)
            if visit is not None and can_write and not blocked
            else None,
        },
    )


@login_required
def crf_edit(request: HttpRequest, visit_pk: int, form_code: str) -> HttpResponse:
    visit = selectors.visit_get(user=request.user, pk=visit_pk)
    spec = registry.VISIT_FORMS.get(form_code)
    if spec is None or visit.definition.kind not in spec.visit_kinds:
        raise Http404("This form is not recorded at this visit.")
    instance = selectors.crf_get(user=request.user, spec=spec, visit=visit)
    timeline = reverse("crf:patient-timeline", kwargs={"patient_pk": visit.patient_id})
    return _crf_page(
        request,
        spec=spec,
        patient=visit.patient,
        visit=visit,
        instance=instance,
        success_url=timeline,
        cancel_url=timeline,
    )


@login_required
def patient_timeline(request: HttpRequest, patient_pk: int) -> HttpResponse:
    patient = patient_get(user=request.user, pk=patient_pk)
    rows = selectors.patient_timeline(user=request.user, patient=patient)
    return render(
        request,
        "crf/patient_timeline.html",
        {
            "form_token": form_token(request),
            "patient": patient,
            "rows": rows,
            "course": selectors.patient_course_get(user=request.user, patient=patient),
            "end_of_study": selectors.end_of_study_get(user=request.user, patient=patient),
            "can_enter_data": roles.can_enter_data(request.user, patient.site_id),
        },
    )


WORKLIST_PAGE_SIZE = 50


@login_required
def visit_worklist(request: HttpRequest) -> HttpResponse:
    visits = selectors.visit_worklist(user=request.user)
    # Keyset pages from the partial index of open visits by window end (#16).
    page = keyset_page(
        request, visits, ordering=selectors.WORKLIST_ORDER, page_size=WORKLIST_PAGE_SIZE
    )
    gaps = trial_selectors.score_gaps(user=request.user)
    return render(request, "crf/visit_worklist.html", {"page": page, "score_gaps": gaps})


@login_required
@require_POST
def visit_create(request: HttpRequest, patient_pk: int) -> HttpResponse:
    """Record an unscheduled visit (date from the form), then open the timeline."""
    patient = patient_get(user=request.user, pk=patient_pk)
    timeline = redirect("crf:patient-timeline", patient_pk=patient.pk)
    try:
        visit_date = dt.date.fromisoformat(request.POST.get("visit_date", ""))
    except ValueError:
        messages.error(request, _("Give the date of the unscheduled visit (YYYY-MM-DD)."))
        return timeline

    def create() -> str:
        services.visit_unscheduled_create(
            user=request.user, patient=patient, visit_date=visit_date
        )
        return timeline.url

    try:
        _url, replayed = page_once(request, create)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        day = {"day": f"{visit_date:%Y-%m-%d}"}
        if replayed:
            messages.info(
                request, _("Unscheduled visit on %(day)s was already recorded: sent twice.") % day
            )
        else:
            messages.success(request, _("Unscheduled visit on %(day)s recorded.") % day)
    return timeline


@login_required
@require_POST
def visit_replan(request: HttpRequest, patient_pk: int) -> HttpResponse:
    """Explicitly move open visits to the current schedule (reason required)."""
    patient = patient_get(user=request.user, pk=patient_pk, for_entry=True)
    try:
        changed = services.visits_replan(
            user=request.user, patient=patient, reason=request.POST.get(REASON_FIELD, "")
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("%(n)s visit(s) re-planned.") % {"n": len(changed)})
    return redirect("crf:patient-timeline", patient_pk=patient.pk)


@login_required
def ae_list(request: HttpRequest, patient_pk: int) -> HttpResponse:
    patient = patient_get(user=request.user, pk=patient_pk)
    return render(
        request,
        "crf/ae_list.html",
        {
            "patient": patient,
            "events": selectors.adverse_event_list(user=request.user, patient=patient),
            "can_enter_data": roles.can_enter_data(request.user, patient.site_id),
        },
    )


@login_required
def ae_create(request: HttpRequest, patient_pk: int) -> HttpResponse:
    patient = patient_get(user=request.user, pk=patient_pk, for_entry=True)
    back = reverse("crf:ae-list", kwargs={"patient_pk": patient.pk})
    return _crf_page(
        request,
        spec=registry.FORMS["adverse_event"],
        patient=patient,
        success_url=back,
        cancel_url=back,
    )


@login_required
def ae_edit(request: HttpRequest, ae_pk: int) -> HttpResponse:
    ae = selectors.adverse_event_get(user=request.user, pk=ae_pk)
    back = reverse("crf:ae-list", kwargs={"patient_pk": ae.patient_id})
    return _crf_page(
        request,
        spec=registry.FORMS["adverse_event"],
        patient=ae.patient,
        instance=ae,
        pk=ae.pk,
        success_url=back,
        cancel_url=back,
    )


@login_required
@require_POST
def ae_entered_in_error(request: HttpRequest, ae_pk: int) -> HttpResponse:
    ae = selectors.adverse_event_get(user=request.user, pk=ae_pk)
    try:  # the service refuses anyone but the site's investigators (403)
        services.adverse_event_enter_in_error(
            user=request.user, event=ae, reason=request.POST.get("reason", "")
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("crf:ae-edit", ae_pk=ae.pk)
    messages.success(
        request, "The adverse event is marked as entered in error (kept in the trail)."
    )
    return redirect("crf:ae-list", patient_pk=ae.patient_id)


@login_required
def eos_edit(request: HttpRequest, patient_pk: int) -> HttpResponse:
    patient = patient_get(user=request.user, pk=patient_pk)
    instance = selectors.end_of_study_get(user=request.user, patient=patient)
    timeline = reverse("crf:patient-timeline", kwargs={"patient_pk": patient.pk})
    return _crf_page(
        request,
        spec=registry.FORMS["end_of_study"],
        patient=patient,
        instance=instance,
        success_url=timeline,
        cancel_url=timeline,
    )


def _record_spec(form_code: str) -> registry.FormSpec:
    spec = registry.patient_record_spec(form_code)
    if spec is None:
        raise Http404("No such record.")
    return spec


@login_required
def record_list(request: HttpRequest, patient_pk: int, form_code: str) -> HttpResponse:
    """A patient-level record: the one form (baseline) or the log (infections, medications)."""
    spec = _record_spec(form_code)
    patient = patient_get(user=request.user, pk=patient_pk)
    if spec.single:
        return record_edit(request, patient_pk=patient.pk, form_code=form_code)
    return render(
        request,
        "crf/record_list.html",
        {
            "patient": patient,
            "spec": spec,
            "records": selectors.patient_records(user=request.user, patient=patient, spec=spec),
            "can_enter_data": roles.can_enter_data(request.user, patient.site_id),
        },
    )


@login_required
def record_edit(
    request: HttpRequest, patient_pk: int, form_code: str, pk: int | None = None
) -> HttpResponse:
    spec = _record_spec(form_code)
    patient = patient_get(user=request.user, pk=patient_pk)
    instance = None
    if spec.single:
        instance = selectors.patient_records(user=request.user, patient=patient, spec=spec).first()
    elif pk is not None:
        instance = get_object_or_404(
            selectors.patient_records(user=request.user, patient=patient, spec=spec), pk=pk
        )
    elif not roles.can_enter_data(request.user, patient.site_id):
        raise PermissionDenied
    back = (
        reverse("crf:patient-timeline", kwargs={"patient_pk": patient.pk})
        if spec.single
        else reverse("crf:record-list", kwargs={"patient_pk": patient.pk, "form_code": spec.code})
    )
    return _crf_page(
        request,
        spec=spec,
        patient=patient,
        instance=instance,
        pk=instance.pk if instance is not None and not spec.single else None,
        success_url=back,
        cancel_url=back,
    )


def _require_trial_admin(user) -> None:
    if not roles.has_role(user, roles.Role.TRIAL_ADMIN):
        raise PermissionDenied


@login_required
def schedule_list(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "crf/schedule_list.html",
        {
            "definitions": selectors.visit_definition_list(user=request.user),
            "forms": registry.FORMS,
            "can_edit": roles.has_role(request.user, roles.Role.TRIAL_ADMIN),
        },
    )


@login_required
def schedule_edit(request: HttpRequest, definition_pk: int) -> HttpResponse:
    _require_trial_admin(request.user)
    definition = selectors.visit_definition_get(user=request.user, pk=definition_pk)
    choices = [(code, spec.label) for code, spec in registry.VISIT_FORMS.items()]
    form = VisitDefinitionForm(request.POST or None, instance=definition, form_choices=choices)
    if request.method == "POST" and form.is_valid():
        data = {k: v for k, v in form.cleaned_data.items() if k != REASON_FIELD}
        try:
            services.visit_definition_update(
                user=request.user,
                definition=selectors.visit_definition_get(user=request.user, pk=definition_pk),
                data=data,
                reason=form.cleaned_data[REASON_FIELD],
            )
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(
                request,
                f"{definition.name} updated. Visits already planned keep their dates "
                "unless re-planned.",
            )
            return redirect("crf:schedule-list")
    return render(request, "crf/schedule_edit.html", {"form": form, "definition": definition})


# What the lab CRF shows live while typing (issue 17): the primary scores and their gaps.
PREVIEW_SCORES = (
    ("clif_sofa", "CLIF-SOFA"),
    ("aclf_grade", gettext_lazy("ACLF grade")),
    ("clif_c_aclf", "CLIF-C ACLF"),
    ("meld", "MELD"),
    ("child_pugh_score", "Child-Pugh"),
)


@login_required
@require_POST
def labs_preview(request: HttpRequest, visit_pk: int) -> JsonResponse:
    """The scores the typed lab values would give (nothing saved), as the score calculator
    computes them: the same unit conversion, inputs and scoring engine as the save."""
    visit = selectors.visit_get(user=request.user, pk=visit_pk)
    patient = visit.patient
    if not roles.can_enter_data(request.user, patient.site_id):
        # As the screening preview (patient_get for_entry): a reader who may see it gets a 403.
        raise PermissionDenied("Only the site's investigators enter data.")
    form = registry.VISIT_FORMS["labs"].form_class(request.POST)
    form.is_valid()  # a half-typed form still previews what can be computed
    try:
        result = trial_services.scores_preview(
            patient=patient,
            values=form.cleaned_data,
            on=form.cleaned_data.get("assessment_date") or visit.target_date,
        )
    except ValidationError as exc:
        return JsonResponse({"errors": exc.message_dict if hasattr(exc, "error_dict") else {}})
    return JsonResponse(
        {
            "scores": [
                {"key": key, "label": label, "value": result.get(key)}
                for key, label in PREVIEW_SCORES
            ],
            # Labels, not internal names (the same labels as the patient page's "How?").
            "missing": input_labels(
                sorted(set(result["missing"]["clif_sofa"]) | set(result["missing"]["clif_c_aclf"]))
            ),
        }
    )
