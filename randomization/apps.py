from django.apps import AppConfig


class RandomizationConfig(AppConfig):
    name = "randomization"
    verbose_name = "Randomization, pharmacy and unblinding"

    def ready(self) -> None:
        from trials import history

        from . import checks  # noqa: F401  (registers the demo-list system check)
        from .blinding import may_see_allocation_trail
        from .models import Allocation, DosePreparation, EmergencyUnblinding

        # The entry id could be matched against the list: hidden, like every unblinded field;
        # the whole trail only for unblinded roles (its time order per stratum is a clue).
        history.register(
            Allocation,
            patient_path="patient_id",
            hidden_fields=("entry",),
            visible_to=may_see_allocation_trail,
        )
        # Blinded trails show a preparation as done on a date, nothing more: its exact time,
        # who checked it and every product field could differ between arms (issue 9).
        history.register(DosePreparation, patient_path="patient_id", shown_fields=("dose_number",))
        history.register(EmergencyUnblinding, patient_path="patient_id")
