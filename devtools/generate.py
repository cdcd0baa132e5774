"""A realistic synthetic trial entered through the real services (``manage.py generate_trial``).

Every patient goes through ``patient_create``, ``screening_save`` (eligibility and scores
computed), ``patient_randomize`` (list entry, visits planned, follow-ups queued) and
``crf_save`` (edit checks, sequencing, scores, visit status, history), with the clock moved to
the day each step would have happened (``time_machine``), so dates, windows, statuses and
audit timestamps look like a trial that has been recruiting for ``months`` months.

Reproducible: each patient's story comes from its own ``random.Random`` seeded with
``(seed, site code, number)``, so the data do not depend on the order the patients are entered in.
With one worker the whole database is identical from run to run (up to the wall clock: the
trial ends "today"); with several workers (PostgreSQL only, sites split between processes)
only which list entry each patient draws depends on the interleaving, exactly as in a real
multi-site trial.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import multiprocessing
import os
import random
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, connections
from django.db.backends.signals import connection_created

from liveradvance.demo import eligible_screening_data
from liveradvance.setup import trial_setup as trial_configure_all
from trials.roles import Role

USER_PREFIX = "gen-"
# Shares of the screened population (the measured trial: ~29% randomized).
OUTCOMES = (("draft", 0.10), ("screen_failed", 0.30), ("eligible", 0.31), ("randomized", 0.29))
CORRECTION_SHARE = 0.95  # randomized patients with one corrected lab value (~2,800 / 10,000)
DROP_OUT_PER_VISIT = 0.04  # chance that data entry stops at a visit (death, withdrawal, lost)
MIN_RANDOMIZED_PER_SITE = 1  # so every site has a randomized patient to look at


@dataclass
class Summary:
    patients: int = 0
    randomized: int = 0
    visits: int = 0
    crfs: int = 0
    corrections: int = 0
    seconds: float = 0.0
    by_outcome: dict[str, int] = field(default_factory=dict)

    def add(self, other: Summary) -> None:
        self.patients += other.patients
        self.randomized += other.randomized
        self.visits += other.visits
        self.crfs += other.crfs
        self.corrections += other.corrections
        for key, n in other.by_outcome.items():
            self.by_outcome[key] = self.by_outcome.get(key, 0) + n


@dataclass(frozen=True)
class Setup:
    trial_id: int
    site_ids: tuple[int, ...]
    today: dt.date
    months: int
    offsets: tuple[int, ...] = ()  # patients each site already has (append mode)


def _tz() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


@contextmanager
def _at(moment: dt.datetime) -> Iterator[None]:
    """Run the block with the clock (Python and Django) at ``moment``."""
    import time_machine  # dev dependency: devtools is never installed in production

    with time_machine.travel(moment, tick=False):
        yield


def _commit_without_flush(sender, connection, **kwargs) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET synchronous_commit = off")


@contextmanager
def _fast_commits() -> Iterator[None]:
    """Commits that do not wait for the WAL flush, on the generator's connections only.

    A generated trial is throw-away data: durability is no rule of the data, and every row is
    still written by the same statements (a crash loses the last few commits, never half of
    one). Reset afterwards, since the bench measures real commits on the same connection.
    """
    connection_created.connect(_commit_without_flush)
    try:
        if connection.connection is not None:  # already open: new ones get it from the signal
            _commit_without_flush(None, connection)
        yield
    finally:
        connection_created.disconnect(_commit_without_flush)
        if connection.vendor == "postgresql" and connection.is_usable():
            with connection.cursor() as cursor:
                cursor.execute("RESET synchronous_commit")


def _user(username: str, role: Role, groups, site=None):
    from trials.services import site_membership_grant, unblinded_grant_preapproved

    user, created = get_user_model().objects.get_or_create(
        username=username, defaults={"first_name": role.label, "last_name": username}
    )
    if created:
        user.set_unusable_password()  # generated data: log in with force_login or a reset
        user.save()
        with unblinded_grant_preapproved():  # generated accounts of a throw-away trial
            user.groups.add(groups[role])
    if site is not None:
        site_membership_grant(user=user, site=site)
    return user


def list_length(patients: int, extra_randomizations: int = 0) -> int:
    """Entries per stratum: every stratum may receive every randomized patient in the worst
    case (~35% of the generated ones plus 20), and so may each of ``extra_randomizations``
    made later on the same list (the bench randomizes its own eligible patients, #16)."""
    return max(40, math.ceil(patients * 0.35) + 20) + extra_randomizations


def trial_setup(
    *,
    patients: int,
    sites: int,
    seed: str,
    months: int,
    append: bool = False,
    extra_randomizations: int = 0,
) -> Setup:
    """Roles, trial, ``sites`` sites, one investigator and pharmacist per site, a statistician
    and a randomization list long enough for the trial (generated by the statistician)."""
    from randomization.models import RandomizationList
    from randomization.services import randomization_list_generate
    from trials import services
    from trials.models import Patient

    if Patient.objects.exists() and not append:
        raise ValueError("The database already has patients: generate into an empty database.")
    trial, first, groups = trial_configure_all()
    site_list = [first]
    for n in range(2, sites + 1):
        site_list.append(
            services.trial_configure(site_code=f"{n:02d}", site_name=f"Generated hospital {n}")[1]
        )
    statistician = _user(f"{USER_PREFIX}statistician", Role.UNBLINDED_STATISTICIAN, groups)
    _user(f"{USER_PREFIX}datamanager", Role.DATA_MANAGER, groups)
    for site in site_list:
        _user(f"{USER_PREFIX}monitor", Role.MONITOR, groups, site)  # monitors every site
        _user(f"{USER_PREFIX}inv{site.code}", Role.INVESTIGATOR, groups, site)
        _user(f"{USER_PREFIX}pharm{site.code}", Role.PHARMACIST, groups, site)
    length = list_length(patients, extra_randomizations)
    active = RandomizationList.objects.filter(
        trial=trial, status=RandomizationList.Status.ACTIVE
    ).first()
    used = active is not None and active.entries.filter(allocation__isnull=False).exists()
    if active is None or (active.length_per_stratum < length and not used):
        randomization_list_generate(
            user=statistician,
            trial=trial,
            seed=f"{seed}-list",
            length_per_stratum=length,
            reason=f"Generated trial of {patients} patients",
        )
    return Setup(
        trial_id=trial.pk,
        site_ids=tuple(s.pk for s in site_list),
        today=dt.datetime.now(_tz()).date(),
        months=months,
        offsets=tuple(Patient.objects.filter(site=s).count() for s in site_list),
    )


# --- one patient's story ----------------------------------------------------------------------


def _screening(rng: random.Random, sex: str, outcome: str) -> dict:
    grade = rng.choices(("1", "2", "3"), weights=(4, 4, 2))[0]
    overrides: dict = {
        "bilirubin_entered": Decimal(str(round(rng.uniform(12.5, 25), 1))),
        "albumin_entered": Decimal(str(round(rng.uniform(2.2, 3.4), 1))),
        "sodium_mmol_l": Decimal(rng.randint(126, 140)),
        "platelets_10e9_l": Decimal(rng.randint(40, 160)),
        "wbc_10e9_l": Decimal(str(round(rng.uniform(4, 14), 1))),
        "afp_ng_ml": Decimal(str(round(rng.uniform(2, 30), 1))),
    }
    # ACLF grade from the organ failures (CLIF-C OF): liver alone with creatinine 1.5-1.9
    # is grade 1, liver + kidney grade 2, liver + kidney + coagulation grade 3.
    if grade == "1":
        overrides["creatinine_entered"] = Decimal(str(round(rng.uniform(1.5, 1.9), 1)))
        overrides["inr"] = Decimal(str(round(rng.uniform(1.2, 2.2), 1)))
    elif grade == "2":
        overrides["creatinine_entered"] = Decimal(str(round(rng.uniform(2.0, 3.4), 1)))
        overrides["inr"] = Decimal(str(round(rng.uniform(1.2, 2.2), 1)))
    else:
        overrides["creatinine_entered"] = Decimal(str(round(rng.uniform(2.0, 3.4), 1)))
        overrides["inr"] = Decimal(str(round(rng.uniform(2.6, 3.5), 1)))
    if sex == "F":
        overrides |= {"pregnancy_status": "not_pregnant", "childbearing_potential": "no"}
    if outcome == "screen_failed":
        reason = rng.choice(("hiv_infection", "current_malignancy", "previous_liver_transplant"))
        overrides[reason] = True
    return eligible_screening_data(**overrides)


def _labs(rng: random.Random, screening: dict, assessed: dt.date) -> dict:
    from trials.forms import SCORE_INPUT_FIELDS

    labs = {k: v for k, v in screening.items() if k in SCORE_INPUT_FIELDS}
    labs["bilirubin_entered"] = Decimal(str(round(rng.uniform(3, 25), 1)))
    labs["creatinine_entered"] = Decimal(str(round(rng.uniform(0.8, 3.0), 1)))
    return {"assessment_date": assessed, **labs}


def _vitals(rng: random.Random, assessed: dt.date) -> dict:
    return {
        "assessment_date": assessed,
        "weight_kg": Decimal(str(round(rng.uniform(48, 105), 1))),
        "heart_rate_bpm": rng.randint(60, 110),
        "systolic_bp_mmhg": rng.randint(95, 140),
        "diastolic_bp_mmhg": rng.randint(55, 85),
        "temperature_c": Decimal(str(round(rng.uniform(36.0, 37.6), 1))),
        "respiratory_rate": rng.randint(12, 22),
        "spo2_pct": Decimal(rng.randint(93, 99)),
    }


def _moment(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=_tz())


def _site_actors(site_id: int, cache: dict | None) -> tuple:
    """The site (with its trial) and its investigator, read once per site and process: the
    investigator's roles and sites are then looked up once, not once per patient (#16)."""
    from trials.models import Site

    if cache is not None and site_id in cache:
        return cache[site_id]
    site = Site.objects.select_related("trial").get(pk=site_id)
    investigator = get_user_model().objects.get(username=f"{USER_PREFIX}inv{site.code}")
    if cache is not None:
        cache[site_id] = (site, investigator)
    return site, investigator


def patient_story(
    *,
    setup: Setup,
    site_id: int,
    number: int,
    enrol_on: dt.date,
    seed: str,
    force_random: bool,
    actors: dict | None = None,
) -> Summary:
    """Enter one patient from consent to the last visit due before ``setup.today``.
    ``actors``: a cache of ``_site_actors`` shared by the patients a process enters."""
    from crf.models import Visit, VisitKind
    from crf.services import crf_save
    from randomization.services import patient_randomize
    from trials import services

    summary = Summary(patients=1)
    site, investigator = _site_actors(site_id, actors)
    # By site code, not id: ids differ between databases (sequences), codes do not.
    rng = random.Random(f"{seed}:{site.code}:{number}")  # noqa: S311 - synthetic, not crypto
    outcome = rng.choices([o for o, _ in OUTCOMES], weights=[w for _, w in OUTCOMES])[0]
    if force_random:
        outcome = "randomized"
    summary.by_outcome[outcome] = 1
    sex = rng.choice(("M", "M", "F"))
    birth = enrol_on - dt.timedelta(days=rng.randint(30 * 365, 75 * 365))
    start = _moment(enrol_on, 9, rng.randint(0, 59))
    screening = _screening(rng, sex, outcome)
    screening["screening_date"] = enrol_on
    # Each service commits on its own, as from a page (one transaction per step was tried,
    # #16: no faster once commits skip the WAL flush, since nested services then pay
    # savepoints instead), and inside the clock of its step: its on-commit work (the
    # follow-up plan of a randomization, run eagerly) is dated like the step.
    with _at(start):
        patient = services.patient_create(
            user=investigator,
            site=site,
            sex=sex,
            birth_date=birth,
            initials="".join(rng.choice("ABCDEFGHIJKLMNOPRSTUV") for _ in range(2)),
            consent_datetime=start - dt.timedelta(hours=1),
            consent_version="v1.0",
        )
        services.screening_save(
            user=investigator, patient=patient, data=screening, complete=outcome != "draft"
        )
    if outcome != "randomized":
        return summary
    with _at(start + dt.timedelta(hours=2)):
        patient_randomize(user=investigator, patient=patient, confirm_eligibility=True)
    summary.randomized = 1
    visits = list(
        Visit.objects.select_related("definition")
        .filter(patient=patient, definition__kind__in=(VisitKind.DOSING, VisitKind.FOLLOW_UP))
        .order_by("target_date", "definition__order")
    )
    summary.visits = len(visits)
    corrected = rng.random() >= CORRECTION_SHARE
    for visit in visits:
        if visit.target_date >= setup.today or rng.random() < DROP_OUT_PER_VISIT:
            break
        moment = _moment(visit.target_date, 10, rng.randint(0, 50))
        dosing = visit.definition.kind == VisitKind.DOSING
        entries: list[tuple[str, dict]] = [("labs", _labs(rng, screening, visit.target_date))]
        if dosing:
            entries.insert(0, ("vitals", _vitals(rng, visit.target_date)))
            entries.append(
                (
                    "administration",
                    {
                        "given": True,
                        "start_time": moment + dt.timedelta(minutes=30),
                        "end_time": moment + dt.timedelta(minutes=75),
                        "volume_infused_ml": Decimal("50.0"),
                        "full_dose_given": True,
                        "infusion_reaction": False,
                    },
                )
            )
        else:
            entries.insert(
                0,
                (
                    "follow_up",
                    {
                        "assessment_date": visit.target_date,
                        "vital_status": "alive",
                        "hospital_status": rng.choice(("home", "home", "ward")),
                    },
                ),
            )
        with _at(moment + dt.timedelta(hours=2)):
            for form_code, data in entries:
                crf_save(
                    user=investigator,
                    form_code=form_code,
                    visit=visit,
                    data=data,
                    complete=True,
                    confirm_out_of_range=True,
                )
                summary.crfs += 1
        if not corrected and dosing:
            # A transcription error found at monitoring: corrected with a reason (audited).
            fixed = entries[1][1] | {"bilirubin_entered": Decimal(str(round(rng.uniform(3, 25))))}
            with _at(moment + dt.timedelta(hours=5)):
                crf_save(
                    user=investigator,
                    form_code="labs",
                    visit=visit,
                    data=fixed,
                    complete=True,
                    confirm_out_of_range=True,
                    reason="Transcription error corrected against the source document",
                )
            summary.corrections += 1
            corrected = True
    return summary


# --- driving the whole trial ------------------------------------------------------------------


def _site_schedule(setup: Setup, site_index: int, count: int, seed: str) -> list[dt.date]:
    offset = setup.offsets[site_index]
    rng = random.Random(f"{seed}:schedule:{site_index}:{offset}")  # noqa: S311 - synthetic
    days = setup.months * 30
    first = setup.today - dt.timedelta(days=days)
    # Leave today free: patients enrolled "now" are the ones a live trial still has in flight.
    return sorted(first + dt.timedelta(days=rng.randrange(days)) for _ in range(count))


def _site_counts(patients: int, sites: int) -> list[int]:
    base, extra = divmod(patients, sites)
    return [base + (1 if i < extra else 0) for i in range(sites)]


def _enter_sites(
    setup: Setup, counts: list[int], indices: list[int], seed: str, progress
) -> Summary:
    from celery import current_app

    logging.getLogger("celery.app.trace").setLevel(logging.WARNING)  # one line per task
    logging.getLogger("kombu.connection").setLevel(logging.ERROR)  # eager: no broker used
    # Follow-up visits planned in-process; afterwards the caller's own setting applies again
    # (an override left in Celery's ``changes`` would hide later settings, e.g. in tests).
    changes = current_app.conf.changes
    had_override, previous = "task_always_eager" in changes, changes.get("task_always_eager")
    current_app.conf.task_always_eager = True
    total = Summary()
    actors: dict = {}
    started = time.perf_counter()
    try:
        for index in indices:
            site_id = setup.site_ids[index]
            dates = _site_schedule(setup, index, counts[index], seed)
            for number, day in enumerate(dates, start=setup.offsets[index] + 1):
                total.add(
                    patient_story(
                        setup=setup,
                        site_id=site_id,
                        number=number,
                        enrol_on=day,
                        seed=seed,
                        force_random=number <= MIN_RANDOMIZED_PER_SITE,
                        actors=actors,
                    )
                )
                if progress and total.patients % 500 == 0:
                    elapsed = time.perf_counter() - started
                    progress(f"  {total.patients} patients ({elapsed:.0f} s)")
    finally:
        if had_override:
            changes["task_always_eager"] = previous
        else:
            changes.pop("task_always_eager", None)
    return total


def _worker(args) -> Summary:
    setup, counts, indices, seed, report = args
    connections.close_all()  # a fresh connection in each process

    def progress(line: str) -> None:  # the forked process shares the command's stdout
        sys.stdout.write(f"{line} [worker {indices[0] + 1}]\n")
        sys.stdout.flush()

    try:
        return _enter_sites(setup, counts, indices, seed, progress if report else None)
    finally:
        connections.close_all()


def default_workers() -> int:
    """One process per core on PostgreSQL (each waits on its own connection half the time);
    one on SQLite, which has a single writer."""
    return (os.cpu_count() or 1) if connection.vendor == "postgresql" else 1


def generate_trial(
    *,
    patients: int,
    sites: int,
    seed: str,
    months: int = 24,
    workers: int = 1,
    append: bool = False,
    extra_randomizations: int = 0,
    progress: Callable[[str], None] | None = None,
) -> Summary:
    """Generate the trial; returns what was entered. ``workers`` > 1 needs PostgreSQL and
    committed data (the commands pass ``default_workers()``; a test's transaction needs 1).

    ``append`` adds ``patients`` more to a trial generated before (the list must be long
    enough: it cannot be replaced once used), e.g. to measure two sizes in one database.
    ``extra_randomizations``: randomizations to be made later on the same list (the bench's),
    added to every stratum's length so none of them finds its stratum full.
    """
    if patients < 1 or sites < 1:
        raise ValueError("Give at least one patient and one site.")
    started = time.perf_counter()
    with _fast_commits():
        setup = trial_setup(
            patients=patients,
            sites=sites,
            seed=seed,
            months=months,
            append=append,
            extra_randomizations=extra_randomizations,
        )
        counts = _site_counts(patients, sites)
        if connection.vendor != "postgresql":
            workers = 1  # SQLite has one writer
        workers = max(1, min(workers, sites))
        if workers == 1:
            summary = _enter_sites(setup, counts, list(range(sites)), seed, progress)
        else:
            jobs = [
                (setup, counts, list(range(w, sites, workers)), seed, progress is not None)
                for w in range(workers)
            ]
            connections.close_all()
            with multiprocessing.get_context("fork").Pool(workers) as pool:
                summary = Summary()
                for part in pool.imap_unordered(_worker, jobs):
                    summary.add(part)
        from crf.services import visits_status_refresh

        # Statuses as the daily job leaves them.
        visits_status_refresh(today=setup.today, notify=False)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                # What autovacuum does after a bulk load, and had long done in a trial that is
                # two years old: statistics, and the dead row versions of two years of status
                # changes (made here in minutes) cleared from the tables and their partial
                # indexes (the worklist's index held 14 times its live rows). VACUUM cannot
                # run in a transaction (a test's): ANALYZE alone there.
                cursor.execute("ANALYZE" if connection.in_atomic_block else "VACUUM ANALYZE")
    summary.seconds = time.perf_counter() - started
    return summary
