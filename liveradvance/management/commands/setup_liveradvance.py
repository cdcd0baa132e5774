"""Load the Liveradvance configuration (roles, trial, site, schedule) and optional demo users.

Idempotent: running it again creates nothing new, changes no data and keeps passwords.
Without a demo flag nothing of the demo exists afterwards: no users, no patients and no
randomization list (the unblinded statistician makes the list; issue 9).
"""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from liveradvance.demo import demo_patients_create
from liveradvance.setup import trial_setup
from randomization.services import randomization_list_ensure_demo
from trials import services
from trials.roles import Role

# Demo accounts, one per role (printed by the command; for local demonstration only).
DEMO_USERS = [
    ("investigator", Role.INVESTIGATOR, "Irene", "Investigator"),
    ("pi", Role.PRINCIPAL_INVESTIGATOR, "Pere", "Principal"),
    ("pharmacist", Role.PHARMACIST, "Pau", "Pharmacist"),
    ("monitor", Role.MONITOR, "Marta", "Monitor"),
    ("datamanager", Role.DATA_MANAGER, "Dani", "Datamanager"),
    ("statistician", Role.UNBLINDED_STATISTICIAN, "Sara", "Statistician"),
    ("admin", Role.TRIAL_ADMIN, "Albert", "Administrator"),
]
SITE_ROLES = {Role.INVESTIGATOR, Role.PRINCIPAL_INVESTIGATOR, Role.PHARMACIST, Role.MONITOR}


def demo_password(username: str) -> str:
    return f"Demo-{username}-2026!"


class Command(BaseCommand):
    help = "Create roles, the Liveradvance trial configuration and (optionally) demo users."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--demo-users", action="store_true", help="one demo user per role")
        parser.add_argument(
            "--demo-patients",
            action="store_true",
            help="a small demo cohort entered by the demo investigator (only if none yet)",
        )

    @transaction.atomic
    def handle(
        self, *args, demo_users: bool = False, demo_patients: bool = False, **options
    ) -> None:
        demo_users = demo_users or demo_patients  # the demo investigator enters the cohort
        trial, site, groups = trial_setup()
        self.stdout.write(f"Trial {trial.code} with site {site}; {len(groups)} roles.")
        if not demo_users:
            return
        user_model = get_user_model()
        self.stdout.write("\nDemo logins (local use only):")
        for username, role, first, last in DEMO_USERS:
            user, created = user_model.objects.get_or_create(
                username=username,
                defaults={
                    "first_name": first,
                    "last_name": last,
                    "email": f"{username}@liveradvance.invalid",
                    "is_staff": role == Role.TRIAL_ADMIN,
                },
            )
            if created:
                user.set_password(demo_password(username))
                user.save()
            with services.unblinded_grant_preapproved():  # demo accounts only
                user.groups.add(groups[role])
            if role in SITE_ROLES:
                services.site_membership_grant(user=user, site=site)
            password = demo_password(username) if created else "(unchanged)"
            self.stdout.write(f"  {role.label:32} {username:14} {password}")
        if demo_patients:
            # The demo list comes from a public seed and is marked DEMO (randomization.E001).
            if randomization_list_ensure_demo(trial=trial):
                self.stdout.write("\nDEMO randomization list created from the public demo seed.")
            investigator = user_model.objects.get(username="investigator")
            created = demo_patients_create(site=site, investigator=investigator)
            self.stdout.write(f"\nDemo patients created: {created}.")
