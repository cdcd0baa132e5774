from django.apps import AppConfig


class LiveradvanceConfig(AppConfig):
    """The project package as an app: cross-app wiring, the set-up command and demo data.

    Listed after the domain apps so it can import all of them; they never import it.
    """

    name = "liveradvance"
    verbose_name = "Liveradvance"

    def ready(self) -> None:
        from crf import hooks as crf_hooks
        from crf import selectors as crf_selectors
        from monitoring import selectors as monitoring_selectors
        from monitoring import services as monitoring_services
        from randomization import selectors as randomization_selectors
        from trials import panels

        from . import session  # noqa: F401  (stamps the session at login, #16)

        # The panels of the patient page and the dashboard, in display order. Each provider
        # decides what the user may see (blinding is the providing selector's job).
        for app, module in (
            ("randomization", randomization_selectors),
            ("crf", crf_selectors),
            ("monitoring", monitoring_selectors),
        ):
            # Named directly: a renamed provider fails at start-up, never a silently lost panel.
            panels.register(
                app,
                patient=module.patient_panel_context,
                dashboard=module.dashboard_panel_context,
            )

        # A complete, eligible screening leads straight to the randomization page (#17).
        panels.register_after_screening(randomization_selectors.randomize_url_if_ready)

        # Monitoring guards every eCRF save (locks) and follows it (SDV, automatic queries).
        crf_hooks.register(
            before=monitoring_services.assert_editable,
            after=monitoring_services.crf_saved,
            page=monitoring_selectors.crf_context,
        )
