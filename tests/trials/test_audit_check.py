"""The start-up check refuses a clinical model without an audit trail (AT-3)."""

from django.db import models
from django.test.utils import isolate_apps

from trials import checks


def test_every_clinical_model_has_history():
    assert checks.audited_models_have_history(None) == []


def test_a_clinical_model_without_history_is_an_error(monkeypatch):
    with isolate_apps("crf") as registry:

        class Unaudited(models.Model):  # noqa: DJ008 - a throw-away model
            class Meta:
                app_label = "crf"

        monkeypatch.setattr(checks, "apps", registry)
        errors = checks.audited_models_have_history(None)
    assert [e.id for e in errors] == ["liveradvance.E001"]
    assert "crf.Unaudited has no HistoricalRecords" in errors[0].msg
