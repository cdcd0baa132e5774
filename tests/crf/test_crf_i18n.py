"""Issue 17: eCRF pages in Spanish from the data dictionary; every dictionary label has its
Spanish; inputs keep ISO dates and decimal points whatever the language."""

from __future__ import annotations

import gettext
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import translation
from django.utils.functional import Promise

from crf.dictionary import DICTIONARIES
from crf.models import VitalSigns
from tests.crf.test_crf_views import VITALS_POST, crf_url

CATALOGUE = Path(settings.BASE_DIR, "locale", "es", "LC_MESSAGES", "django.mo")


def _spanish(client) -> None:
    client.post("/i18n/setlang/", {"language": "es", "next": "/"})


@pytest.mark.django_db
def test_lab_page_in_spanish_shows_spanish_labels(client, investigator, randomized_patient):
    client.force_login(investigator)
    _spanish(client)
    html = client.get(crf_url(randomized_patient, "dose1", "labs")).content.decode()
    for label in (
        "Bilirrubina total",
        "Creatinina",
        "INR",
        "Encefalopatía hepática (grado de West Haven)",
        "Función hepática y renal",
        "Ascitis",
        "Leve",
    ):
        assert label in html, label
    assert "Total bilirubin" not in html


@pytest.mark.django_db
def test_live_previews_take_their_words_from_the_page_in_spanish(
    client, investigator, randomized_patient
):
    """The scripts of the live previews write no English of their own: their words come
    from data attributes the page renders in the user's language."""
    from django.urls import reverse

    client.force_login(investigator)
    _spanish(client)
    labs = client.get(crf_url(randomized_patient, "dose1", "labs")).content.decode()
    assert 'data-text-no-aclf="sin ACLF"' in labs
    assert 'data-text-missing="Faltan para CLIF-SOFA / CLIF-C ACLF"' in labs
    screening = client.get(
        reverse("trials:screening-edit", args=[randomized_patient.pk])
    ).content.decode()
    assert 'data-text-grade="grado"' in screening
    assert 'data-text-organs="fallos orgánicos"' in screening
    for script in ("labs_live.js", "screening_live.js", "export_progress.js"):
        source = Path(settings.BASE_DIR, "static", "js", script).read_text()
        for english in ("no ACLF", "Missing for", "organ failures", "Failed:"):
            assert f'"{english}' not in source, (script, english)


@pytest.mark.django_db
def test_adverse_event_page_in_spanish(client, investigator, randomized_patient):
    from django.urls import reverse

    client.force_login(investigator)
    _spanish(client)
    url = reverse("crf:ae-create", kwargs={"patient_pk": randomized_patient.pk})
    html = client.get(url).content.decode()
    assert "Acontecimiento" in html
    assert "Intensidad (grado CTCAE)" in html
    assert "3 – grave" in html


@pytest.mark.django_db
def test_spanish_inputs_keep_iso_dates_and_decimal_points(
    client, investigator, randomized_patient
):
    """Decision: an input shows and takes what it took before (the browser's type=date and
    number fields localize the display and send ISO dates and a point); only pages that
    display values use the comma. "72,5" is refused, not read as 725."""
    client.force_login(investigator)
    _spanish(client)
    url = crf_url(randomized_patient, "dose1", "vitals")
    response = client.post(url, {**VITALS_POST, "weight_kg": "72,5"})
    assert response.status_code == 200
    assert not VitalSigns.objects.exists()
    assert client.post(url, VITALS_POST).status_code == 302
    assert str(VitalSigns.objects.get().weight_kg) == "72.5"
    html = client.get(url).content.decode()
    weight_input = (
        html.split('name="weight_kg"')[0].rsplit("<input", 1)[1]
        + html.split('name="weight_kg"')[1].split(">")[0]
    )
    assert 'value="72.5"' in weight_input
    date_input = html.split('name="assessment_date"')[1].split(">")[0]
    assert 'value="2026-03-02"' in date_input


def _labels_of_the_dictionaries() -> list[tuple[str, object]]:
    found = []
    for code, form in DICTIONARIES.items():
        for section in form.sections:
            found.append((f"{code} section", section.title))
            for item in section.items:
                where = f"{code}.{item.name}"
                if item.label:
                    found.append((where, item.label))
                else:
                    found.append((where, form.model_field(item).verbose_name))
                found.append((f"{where} help", item.help))
                if item.shown_if is not None:
                    found.append((f"{where} condition", item.shown_if.text))
                choices = item.choices
                if choices is None:
                    choices = form.model_field(item).choices or ()
                found += [(f"{where} = {v}", text) for v, text in choices]
    return [(where, text) for where, text in found if text]


def test_every_dictionary_label_has_its_spanish():
    """Fails when a label, help, skip condition or code-list text of the data dictionary is
    not translatable (a plain string) or its msgid has no Spanish in the compiled catalogue
    (run makemessages, translate, compilemessages)."""
    with CATALOGUE.open("rb") as mo:
        catalogue = gettext.GNUTranslations(mo)._catalog
    missing = []
    for where, text in _labels_of_the_dictionaries():
        with translation.override("en-gb"):
            english = str(text)
        if not any(c.isalpha() for c in english):
            continue  # "1", "2": the same in any language
        if not isinstance(text, Promise):
            missing.append(f"{where}: {english!r} is not translatable")
            continue
        with translation.override("es"):
            spanish = str(text)
        if english not in catalogue and spanish == english:
            missing.append(f"{where}: {english!r} has no Spanish")
    assert missing == []


@pytest.mark.django_db
def test_default_visit_names_read_in_spanish_and_stay_stored_in_english(
    client, investigator, randomized_patient
):
    from django.urls import reverse

    url = reverse("crf:patient-timeline", kwargs={"patient_pk": randomized_patient.pk})
    client.force_login(investigator)
    assert "Dose 1 (day 1)" in client.get(url).content.decode()
    _spanish(client)
    html = client.get(url).content.decode()
    assert "Dosis 1 (día 1)" in html
    assert "Seguimiento a 28 días" in html
    assert "Dose 1 (day 1)" not in html
    visit = randomized_patient.visits.get(definition__code="dose1")
    assert visit.definition.name == "Dose 1 (day 1)"  # stored, audited and exported as entered
