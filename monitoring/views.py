"""Monitoring pages: parse, call one service or selector, render (rules live in services)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from trials.forms import apply_validation_error
from trials.paging import keyset_page
from trials.selectors import patient_get, site_list

from . import overview, selectors, services
from .filters import DataQueryFilter
from .forms import (
    STATUS_CHOICES,
    LockForm,
    QueryActionForm,
    QueryRaiseForm,
    SdvForm,
    SignForm,
    UnlockForm,
)
from .models import CasebookSignature, DataQuery


def _back(request: HttpRequest, default: str) -> HttpResponse:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect(default)


QUERY_ORDER = ("due_date", "pk")
QUERY_PAGE_SIZE = 50


@login_required
def query_list(request: HttpRequest) -> HttpResponse:
    # The API's FilterSet; an invalid value is ignored here (the list shown unfiltered by it).
    filters = DataQueryFilter(request.GET, queryset=selectors.query_list(user=request.user))
    # Keyset pages, oldest due first (#16): a late page costs what the first does.
    page = keyset_page(request, filters.qs, ordering=QUERY_ORDER, page_size=QUERY_PAGE_SIZE)
    for query in page:
        query.overdue = selectors.is_overdue(query)
    return render(
        request,
        "monitoring/query_list.html",
        {
            "page": page,
            "counts": selectors.query_counts_per_site(user=request.user),
            "sites": site_list(user=request.user),
            "statuses": STATUS_CHOICES,
            "params": request.GET,
        },
    )


@login_required
def query_create(request: HttpRequest, patient_pk: int) -> HttpResponse:
    """Raise a query on a field or a whole form (from the CRF page)."""
    patient = patient_get(user=request.user, pk=patient_pk)
    form = QueryRaiseForm(request.POST or None, initial=request.GET.dict())
    if request.method == "POST" and form.is_valid():
        try:
            query = services.query_raise(
                user=request.user,
                patient=patient,
                form_code=form.cleaned_data["form_code"],
                record_id=form.cleaned_data["record_id"],
                field=form.cleaned_data["field"],
                text=form.cleaned_data["text"],
            )
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, _("Query raised."))
            return redirect("monitoring:query-detail", query_pk=query.pk)
    return render(
        request,
        "monitoring/query_create.html",
        {
            "patient": patient,
            "form": form,
            "may_raise": services.may_raise_query(request.user, patient),
        },
    )


@login_required
def query_detail(request: HttpRequest, query_pk: int) -> HttpResponse:
    query = selectors.query_get(user=request.user, pk=query_pk)
    form = QueryActionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        action = form.cleaned_data["action"]
        try:
            if action == "answer":
                services.query_answer(
                    user=request.user, query=query, answer=form.cleaned_data["answer"]
                )
            elif action == "close":
                services.query_close(
                    user=request.user, query=query, note=form.cleaned_data["note"]
                )
            else:
                services.query_reopen(
                    user=request.user, query=query, reason=form.cleaned_data["note"]
                )
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(
                request, f"Query {dict(DataQuery.Status.choices).get(action, action)}."
            )
            return redirect("monitoring:query-detail", query_pk=query.pk)
    query.overdue = selectors.is_overdue(query)
    return render(
        request,
        "monitoring/query_detail.html",
        {
            "query": query,
            "form": form,
            "field_label": services.form_fields(services.form_spec(query.form_code)).get(
                query.field, ""
            ),
            "may_answer": services.may_answer_query(request.user, query.patient),
            "may_close": services.may_close_query(request.user, query),
            "form_url": _form_url(query),
        },
    )


def _form_url(query: DataQuery) -> str:
    if query.form_code == "adverse_event":
        return reverse("crf:ae-edit", kwargs={"ae_pk": query.record_id})
    if query.form_code == "end_of_study":
        return reverse("crf:eos-edit", kwargs={"patient_pk": query.patient_id})
    if query.visit_id:
        return reverse(
            "crf:crf-edit", kwargs={"visit_pk": query.visit_id, "form_code": query.form_code}
        )
    return reverse("crf:patient-timeline", kwargs={"patient_pk": query.patient_id})


@login_required
def patient_monitoring(request: HttpRequest, patient_pk: int) -> HttpResponse:
    """Queries, SDV, locks and the casebook signature of one patient; data managers lock."""
    patient = patient_get(user=request.user, pk=patient_pk)
    state = selectors.patient_monitoring(user=request.user, patient=patient)
    form = LockForm(request.POST or None, visits=state.visits, records=state.records)
    if request.method == "POST" and form.is_valid():
        form_code, record_id = form.target()
        try:
            services.lock_set(
                user=request.user,
                patient=patient,
                level=form.cleaned_data["level"],
                visit_id=form.cleaned_data["visit_id"],
                form_code=form_code,
                record_id=record_id,
            )
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, _("Locked."))
            return redirect("monitoring:patient-monitoring", patient_pk=patient.pk)
    for query in state.queries:
        query.overdue = selectors.is_overdue(query)
    return render(
        request,
        "monitoring/patient_monitoring.html",
        {
            "patient": patient,
            "state": state,
            "lock_form": form,
            "may_lock": services.may_lock(request.user),
            "may_sign": services.may_sign(request.user, patient),
        },
    )


@login_required
@require_POST
def sdv_mark(request: HttpRequest, patient_pk: int) -> HttpResponse:
    patient = patient_get(user=request.user, pk=patient_pk)
    form = SdvForm(request.POST)
    default = reverse("monitoring:patient-monitoring", kwargs={"patient_pk": patient.pk})
    if not form.is_valid():
        messages.error(request, _("Nothing was verified: the form or field was not given."))
        return _back(request, default)
    try:
        services.sdv_mark(
            user=request.user,
            patient=patient,
            form_code=form.cleaned_data["form_code"],
            record_id=form.cleaned_data["record_id"],
            field=form.cleaned_data["field"],
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Marked as source-verified."))
    return _back(request, default)


@login_required
def lock_release(request: HttpRequest, lock_pk: int) -> HttpResponse:
    lock = selectors.lock_get(user=request.user, pk=lock_pk)
    form = UnlockForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.lock_release(user=request.user, lock=lock, reason=form.cleaned_data["reason"])
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, _("Unlocked."))
            return redirect("monitoring:patient-monitoring", patient_pk=lock.patient_id)
    return render(
        request,
        "monitoring/lock_release.html",
        {"lock": lock, "form": form, "may_lock": services.may_lock(request.user)},
    )


@login_required
def casebook_sign(request: HttpRequest, patient_pk: int) -> HttpResponse:
    """The PI's e-signature: the meaning shown, the password re-entered (21 CFR 11.200)."""
    patient = patient_get(user=request.user, pk=patient_pk)
    form = SignForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.casebook_sign(
                request=request,
                patient=patient,
                password=form.cleaned_data["password"],
                meaning_confirmed=form.cleaned_data["meaning_confirmed"],
            )
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, _("Casebook signed."))
            return redirect("monitoring:patient-monitoring", patient_pk=patient.pk)
    return render(
        request,
        "monitoring/casebook_sign.html",
        {
            "patient": patient,
            "form": form,
            "meaning": CasebookSignature.MEANING,
            "state": selectors.signature_state(user=request.user, patient=patient),
            "may_sign": services.may_sign(request.user, patient),
        },
    )


@login_required
def trial_overview(request: HttpRequest) -> HttpResponse:
    """Live CONSORT flow (pooled; by arm for the unblinded statistician) and recruitment."""
    flow = overview.consort_flow(user=request.user)
    if request.GET.get("format") == "svg":
        response = HttpResponse(flow.svg, content_type="image/svg+xml; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="consort_flow.svg"'
        return response
    return render(
        request,
        "monitoring/trial_overview.html",
        {"flow": flow, "recruitment": overview.recruitment(user=request.user)},
    )
