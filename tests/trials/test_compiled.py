"""``trials.compiled``: a queryset compiled to SQL once gives what the queryset gives, for
any key values, and refuses what it could not reproduce exactly (#16)."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from tests.factories import PatientFactory, SiteFactory
from trials.compiled import CompiledGet, CompiledQuery
from trials.models import Patient, Site

pytestmark = pytest.mark.django_db


def _fields(obj) -> dict:
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}


def test_model_rows_with_related_rows_are_those_of_the_queryset(site, other_site):
    PatientFactory(site=site)
    PatientFactory(site=site)
    PatientFactory(site=other_site)
    query = CompiledQuery(
        lambda site_id: (
            Patient.objects.filter(site_id=site_id).select_related("site", "trial").order_by("pk")
        ),
        site_id=int,
    )
    for s in (site, other_site):  # the same SQL, other values
        fast, slow = query.list(site_id=s.pk), list(query.queryset(site_id=s.pk))
        assert [_fields(p) for p in fast] == [_fields(p) for p in slow]
        assert [_fields(p.site) for p in fast] == [_fields(p.site) for p in slow]
        assert [_fields(p.trial) for p in fast] == [_fields(p.trial) for p in slow]
    assert query.list(site_id=0) == []


def test_values_list_rows_and_text_parameters(site):
    patient = PatientFactory(site=site)
    flat = CompiledQuery(
        lambda number: Patient.objects.filter(screening_number=number).values_list(
            "pk", flat=True
        ),
        number=str,
    )
    pairs = CompiledQuery(
        lambda site_id: Patient.objects.filter(site_id=site_id).values_list("pk", "site_id"),
        site_id=int,
    )
    assert flat.list(number=patient.screening_number) == [patient.pk]
    assert flat.list(number="no such number") == []
    assert pairs.list(site_id=site.pk) == [(patient.pk, site.pk)]


def test_the_sql_is_compiled_once_and_each_call_is_one_query(site):
    PatientFactory(site=site)
    built = []

    def build(site_id):
        built.append(site_id)
        return Patient.objects.filter(site_id=site_id)

    query = CompiledQuery(build, site_id=int)
    for _ in range(3):
        with CaptureQueriesContext(connection) as ctx:
            assert len(query.list(site_id=site.pk)) == 1
        assert len(ctx.captured_queries) == 1
    assert len(built) == 1  # once, with the marker values: never again


def test_a_get_raises_as_the_orm_does(site):
    get = CompiledGet(Site.objects.all())
    assert get.get(site.pk) == site
    with pytest.raises(Site.DoesNotExist):
        get.get(0)


def test_parameters_must_be_the_declared_keys(site):
    query = CompiledQuery(lambda site_id: Patient.objects.filter(site_id=site_id), site_id=int)
    with pytest.raises(TypeError):
        query.list(site_id=str(site.pk))
    with pytest.raises(TypeError):
        query.list(site_id=True)  # a flag is not a key
    with pytest.raises(TypeError):
        query.list(site=site.pk)
    with pytest.raises(TypeError):
        CompiledQuery(lambda when: Patient.objects.filter(created_at=when), when=object)


def test_what_it_cannot_reproduce_is_refused(site):
    PatientFactory(site=site)
    unused = CompiledQuery(lambda site_id: Patient.objects.all(), site_id=int)
    with pytest.raises(ValueError, match="not in the SQL"):
        unused.list(site_id=site.pk)
    prefetching = CompiledQuery(
        lambda site_id: Site.objects.filter(pk=site_id).prefetch_related("patients"),
        site_id=int,
    )
    with pytest.raises(TypeError):
        prefetching.list(site_id=site.pk)


def test_a_locking_read_still_needs_a_transaction(site):
    from unittest import mock

    from django.db.transaction import TransactionManagementError

    lock = CompiledQuery(
        lambda site_id: Site.objects.select_for_update().filter(pk=site_id), site_id=int
    )
    # The test runs inside a transaction: pretend to be outside one, as a view would be.
    with (
        mock.patch.object(connection, "get_autocommit", return_value=True),
        pytest.raises(TransactionManagementError),
    ):
        lock.list(site_id=site.pk)
    with transaction.atomic():
        assert [s.pk for s in lock.list(site_id=site.pk)] == [site.pk]


def test_other_site_rows_stay_out(site):
    other = SiteFactory(trial=site.trial)
    PatientFactory(site=other)
    query = CompiledQuery(lambda site_id: Patient.objects.filter(site_id=site_id), site_id=int)
    assert query.list(site_id=site.pk) == []
