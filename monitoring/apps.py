from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "monitoring"
    verbose_name = "Monitoring: queries, SDV, locks and signatures"

    def ready(self) -> None:
        from trials import history

        from . import models, signals

        signals.connect()
        # Queries, SDV marks, locks and signatures appear in the patient's audit trail.
        for model in (models.DataQuery, models.SdvMark, models.Lock, models.CasebookSignature):
            history.register(model, patient_path="patient_id")
