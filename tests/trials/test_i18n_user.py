"""Issue 17: the language is the user's (stored, any browser); e-mails in the recipient's
language; human-readable dates with the time zone; the audit trail keeps UTC visible."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from django.core import mail
from django.template import Context, Template
from django.template.loader import render_to_string
from django.test import Client
from django.urls import reverse
from django.utils import translation

from tests.conftest import PASSWORD, make_user
from trials import services
from trials.models import UserPreference
from trials.roles import Role

pytestmark = pytest.mark.django_db


def _login(client: Client, user) -> None:
    response = client.post(reverse("login"), {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302, response.content[:500]


def _dashboard(client: Client) -> str:
    return client.get(reverse("trials:dashboard")).content.decode()


def test_a_users_language_follows_them_to_a_fresh_browser(investigator, groups, site):
    other = make_user(groups, Role.INVESTIGATOR, site, username="other-investigator")
    browser = Client()
    _login(browser, investigator)
    browser.post(reverse("set_language"), {"language": "es", "next": "/"})
    assert UserPreference.objects.get(user=investigator).language == "es"
    assert UserPreference.history.filter(user=investigator).exists()  # audited
    browser.post(reverse("logout"))

    fresh = Client()  # no cookie, no session: only the stored preference
    _login(fresh, investigator)
    html = _dashboard(fresh)
    assert '<html lang="es">' in html
    assert ">Pacientes<" in html
    # The cookie follows the stored choice, so the login page after logout is Spanish too.
    assert fresh.cookies["django_language"].value == "es"

    someone_else = Client()
    _login(someone_else, other)
    assert '<html lang="en">' in _dashboard(someone_else)


def test_the_stored_choice_wins_over_the_browsers_cookie(investigator):
    services.user_language_set(user=investigator, language="es")
    browser = Client()
    browser.cookies["django_language"] = "en-gb"
    _login(browser, investigator)
    assert '<html lang="es">' in _dashboard(browser)


def test_an_anonymous_choice_stays_in_the_cookie(client):
    client.post(reverse("set_language"), {"language": "es", "next": reverse("login")})
    assert not UserPreference.objects.exists()
    assert '<html lang="es">' in client.get(reverse("login")).content.decode()


def test_an_unknown_language_is_refused(investigator):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        services.user_language_set(user=investigator, language="xx")


def test_the_language_costs_no_query_per_request(client, investigator, django_assert_num_queries):
    """The preference is read once at login (into the session), not on every page."""
    _login(client, investigator)
    client.get(reverse("trials:dashboard"))
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as english:
        client.get(reverse("trials:dashboard"))
    client.post(reverse("set_language"), {"language": "es", "next": "/"})
    client.get(reverse("trials:dashboard"))
    with CaptureQueriesContext(connection) as spanish:
        client.get(reverse("trials:dashboard"))
    assert len(spanish) == len(english)
    assert not [q for q in spanish.captured_queries if "userpreference" in q["sql"]]


# --- e-mails in the recipient's language ------------------------------------------------------


def test_dose_due_email_is_in_each_pharmacists_language(site, groups, patient):
    from randomization.services import pharmacists_notify_dose_due

    spanish = make_user(groups, Role.PHARMACIST, site, username="farmacia")
    english = make_user(groups, Role.PHARMACIST, site, username="pharmacy")
    spanish.email, english.email = "farmacia@example.org", "pharmacy@example.org"
    spanish.save()
    english.save()
    services.user_language_set(user=spanish, language="es")
    patient.subject_id = "LA-01-001"
    patient.save()

    with translation.override("en-gb"):
        sent = pharmacists_notify_dose_due(
            patient_id=patient.pk, dose_number=2, due_on=dt.date(2026, 11, 26)
        )
        assert translation.get_language() == "en-gb"  # the sender's language is left alone

    assert sent == 2
    by_to = {m.to[0]: m for m in mail.outbox}
    es, en = by_to["farmacia@example.org"], by_to["pharmacy@example.org"]
    assert es.subject == "[Liveradvance] Dosis 2 pendiente para LA-01-001"
    assert "La dosis 2 está prevista el 26 nov 2026." in es.body
    assert en.subject == "[Liveradvance] Dose 2 due for LA-01-001"
    assert "Dose 2 is due on 26 Nov 2026." in en.body


def test_password_link_is_in_the_users_language(investigator, trial_admin):
    investigator.email = "inv@example.org"
    investigator.save()
    services.user_language_set(user=investigator, language="es")
    services.password_link_send(sent_by=trial_admin, user=investigator)
    assert mail.outbox[0].subject == "[Liveradvance] Establezca su contraseña"
    assert "Solo funciona una vez." in mail.outbox[0].body


def test_visits_digest_template_in_spanish(site):
    with translation.override("es"):
        body = render_to_string(
            "crf/email/visits_digest.txt",
            {"site": site, "visits": [], "today": dt.date(2026, 11, 26)},
        )
    assert "visitas pendientes y atrasadas en el centro 01 el 26 nov 2026" in body
    assert "Abra la lista de trabajo" in body


# --- dates: human-readable, with the time zone --------------------------------------------


@pytest.mark.parametrize(
    ("language", "date", "timestamp"),
    [
        ("en-gb", "26 Nov 2026", "26 Nov 2026, 14:05 CET"),
        ("es", "26 nov 2026", "26 nov 2026, 14:05 CET"),
    ],
)
def test_dates_are_human_readable_with_the_zone(language, date, timestamp):
    moment = dt.datetime(2026, 11, 26, 13, 5, tzinfo=dt.UTC)  # Europe/Madrid: 14:05 CET
    template = Template(
        "{{ d|date:'SHORT_DATE_FORMAT' }}|{{ t|date:'SHORT_DATETIME_FORMAT' }}"
        "|{{ t|date:'DATETIME_FORMAT' }}"
    )
    with translation.override(language):
        rendered = template.render(Context({"d": moment.date(), "t": moment}))
    assert rendered.split("|") == [date, timestamp, timestamp.replace("14:05", "14:05:00")]


def test_summer_time_shows_its_own_zone():
    moment = dt.datetime(2026, 7, 1, 8, 0, tzinfo=dt.UTC)
    with translation.override("es"):
        assert Template("{{ t|date:'SHORT_DATETIME_FORMAT' }}").render(Context({"t": moment})) == (
            "1 jul 2026, 10:00 CEST"
        )


def test_audit_trail_shows_local_time_with_zone_and_the_utc_value():
    entry = SimpleNamespace(
        when=dt.datetime(2026, 11, 26, 13, 5, 9, tzinfo=dt.UTC),
        date_only=False,
        user="inv",
        role="",
        patient_id=None,
        object_label="Vital signs",
        action="changed",
        changes=[],
        reason="",
    )
    with translation.override("es"):
        html = render_to_string("trials/_audit_entries.html", {"entries": [entry]})
    assert "26 nov 2026, 14:05:09 CET" in html
    assert "2026-11-26 13:05:09 UTC" in html
    assert 'datetime="2026-11-26T13:05:09+00:00"' in html


def test_templates_no_longer_show_fixed_iso_dates():
    """Pages show dates in the language's format; only the audit trail's UTC value and
    machine attributes keep ISO."""
    from pathlib import Path

    from django.conf import settings

    fixed = []
    for path in Path(settings.BASE_DIR, "templates").rglob("*.*"):
        for n, line in enumerate(path.read_text().splitlines(), start=1):
            for fmt in (
                '|date:"Y-m-d"',
                "|date:'Y-m-d'",
                '|date:"Y-m-d H:i"',
                '|date:"Y-m-d H:i T"',
                '|date:"Y-m-d H:i:s T"',
            ):
                if fmt in line:
                    fixed.append(f"{path.name}:{n}")
    assert fixed == []


def test_stored_audit_text_stays_english_whatever_the_users_language(investigator, trial_admin):
    from trials.models import AccessEvent

    with translation.override("es"):
        services.role_revoke(
            revoked_by=trial_admin,
            user=investigator,
            role=Role.INVESTIGATOR,
            reason="Left the hospital at the end of March",
        )
    event = AccessEvent.objects.get(action=AccessEvent.Action.ROLE_REVOKED)
    assert event.detail.startswith("Investigator: ")


# --- the whole interface has its Spanish (the rest of issue 17) -------------------------------


def _po_entries(path) -> list[tuple[str, str, bool]]:
    """(msgid, msgstr of every form joined, fuzzy) of each entry of a .po file."""
    import ast

    entries = []
    for block in path.read_text(encoding="utf-8").strip().split("\n\n"):
        fuzzy = any(line.startswith("#,") and "fuzzy" in line for line in block.splitlines())
        msgid, msgstrs, current = [], [], None
        for line in block.splitlines():
            if line.startswith("msgid "):
                current = msgid
            elif line.startswith("msgstr"):
                current = []
                msgstrs.append(current)
            elif not line.startswith('"'):
                current = None if line.startswith("msgctxt") or line.startswith("#") else current
                continue
            if current is not None:
                current.append(ast.literal_eval(line[line.index('"') :]))
        if msgid:
            entries.append(("".join(msgid), ["".join(s) for s in msgstrs], fuzzy))
    return entries


def test_the_spanish_catalogue_has_no_untranslated_or_fuzzy_entry():
    """Fails when makemessages added a msgid without its Spanish, or left a fuzzy guess."""
    from pathlib import Path

    from django.conf import settings

    po = Path(settings.BASE_DIR, "locale", "es", "LC_MESSAGES", "django.po")
    entries = _po_entries(po)
    assert len(entries) > 1000
    untranslated = [m for m, strs, _ in entries if m and (not strs or "" in strs)]
    fuzzy = [m for m, _, is_fuzzy in entries if m and is_fuzzy]
    assert untranslated == []
    assert fuzzy == []


def _spanish_client(user) -> Client:
    services.user_language_set(user=user, language="es")
    browser = Client()
    _login(browser, user)
    return browser


def test_a_spanish_users_patient_page_has_spanish_panels(investigator, patient):
    html = _spanish_client(investigator).get(reverse("trials:patient-detail", args=[patient.pk]))
    html = html.content.decode()
    for heading in (">Selección<", ">Aleatorización<", ">Monitorización<", "No aleatorizado."):
        assert heading in html, heading
    for english in (">Randomization<", ">Monitoring<", "Not randomized.", "Casebook not signed."):
        assert english not in html, english


def test_an_english_users_patient_page_stays_english(investigator, patient):
    browser = Client()
    _login(browser, investigator)
    html = browser.get(reverse("trials:patient-detail", args=[patient.pk])).content.decode()
    for heading in (">Randomization<", ">Monitoring<", "Not randomized.", "Casebook not signed."):
        assert heading in html, heading


def test_a_spanish_pharmacists_pharmacy_page(pharmacist):
    html = _spanish_client(pharmacist).get(reverse("randomization:pharmacy-list")).content.decode()
    assert '<h1 class="h3">Farmacia <span' in html
    assert "no enmascarado" in html
    assert "Ningún paciente en tratamiento en sus centros." in html
    assert "Pharmacy" not in html.split("<main", 1)[-1]


def test_a_spanish_monitors_query_list(monitor):
    html = _spanish_client(monitor).get(reverse("monitoring:query-list")).content.decode()
    assert '<h1 class="h3">Consultas de datos</h1>' in html
    for text in (">Solo vencidas<", ">Filtrar<", ">Abierta por<", "Ninguna consulta coincide."):
        assert text in html, text
    assert "Data queries" not in html


def test_the_login_page_in_spanish(client):
    client.post(reverse("set_language"), {"language": "es", "next": reverse("login")})
    html = client.get(reverse("login")).content.decode()
    assert '<h1 class="h4 mb-3">Iniciar sesión</h1>' in html
    assert "Log in" not in html
    reset = client.get(reverse("password_reset")).content.decode()
    assert "Restablezca su contraseña" in reset


def test_eligibility_reasons_are_shown_in_the_readers_language():
    from trials.eligibility import NOT_ANSWERED

    with translation.override("es"):
        assert str(NOT_ANSWERED[1]) == "Sin responder"
    with translation.override("en"):
        assert str(NOT_ANSWERED[1]) == "Not answered"
