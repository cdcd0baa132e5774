"""The export page: choose format, forms, sites and dates; the file is built by a task."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from trials import roles
from trials.forms import apply_validation_error
from trials.selectors import site_list

from . import selectors, services
from .forms import ExportForm
from .models import ExportJob


@login_required
def export_page(request: HttpRequest) -> HttpResponse:
    if not roles.can_export(request.user):
        raise PermissionDenied
    form = ExportForm(
        request.POST or None,
        sites=site_list(user=request.user),
        may_unblind=roles.can_export_unblinded(request.user),
    )
    if request.method == "POST" and form.is_valid():
        try:
            job = services.export_job_create(
                user=request.user,
                fmt=form.cleaned_data["format"],
                codes=form.cleaned_data["forms"] or None,
                flt=form.to_filter(),
                unblinded=form.cleaned_data.get("unblinded", False),
            )
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(
                request, _("Export %(job)s queued; it appears below when ready.") % {"job": job.pk}
            )
            return redirect("exports:export-page")
    jobs = list(selectors.export_job_list(user=request.user)[:JOBS_SHOWN])
    running = any(j.status in (ExportJob.Status.PENDING, ExportJob.Status.RUNNING) for j in jobs)
    return render(
        request, "exports/export_page.html", {"form": form, "jobs": jobs, "running": running}
    )


JOBS_SHOWN = 20  # the export page's list of the user's latest jobs


@login_required
def job_status(request: HttpRequest) -> JsonResponse:
    """State and percentage of the user's latest jobs, polled by static/js/export_progress.js
    (issue 17: progress without reloading the page, so a form being filled is kept)."""
    if not roles.can_export(request.user):
        raise PermissionDenied
    jobs = selectors.export_job_list(user=request.user)[:JOBS_SHOWN]
    return JsonResponse(
        {
            "jobs": [
                {
                    "id": job.pk,
                    "status": job.status,
                    "status_label": job.get_status_display(),
                    "progress": job.progress,
                    "error": job.error if job.status == ExportJob.Status.FAILED else "",
                    "filename": job.filename if job.status == ExportJob.Status.DONE else "",
                    "download_url": reverse("exports:job-download", args=[job.pk])
                    if job.status == ExportJob.Status.DONE
                    else "",
                }
                for job in jobs
            ]
        },
        headers={"Cache-Control": "no-store"},
    )


@login_required
def job_download(request: HttpRequest, job_pk: int) -> HttpResponse:
    job = get_object_or_404(
        selectors.export_job_list(user=request.user).defer(None),
        pk=job_pk,
        status=ExportJob.Status.DONE,
    )
    response = HttpResponse(bytes(job.file), content_type=job.content_type)
    response["Content-Disposition"] = f'attachment; filename="{job.filename}"'
    response["Cache-Control"] = "no-store"
    return response
