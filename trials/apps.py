from django.apps import AppConfig


class TrialsConfig(AppConfig):
    name = "trials"
    verbose_name = "Trial, sites, patients and screening"

    def ready(self) -> None:
        from . import (
            auth,  # noqa: F401  (connects the session/token revocation signals)
            checks,  # noqa: F401  (registers the audit system check)
            history,
            signals,
        )
        from .models import Patient, Screening

        signals.connect()
        history.immutability_connect(self)
        history.history_managers_once()  # every app's models are loaded before ready()
        history.register(Patient, patient_path="id")
        history.register(Screening, patient_path="patient_id")
