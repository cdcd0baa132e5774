from django.urls import path

from . import views

app_name = "exports-api"
urlpatterns = [
    path("changes/", views.ChangeFeedApi.as_view(), name="change-feed"),
    path("audit-events/", views.AuditEventListApi.as_view(), name="audit-event-list"),
    path(
        "patients/<int:patient_pk>/audit-events/",
        views.PatientAuditEventListApi.as_view(),
        name="patient-audit-event-list",
    ),
    path("exports/", views.ExportIndexApi.as_view(), name="export-index"),
    path("exports/dictionary/", views.DictionaryApi.as_view(), name="export-dictionary"),
    path("exports/odm/", views.OdmExportApi.as_view(), name="export-odm"),
    path("exports/jobs/", views.ExportJobListApi.as_view(), name="job-list"),
    path("exports/jobs/<int:job_pk>/", views.ExportJobDetailApi.as_view(), name="job-detail"),
    path(
        "exports/jobs/<int:job_pk>/download/",
        views.ExportJobDownloadApi.as_view(),
        name="job-download",
    ),
    path("exports/<slug:dataset>/csv/", views.DatasetCsvApi.as_view(), name="export-csv"),
    path("exports/<slug:dataset>/json/", views.DatasetJsonApi.as_view(), name="export-json"),
]
