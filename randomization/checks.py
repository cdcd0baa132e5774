"""System check: a demo list (public seed) is never active on a production server."""

from __future__ import annotations

from django.conf import settings
from django.core import checks
from django.db import DatabaseError

DEMO_TAG = "liveradvance_demo_list"


@checks.register(DEMO_TAG)
def demo_list_not_active_in_production(
    app_configs, databases=None, **kwargs
) -> list[checks.CheckMessage]:
    """Error when DEBUG=0 and the active list was made from the public demo seed.

    Anyone can recompute a demo list (issue 9), so a real trial must never randomize from it.
    A server that is only a demonstration says so with ``DEMO_SERVER=1``. Like Django's
    database checks it reads the database only when asked to (``migrate``, ``check
    --database default`` and the WSGI start-up), never for ``makemigrations`` and the like.
    """
    if settings.DEBUG or settings.DEMO_SERVER or not databases:
        return []
    from .models import RandomizationList

    try:
        active_demo = RandomizationList.objects.filter(status="active", is_demo=True).exists()
    except DatabaseError:  # tables not migrated yet (first migrate): nothing can be active
        return []
    if not active_demo:
        return []
    return [
        checks.Error(
            "The active randomization list is the DEMO list (public seed): every blinded user "
            "could compute the arms.",
            hint="The unblinded statistician supersedes it with a secret list, or set "
            "DEMO_SERVER=1 if this server is only a demonstration.",
            id="randomization.E001",
        )
    ]


def refuse_to_start_on_demo_list() -> None:
    """Called by the WSGI entry point: gunicorn does not run system checks by itself."""
    from django.core.management.base import SystemCheckError

    errors = [
        e for e in checks.run_checks(tags=[DEMO_TAG], databases=["default"]) if e.is_serious()
    ]
    if errors:
        raise SystemCheckError("\n".join(f"{e.id}: {e.msg} {e.hint}" for e in errors))
