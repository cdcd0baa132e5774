"""Allocation concealment attacked the way a blinded user did it (issue 9).

The attacker is every blinded role. It reads what the role can read (the patient list and
allocation API, the audit trail), the repository's own code and documentation (the list
algorithm in ``randomization/listgen.py`` is documented on purpose) and tries to:

1. regenerate the list from every seed it can find in the code, docs and pages, match the
   randomized patients by stratum and time order, and name their arms;
2. predict the next allocation of each stratum the same way;
3. complete blocks: where it knows all but the last arm of a block, name the last one.

With a secret list (no list exists until the unblinded statistician makes one, from a seed
drawn with ``secrets`` or chosen by them) the first two do no better than chance and the
third has nothing to work from, because blinded roles know no arm.
"""

from __future__ import annotations

import io
import re
from collections import defaultdict
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client

from randomization import listgen
from randomization import services as rand_services
from randomization.models import Allocation, RandomizationList
from tests.conftest import make_user
from tests.randomization.factories import eligible_patient
from trials import services as trial_services
from trials.models import Trial
from trials.roles import Role

pytestmark = pytest.mark.django_db

REPO = Path(__file__).resolve().parents[2]
# The statistician's own seed for this test; an attacker has no way to read it (asserted).
STATISTICIAN_SEED = "k7Q-private-stat-seed-91e"
COHORT_PER_STRATUM = 12
STRATA = ("1", "2", "3")
BLINDED_ROLES = (
    Role.INVESTIGATOR,
    Role.PRINCIPAL_INVESTIGATOR,
    Role.MONITOR,
    Role.DATA_MANAGER,
    Role.TRIAL_ADMIN,
)
# Accuracy a guesser reaches by chance is 50%; above this the list is not concealed.
CHANCE_CEILING = 0.75


def _production_setup() -> tuple[Trial, object]:
    call_command("setup_liveradvance", stdout=io.StringIO())  # no demo flag: production shape
    trial = Trial.objects.get(code="liveradvance")
    return trial, trial.sites.get(code="01")


def _seeds_an_attacker_can_find(pages: list[str]) -> set[str]:
    """String literals named like a seed in the shipped code and docs, and seeds on pages."""
    found: set[str] = set()
    pattern = re.compile(r"""seed\w*\s*[=:]\s*f?["']([^"'{}]{3,100})["']""", re.IGNORECASE)
    shipped = [p for p in REPO.rglob("*") if p.suffix in {".py", ".md", ".html"}]
    for path in shipped:
        if any(part in {".venv", "tests", ".git", "node_modules"} for part in path.parts):
            continue
        found.update(pattern.findall(path.read_text(encoding="utf-8", errors="ignore")))
    for page in pages:
        found.update(re.findall(r"seed\s*<code>([^<]+)</code>", page))
        found.update(pattern.findall(page))
    found.add("liveradvance-demo-2026")  # the seed the first attack used
    return found


def _randomize_cohort(trial, site, investigator, per_stratum: int) -> list:
    patients = []
    for _ in range(per_stratum):
        for grade in STRATA:
            patient = eligible_patient(site, grade=grade)
            rand_services.patient_randomize(
                user=investigator, patient=patient, confirm_eligibility=True
            )
            patients.append(patient)
    return patients


def _observed(client: Client, patients) -> tuple[dict[str, list[int]], list[str]]:
    """What the role reads: per stratum, patient ids in randomization order; pages read."""
    pages: list[str] = []
    listing = client.get("/api/v1/patients/?status=randomized")
    pages.append(listing.content.decode())
    rows = []
    for patient in patients:
        response = client.get(f"/api/v1/patients/{patient.pk}/allocation/")
        assert response.status_code == 200
        body = response.json()
        pages.append(response.content.decode())
        pages.append(client.get(f"/patients/{patient.pk}/history/").content.decode())
        rows.append((body["stratum"], body["randomized_at"], patient.pk))
    order: dict[str, list[int]] = defaultdict(list)
    for stratum, _at, pk in sorted(rows):
        order[stratum].append(pk)
    return order, pages


def _predict(seed: str, block_sizes, trial, order) -> dict[int | tuple, str]:
    rows = listgen.generate(
        seed=seed,
        strata=list(STRATA),
        length=listgen.default_length(trial.target_size),
        block_sizes=block_sizes,
    )
    by_stratum: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        by_stratum[row.stratum].append(row.arm)
    guesses: dict[int | tuple, str] = {}
    for stratum, pks in order.items():
        for position, pk in enumerate(pks):
            guesses[pk] = by_stratum[stratum][position]
        guesses[("next", stratum)] = by_stratum[stratum][len(pks)]
    return guesses


def _truth(patients) -> dict[int, str]:
    return dict(
        Allocation.objects.filter(patient__in=patients).values_list("patient_id", "entry__arm")
    )


def test_production_setup_creates_no_randomization_list(db):
    trial, _site = _production_setup()
    assert not RandomizationList.objects.filter(trial=trial).exists()


def test_blinded_roles_cannot_predict_arms(db):
    trial, site = _production_setup()
    groups = trial_services.roles_sync()
    investigator = make_user(groups, Role.INVESTIGATOR, site, username="inv")
    statistician = make_user(groups, Role.UNBLINDED_STATISTICIAN, username="stat")
    if not RandomizationList.objects.filter(trial=trial, status="active").exists():
        rand_services.randomization_list_generate(
            user=statistician, trial=trial, seed=STATISTICIAN_SEED
        )
    patients = _randomize_cohort(trial, site, investigator, COHORT_PER_STRATUM)
    truth = _truth(patients)

    for role in BLINDED_ROLES:
        attacker = make_user(groups, role, site, username=f"attacker-{role.value}")
        client = Client()
        client.force_login(attacker)
        order, pages = _observed(client, patients)
        assert sum(len(v) for v in order.values()) == len(patients)
        assert not any(STATISTICIAN_SEED in page for page in pages), role
        best = 0.0
        guesses_by_seed = {}
        for seed in _seeds_an_attacker_can_find(pages):
            for block_sizes in ((2, 4), (4, 6), listgen.DEFAULT_BLOCK_SIZES):
                guesses = _predict(seed, block_sizes, trial, order)
                hits = sum(guesses[pk] == arm for pk, arm in truth.items())
                best = max(best, hits / len(truth))
                guesses_by_seed[seed, block_sizes] = guesses
        assert best <= CHANCE_CEILING, f"{role}: {best:.0%} of arms named from a public seed"

    # The next allocation of each stratum: no candidate seed names all three.
    nexts = {}
    for stratum in STRATA:
        patient = eligible_patient(site, grade=stratum)
        rand_services.patient_randomize(
            user=investigator, patient=patient, confirm_eligibility=True
        )
        nexts[stratum] = _truth([patient])[patient.pk]
    for (seed, sizes), guesses in guesses_by_seed.items():
        right = sum(guesses[("next", s)] == arm for s, arm in nexts.items())
        assert right < len(STRATA), f"next arm of every stratum predicted from {seed!r} {sizes}"


def test_block_completion_needs_known_arms_which_blinded_roles_never_get(
    site, investigator, blinded_users, unblinded_statistician
):
    """The forced last allocation of a block is the unavoidable leak: it needs the other arms
    of the block, and no blinded response contains any arm."""
    rand_services.randomization_list_generate(
        user=unblinded_statistician, trial=site.trial, seed=STATISTICIAN_SEED
    )
    patients = _randomize_cohort(site.trial, site, investigator, 4)
    for name, user in blinded_users.items():
        client = Client()
        client.force_login(user)
        known = {}
        for patient in patients:
            body = client.get(f"/api/v1/patients/{patient.pk}/allocation/").json()
            if "arm" in body:
                known[patient.pk] = body["arm"]
        assert known == {}, f"{name} read arms: block completion possible"


def test_list_defaults_to_random_blocks_of_four_and_six(site, unblinded_statistician):
    rlist = rand_services.randomization_list_generate(
        user=unblinded_statistician, trial=site.trial, seed=STATISTICIAN_SEED
    )
    assert rlist.block_sizes == [4, 6]
    assert set(rlist.entries.values_list("block_size", flat=True)) == {4, 6}
    assert rlist.strata == ["1", "2", "3"]
