"""The crf app never touches allocation data; its history shows on the patient audit trail."""

from __future__ import annotations

import ast
import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from django.urls import reverse

from crf import services
from crf.models import Visit

CRF_DIR = Path(__file__).resolve().parents[2] / "crf"


def test_crf_code_imports_nothing_from_randomization():
    offenders = []
    for path in CRF_DIR.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            offenders += [f"{path.name}: {n}" for n in names if n.startswith("randomization")]
    assert offenders == []


@pytest.mark.django_db
def test_crf_changes_show_on_the_patient_audit_trail(client, investigator, randomized_patient):
    visit = Visit.objects.get(patient=randomized_patient, definition__code="dose1")
    data = {
        "assessment_date": dt.date(2026, 3, 2),
        "weight_kg": Decimal("70.0"),
        "heart_rate_bpm": 80,
        "systolic_bp_mmhg": 120,
        "diastolic_bp_mmhg": 70,
    }
    services.crf_save(user=investigator, form_code="vitals", visit=visit, data=data, complete=True)
    services.crf_save(
        user=investigator,
        form_code="vitals",
        visit=visit,
        data={**data, "weight_kg": Decimal("71.0")},
        complete=True,
        reason="transcription error",
    )
    client.force_login(investigator)
    html = client.get(
        reverse("trials:patient-history", kwargs={"pk": randomized_patient.pk})
    ).content.decode()
    assert "transcription error" in html
    assert "Weight (kg)" in html
    assert "Planned from the visit schedule" in html
