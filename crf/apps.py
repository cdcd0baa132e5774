from django.apps import AppConfig


class CrfConfig(AppConfig):
    name = "crf"
    verbose_name = "Visits and eCRFs"

    def ready(self) -> None:
        from trials import history

        from . import models

        history.register(models.Visit, patient_path="patient_id")
        for model in (
            models.VitalSigns,
            models.LabResult,
            models.Hemodynamics,
            models.Administration,
            models.BiologicalSample,
            models.FollowUp,
            models.AdverseEvent,
            models.EndOfStudy,
        ):
            history.register(model, patient_path="patient_id")
