"""Every read of the exports app, scoped by site, role and blinding (STYLE.md §3).

The feed and the blinded exports never read an arm. The unblinded export gets the allocation
only from ``randomization.selectors.allocation_list_unblinded`` (the guarded batch reader).
"""

from __future__ import annotations

import datetime as dt

from django.db.models import QuerySet

from trials import roles

from .models import ChangeEvent, ExportJob

FEED_MAX_LIMIT = 1000


def change_list(
    *,
    user,
    after: int = 0,
    changed_since: dt.datetime | None = None,
    kinds: list[str] | None = None,
    patient: int | None = None,
) -> QuerySet[ChangeEvent]:
    """Committed events after ``after`` in seq order, scoped to the user's sites.

    Rows whose ``seq`` is still NULL belong to a transaction that has not committed (only
    its own connection can see them) and are never served. Allocation events are for
    unblinded roles only; they name the patient, never the arm.
    """
    if not roles.user_roles(user):
        return ChangeEvent.objects.none()
    qs = (
        ChangeEvent.objects.filter(seq__isnull=False, seq__gt=after)
        .select_related("patient", "site", "user")
        .order_by("seq")
    )
    site_ids = roles.user_site_ids(user)
    if site_ids is not None:
        qs = qs.filter(site_id__in=site_ids)
    if not roles.is_unblinded_role(user):
        qs = qs.exclude(unblinded_only=True)
    if changed_since is not None:
        qs = qs.filter(at__gte=changed_since)
    if kinds:
        qs = qs.filter(kind__in=kinds)
    if patient is not None:
        qs = qs.filter(patient_id=patient)
    return qs


def export_job_list(*, user) -> QuerySet[ExportJob]:
    """The user's own export jobs (a file is only ever downloaded by who asked for it)."""
    if not roles.user_roles(user):
        return ExportJob.objects.none()
    return ExportJob.objects.filter(requested_by=user).defer("file")
