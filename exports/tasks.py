"""Celery entry points of the exports app (one-line calls into services)."""

from celery import shared_task


@shared_task
def export_job_run_task(job_id: int) -> int:
    from .services import export_job_run

    return export_job_run(job_id=job_id).pk
