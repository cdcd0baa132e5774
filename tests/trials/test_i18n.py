"""Issue 17: Spanish and English, chosen per user (language cookie), English by default."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.template import Context, Template
from django.urls import reverse
from django.utils import translation

pytestmark = pytest.mark.django_db


def test_english_by_default(client, investigator):
    client.force_login(investigator)
    html = client.get(reverse("trials:dashboard")).content.decode()
    assert '<html lang="en">' in html
    assert ">Patients<" in html
    assert "Español" in html  # the switch offers the other language


def test_user_switches_to_spanish_and_it_sticks(client, investigator):
    client.force_login(investigator)
    response = client.post(
        reverse("set_language"), {"language": "es", "next": reverse("trials:dashboard")}
    )
    assert response.status_code == 302
    html = client.get(reverse("trials:dashboard")).content.decode()
    assert '<html lang="es">' in html
    assert ">Pacientes<" in html
    assert "Cerrar sesión" in html
    assert "Registrar un paciente para selección" in html
    assert "English" in html  # and back


def test_compiled_catalogue_is_committed():
    """Run time needs no gettext: the .mo is in the repository and translates."""
    with translation.override("es"):
        assert translation.gettext("Save as complete") == "Guardar como completo"


def test_decimals_and_dates_formatted_for_the_language_stored_the_same():
    template = Template("{{ v }} {{ d|date:'DATE_FORMAT' }}")
    import datetime as dt

    context = Context({"v": Decimal("72.5"), "d": dt.date(2026, 3, 2)})
    with translation.override("es"):
        assert template.render(context).startswith("72,5 2 de marzo de 2026")
    with translation.override("en-gb"):
        assert template.render(context).startswith("72.5 2 Mar 2026")


def test_messages_follow_the_language(client, investigator, patient):
    from tests.trials.screening_data import as_post, eligible_screening_data

    client.force_login(investigator)
    client.post(reverse("set_language"), {"language": "es", "next": "/"})
    response = client.post(
        reverse("trials:screening-edit", kwargs={"pk": patient.pk}),
        {**as_post(eligible_screening_data()), "draft": "1"},
        follow=True,
    )
    assert "Selección guardada." in response.content.decode()
