"""System check: every clinical model keeps an audit trail (21 CFR 11.10(e), AT-3)."""

from django.apps import apps
from django.core import checks

AUDITED_APPS = ("trials", "crf", "randomization", "monitoring")


@checks.register(checks.Tags.models)
def audited_models_have_history(app_configs, **kwargs) -> list[checks.CheckMessage]:
    errors = []
    for model in apps.get_models():
        meta = model._meta
        if meta.app_label not in AUDITED_APPS or meta.abstract or meta.proxy:
            continue
        if model.__name__.startswith("Historical") or getattr(model, "audit_exempt", False):
            continue
        if not hasattr(model, "history"):
            errors.append(
                checks.Error(
                    f"{meta.label} has no HistoricalRecords: every clinical model is audited.",
                    id="liveradvance.E001",
                    obj=model,
                )
            )
    return errors
