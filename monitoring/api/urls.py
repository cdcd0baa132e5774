from django.urls import path

from . import views

app_name = "monitoring-api"
urlpatterns = [
    path("queries/", views.QueryListApi.as_view(), name="query-list"),
    path("queries/<int:query_pk>/", views.QueryDetailApi.as_view(), name="query-detail"),
    path(
        "patients/<int:patient_pk>/queries/",
        views.PatientQueryApi.as_view(),
        name="patient-queries",
    ),
]
