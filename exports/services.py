"""Every write of the exports app: opening an export (audited) and export jobs."""

from __future__ import annotations

import io
import logging
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from trials import roles
from trials.models import AccessEvent
from trials.services import access_event_record

from .dictionary import dataset_variables, datasets
from .formats import csv_copy_stream, csv_stream, dataset_json_stream, dictionary_csv_stream
from .models import ExportJob
from .selectors import ExportFilter, dataset_csv_copy, dataset_queryset, dataset_rows

logger = logging.getLogger(__name__)

FORMATS = {
    "csv": ("text/csv; charset=utf-8", "csv"),
    "json": ("application/json", "json"),
    "odm": ("application/xml", "xml"),
}


@dataclass
class ExportFile:
    filename: str
    content_type: str
    chunks: Iterator[bytes]


def _check(*, user, unblinded: bool) -> None:
    if not roles.can_export(user):
        raise PermissionDenied("Exports are for data managers, monitors and the statistician.")
    if unblinded and not roles.can_export_unblinded(user):
        raise PermissionDenied("The unblinded export is for the unblinded statistician only.")


def _audit(*, user, what: str, flt: ExportFilter, unblinded: bool) -> None:
    detail = (
        f"{what}; {'UNBLINDED' if unblinded else 'blinded'}; sites={list(flt.sites) or 'all'}; "
        f"from={flt.date_from or '-'}; to={flt.date_to or '-'}"
    )
    access_event_record(action=AccessEvent.Action.EXPORT, actor=user, detail=detail)


def _codes(codes: list[str] | None) -> list[str]:
    known = datasets()
    codes = list(codes or known)
    unknown = [c for c in codes if c not in known]
    if unknown:
        raise ValidationError({"forms": f"Unknown datasets: {', '.join(unknown)}."})
    return [c for c in known if c in codes]  # registry order


def export_open(
    *,
    user,
    fmt: str,
    codes: list[str] | None = None,
    flt: ExportFilter | None = None,
    unblinded: bool = False,
) -> ExportFile:
    """Check the role, record the export in the access audit, return the streamed file.

    ``csv``/``json``: exactly one dataset; ``odm``: any datasets in one file.
    """
    flt = flt or ExportFilter()
    _check(user=user, unblinded=unblinded)
    if fmt not in FORMATS:
        raise ValidationError({"format": "Choose csv, json or odm."})
    codes = _codes(codes)
    if fmt != "odm" and len(codes) != 1:
        raise ValidationError({"forms": "CSV and Dataset-JSON are one file per dataset."})
    content_type, ext = FORMATS[fmt]
    suffix = "-unblinded" if unblinded else ""
    _audit(user=user, what=f"{fmt} {','.join(codes)}", flt=flt, unblinded=unblinded)
    if fmt == "odm":
        from .odm import odm_stream

        return ExportFile(
            f"liveradvance-odm{suffix}.{ext}",
            content_type,
            odm_stream(user=user, codes=codes, flt=flt, unblinded=unblinded),
        )
    dataset = datasets()[codes[0]]
    variables = dataset_variables(dataset, unblinded=unblinded)
    copied = None
    if fmt == "csv":  # PostgreSQL writes the rows itself when it writes them the same
        copied = dataset_csv_copy(user=user, dataset=dataset, flt=flt, unblinded=unblinded)
    if copied is not None:
        chunks = csv_copy_stream(variables, copied)
    elif fmt == "csv":
        rows = dataset_rows(user=user, dataset=dataset, flt=flt, unblinded=unblinded, as_text=True)
        chunks = csv_stream(variables, rows, model=dataset.model)
    else:  # Dataset-JSON types its values: numbers and booleans as read
        rows = dataset_rows(user=user, dataset=dataset, flt=flt, unblinded=unblinded)
        count = dataset_queryset(user=user, dataset=dataset, flt=flt).count()
        chunks = dataset_json_stream(dataset, variables, rows, count=count)
    return ExportFile(f"{dataset.code}{suffix}.{ext}", content_type, chunks)


def dictionary_open(*, user, unblinded: bool = False) -> ExportFile:
    _check(user=user, unblinded=unblinded)
    _audit(user=user, what="data dictionary", flt=ExportFilter(), unblinded=unblinded)
    suffix = "-unblinded" if unblinded else ""
    return ExportFile(
        f"data-dictionary{suffix}.csv",
        FORMATS["csv"][0],
        dictionary_csv_stream(unblinded=unblinded),
    )


# --- export jobs (Celery) -----------------------------------------------------------------


@transaction.atomic
def export_job_create(
    *,
    user,
    fmt: str,
    codes: list[str] | None,
    flt: ExportFilter,
    unblinded: bool = False,
) -> ExportJob:
    """Queue a (large) export; the task stores the file for the requester to download."""
    _check(user=user, unblinded=unblinded)
    if fmt not in FORMATS:
        raise ValidationError({"format": "Choose csv, json or odm."})
    codes = _codes(codes)
    job = ExportJob.objects.create(
        requested_by=user,
        params={
            "format": fmt,
            "forms": codes,
            "sites": list(flt.sites),
            "date_from": flt.date_from.isoformat() if flt.date_from else None,
            "date_to": flt.date_to.isoformat() if flt.date_to else None,
            "unblinded": unblinded,
        },
    )
    from .tasks import export_job_run_task

    transaction.on_commit(lambda: export_job_run_task.delay(job.pk))
    return job


def _progress(job: ExportJob, done: int, total: int) -> None:
    percent = min(99, int(100 * done / max(total, 1)))
    if percent != job.progress:
        job.progress = percent
        ExportJob.objects.filter(pk=job.pk).update(progress=percent)


def export_job_run(*, job_id: int) -> ExportJob:
    """Build the job's file: one file, or a ZIP of one file per dataset plus the dictionary."""
    import datetime as dt

    job = ExportJob.objects.select_related("requested_by").get(pk=job_id)
    if job.status not in (ExportJob.Status.PENDING, ExportJob.Status.FAILED):
        return job
    ExportJob.objects.filter(pk=job.pk).update(status=ExportJob.Status.RUNNING, progress=0)
    p = job.params
    flt = ExportFilter(
        sites=tuple(p.get("sites") or ()),
        date_from=dt.date.fromisoformat(p["date_from"]) if p.get("date_from") else None,
        date_to=dt.date.fromisoformat(p["date_to"]) if p.get("date_to") else None,
    )
    user, unblinded, fmt, codes = (
        job.requested_by,
        p.get("unblinded", False),
        p["format"],
        p["forms"],
    )
    try:
        if fmt == "odm" or len(codes) == 1:
            export = export_open(user=user, fmt=fmt, codes=codes, flt=flt, unblinded=unblinded)
            data = b"".join(export.chunks)
            filename, content_type = export.filename, export.content_type
        else:
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
                dictionary = dictionary_open(user=user, unblinded=unblinded)
                archive.writestr(dictionary.filename, b"".join(dictionary.chunks))
                for n, code in enumerate(codes):
                    export = export_open(
                        user=user, fmt=fmt, codes=[code], flt=flt, unblinded=unblinded
                    )
                    with archive.open(export.filename, "w") as member:
                        for chunk in export.chunks:
                            member.write(chunk)
                    _progress(job, n + 1, len(codes))
            data = buffer.getvalue()
            filename = f"liveradvance-{fmt}{'-unblinded' if unblinded else ''}.zip"
            content_type = "application/zip"
    except Exception as exc:  # recorded on the job (shown on the page), and logged
        logger.exception("export job %s failed", job.pk)
        ExportJob.objects.filter(pk=job.pk).update(
            status=ExportJob.Status.FAILED, error=str(exc)[:500], finished_at=timezone.now()
        )
        job.refresh_from_db()
        return job
    ExportJob.objects.filter(pk=job.pk).update(
        status=ExportJob.Status.DONE,
        progress=100,
        file=data,
        filename=filename,
        content_type=content_type,
        finished_at=timezone.now(),
    )
    job.refresh_from_db()
    return job
