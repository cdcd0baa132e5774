from django.apps import AppConfig


class CrfConfig(AppConfig):
    name = "crf"
    verbose_name = "Visits and eCRFs"

    def ready(self) -> None:
        from trials import history

        from . import models, registry

        history.register(models.Visit, patient_path="patient_id")
        # Every eCRF, its field labels in the audit trail from its data dictionary.
        for spec in registry.FORMS.values():
            history.register(
                spec.model, patient_path="patient_id", labels=spec.dictionary.audit_labels()
            )
