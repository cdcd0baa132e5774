"""Panels other apps add to the patient page and the dashboard.

``trials`` imports no other app: the project wires the providers in
``liveradvance/apps.py``. A provider is ``patient(*, user, patient) -> dict | None`` or
``dashboard(*, user) -> dict | None``, rendered with ``templates/<app>/_<kind>_panel.html``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Provider = Callable[..., dict[str, Any] | None]
_PROVIDERS: dict[str, list[tuple[str, Provider]]] = {"patient": [], "dashboard": []}


def register(app: str, *, patient: Provider | None = None, dashboard: Provider | None = None):
    for kind, provider in (("patient", patient), ("dashboard", dashboard)):
        registered = _PROVIDERS[kind]
        if provider is not None and all(name != app for name, _ in registered):
            registered.append((app, provider))


def render_context(kind: str, **kwargs: Any) -> list[dict[str, Any]]:
    """The panels of one page, in registration order; a provider returning None shows none."""
    panels = []
    for app, provider in _PROVIDERS[kind]:
        context = provider(**kwargs)
        if context is not None:
            panels.append({"template": f"{app}/_{kind}_panel.html", **context})
    return panels


# Where a completed screening leads (issue 17: straight on to randomization when the patient
# is ready for it); the provider lives in a later app, wired in liveradvance/apps.py.
NextStep = Callable[..., str | None]
_AFTER_SCREENING: list[NextStep] = []


def register_after_screening(provider: NextStep) -> None:
    if provider not in _AFTER_SCREENING:
        _AFTER_SCREENING.append(provider)


def after_screening_url(*, user, patient) -> str | None:
    """The first registered next step that applies to this patient, else None."""
    for provider in _AFTER_SCREENING:
        url = provider(user=user, patient=patient)
        if url:
            return url
    return None
