"""The trial's configuration, loaded by ``setup_liveradvance`` (and the generator, chaos script).

Wired here, in the project package, because it spans apps: ``trials`` (roles, trial, site)
and ``crf`` (the visit schedule). The apps below never import each other upwards.
"""

from __future__ import annotations

from django.contrib.auth.models import Group
from django.db import transaction

from crf.services import visit_definitions_load
from trials import services
from trials.models import Site, Trial
from trials.roles import Role


@transaction.atomic
def trial_setup() -> tuple[Trial, Site, dict[Role, Group]]:
    """Roles, the Liveradvance trial with its first site and its visit schedule (idempotent)."""
    groups = services.roles_sync()
    trial, site = services.trial_configure()
    visit_definitions_load(trial=trial)
    return trial, site, groups
