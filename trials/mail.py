"""E-mails in each recipient's language (issue 17): one message per language group."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.utils import translation


def recipients_by_language(emails: Iterable[str]) -> dict[str, list[str]]:
    """{language: [e-mail, ...]}: each address in its user's chosen language, else the
    site default (addresses of no user, e.g. the sponsor's, get the default)."""
    emails = sorted(set(emails))
    chosen = dict(
        get_user_model()
        .objects.filter(email__in=emails, preference__isnull=False)
        .values_list("email", "preference__language")
    )
    groups: dict[str, list[str]] = {}
    for email in emails:
        groups.setdefault(chosen.get(email, settings.LANGUAGE_CODE), []).append(email)
    return groups


def send_mail_localized(
    recipients: Iterable[str],
    compose: Callable[[], tuple[str, str]],
    from_email: str | None = None,
) -> int:
    """Send ``compose()`` (subject, body) once per language of ``recipients``, composed with
    that language active (gettext, dates and numbers); returns the messages sent."""
    sent = 0
    for language, emails in recipients_by_language(recipients).items():
        with translation.override(language):
            subject, body = compose()
        sent += send_mail(subject, body, from_email, emails)
    return sent
