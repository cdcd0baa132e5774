from django.apps import AppConfig


class RandomizationConfig(AppConfig):
    name = "randomization"
    verbose_name = "Randomization, pharmacy and unblinding"

    def ready(self) -> None:
        from trials import history

        from .models import Allocation, DosePreparation, EmergencyUnblinding

        # The entry id could be matched against the list: hidden, like every unblinded field.
        history.register(Allocation, patient_path="patient_id", hidden_fields=("entry",))
        history.register(
            DosePreparation,
            patient_path="patient_id",
            # The prescribed cell count is 0 for the other arm: as secret as the cell count.
            hidden_fields=(
                "product_lot",
                "cell_count",
                "viability_pct",
                "volume_ml",
                "prescribed_cells",
                "weight_kg",
                "weight_measured_on",
                "confirmations",
            ),
        )
        history.register(EmergencyUnblinding, patient_path="patient_id")
