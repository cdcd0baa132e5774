"""The visit lists' filters (crf/templatetags/visits.py) write what Django's generic
template code wrote before them, in both languages (#16: they replace it for speed only)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.template import Context, Template
from django.utils import translation

from crf.models import Visit, VisitStatus
from crf.templatetags.visits import short_date, status_badge

LANGUAGES = ["en-gb", "es"]


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("status", [s.value for s in VisitStatus])
def test_status_badge_is_the_coloured_label_of_the_status(language, status):
    expected_class = {
        "done": "text-bg-success",
        "due": "text-bg-primary",
        "overdue": "text-bg-danger",
        "missed": "text-bg-dark",
        "not_applicable": "text-bg-secondary",
        "planned": "text-bg-light border",
    }[status]
    visit = Visit(status=status)
    with translation.override(language):
        html = status_badge(visit)
        assert html == f'<span class="badge {expected_class}">{visit.get_status_display()}</span>'


def test_status_badge_names_the_status_in_the_readers_language():
    with translation.override("es"):
        assert ">Atrasada</span>" in status_badge(Visit(status="overdue"))


def test_status_badge_escapes_an_unknown_status():
    assert (
        status_badge(Visit(status="<b>"))
        == '<span class="badge text-bg-light border">&lt;b&gt;</span>'
    )


@pytest.mark.parametrize("language", LANGUAGES)
def test_short_date_writes_what_djangos_date_filter_writes(language):
    django = Template('{{ d|date:"SHORT_DATE_FORMAT" }}')
    ours = Template("{% load visits %}{{ d|short_date }}")
    with translation.override(language):
        for day in [dt.date(2026, 1, 1) + dt.timedelta(days=n) for n in range(0, 400, 7)]:
            context = Context({"d": day})
            assert ours.render(context) == django.render(context)
            assert short_date(day) == django.render(context)  # also when cached


def test_short_date_follows_the_language_after_caching():
    day = dt.date(2026, 11, 26)
    with translation.override("en-gb"):
        english = short_date(day)
    with translation.override("es"):
        spanish = short_date(day)
    assert english == "26 Nov 2026"
    assert spanish == "26 nov 2026"


@pytest.mark.parametrize("language", LANGUAGES)
def test_short_date_of_a_datetime_is_in_the_local_time_zone(language, settings):
    settings.TIME_ZONE = "Europe/Madrid"
    # 23:30 UTC on 31 Dec is already 1 Jan in Madrid: the date must be the local one.
    moment = dt.datetime(2026, 12, 31, 23, 30, tzinfo=ZoneInfo("UTC"))
    django = Template('{{ d|date:"SHORT_DATE_FORMAT" }}')
    ours = Template("{% load visits %}{{ d|short_date }}")
    with translation.override(language):
        context = Context({"d": moment})
        assert ours.render(context) == django.render(context)
        assert "2027" in ours.render(context)


def test_short_date_of_nothing_is_empty():
    assert (
        Template('{% load visits %}{{ d|short_date|default:"—" }}').render(Context({"d": None}))
        == "—"
    )
