"""factory_boy factories shared by every app's tests."""

from __future__ import annotations

import datetime as dt

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from trials.models import Patient, Site, SiteMembership, Trial


class TrialFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Trial
        django_get_or_create = ("code",)

    code = "liveradvance"
    title = "Liveradvance"
    registry_ids = "NCT02857010"
    target_size = 30
    arm_codes = ["A", "B"]
    strata = ["1", "2", "3"]


class SiteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Site
        django_get_or_create = ("trial", "code")

    trial = factory.SubFactory(TrialFactory)
    code = factory.Sequence(lambda n: f"{n + 1:02d}")
    name = factory.LazyAttribute(lambda o: f"Hospital {o.code}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.org")
    password = factory.PostGenerationMethodCall("set_password", "Correct-Horse-9")

    @factory.post_generation
    def finish(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class SiteMembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SiteMembership

    user = factory.SubFactory(UserFactory)
    site = factory.SubFactory(SiteFactory)


class PatientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Patient

    site = factory.SubFactory(SiteFactory)
    trial = factory.LazyAttribute(lambda o: o.site.trial)
    screening_number = factory.Sequence(lambda n: f"S01-{n + 1:04d}")
    sex = "M"
    birth_date = dt.date(1970, 5, 17)
    consent_datetime = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(days=1))
    consent_version = "v1.0"
