from django.urls import path

from . import views

app_name = "monitoring"
urlpatterns = [
    path("overview/", views.trial_overview, name="trial-overview"),
    path("queries/", views.query_list, name="query-list"),
    path("queries/<int:query_pk>/", views.query_detail, name="query-detail"),
    path("patients/<int:patient_pk>/", views.patient_monitoring, name="patient-monitoring"),
    path("patients/<int:patient_pk>/queries/new/", views.query_create, name="query-create"),
    path("patients/<int:patient_pk>/sdv/", views.sdv_mark, name="sdv-mark"),
    path("patients/<int:patient_pk>/sign/", views.casebook_sign, name="casebook-sign"),
    path("locks/<int:lock_pk>/unlock/", views.lock_release, name="lock-release"),
]
