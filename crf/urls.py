from django.urls import path

from . import views

app_name = "crf"
urlpatterns = [
    path("worklist/", views.visit_worklist, name="visit-worklist"),
    path("patients/<int:patient_pk>/timeline/", views.patient_timeline, name="patient-timeline"),
    path("patients/<int:patient_pk>/visits/new/", views.visit_create, name="visit-create"),
    path("patients/<int:patient_pk>/visits/replan/", views.visit_replan, name="visit-replan"),
    path("visits/<int:visit_pk>/forms/labs/preview/", views.labs_preview, name="labs-preview"),
    path("visits/<int:visit_pk>/forms/<slug:form_code>/", views.crf_edit, name="crf-edit"),
    path("patients/<int:patient_pk>/adverse-events/", views.ae_list, name="ae-list"),
    path("patients/<int:patient_pk>/adverse-events/new/", views.ae_create, name="ae-create"),
    path("adverse-events/<int:ae_pk>/", views.ae_edit, name="ae-edit"),
    path(
        "adverse-events/<int:ae_pk>/entered-in-error/",
        views.ae_entered_in_error,
        name="ae-entered-in-error",
    ),
    path("patients/<int:patient_pk>/end-of-study/", views.eos_edit, name="eos-edit"),
    path(
        "patients/<int:patient_pk>/records/<slug:form_code>/",
        views.record_list,
        name="record-list",
    ),
    path(
        "patients/<int:patient_pk>/records/<slug:form_code>/new/",
        views.record_edit,
        name="record-create",
    ),
    path(
        "patients/<int:patient_pk>/records/<slug:form_code>/<int:pk>/",
        views.record_edit,
        name="record-edit",
    ),
    path("schedule/", views.schedule_list, name="schedule-list"),
    path("schedule/<int:definition_pk>/", views.schedule_edit, name="schedule-edit"),
]
