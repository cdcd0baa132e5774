"""Where apps above ``crf`` plug into the eCRF save and page (wired in ``liveradvance/apps.py``).

``crf`` imports neither ``monitoring`` nor ``randomization``: monitoring's locks, SDV and
automatic queries reach the save path through these lists, so the dependency points one way.

- ``before_save(*, patient, visit, form_code, record_id)`` raises ``ValidationError`` to
  refuse the change (a lock);
- ``after_save(*, user, form_code, instance, warnings, reason)`` reacts to a stored form;
- ``page_context(*, user, spec, patient, visit, instance) -> dict`` adds to the entry page
  (``locked``: a message that makes the page read-only).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

before_save: list[Callable[..., None]] = []
after_save: list[Callable[..., None]] = []
page_context: list[Callable[..., dict[str, Any]]] = []


def register(
    *,
    before: Callable[..., None] | None = None,
    after: Callable[..., None] | None = None,
    page: Callable[..., dict[str, Any]] | None = None,
) -> None:
    for hooks, hook in ((before_save, before), (after_save, after), (page_context, page)):
        if hook is not None and hook not in hooks:
            hooks.append(hook)


def page_context_for(**kwargs: Any) -> dict[str, Any]:
    """The merged page context of every provider (``locked`` empty when none is wired)."""
    context: dict[str, Any] = {"locked": ""}
    for provider in page_context:
        context.update(provider(**kwargs))
    return context
