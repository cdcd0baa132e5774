from django.urls import path

from . import views

app_name = "randomization-api"
urlpatterns = [
    path(
        "patients/<int:patient_pk>/randomize/",
        views.PatientRandomizeApi.as_view(),
        name="patient-randomize",
    ),
    path(
        "patients/<int:patient_pk>/allocation/",
        views.AllocationDetailApi.as_view(),
        name="allocation-detail",
    ),
    path("pharmacy/", views.PharmacyListApi.as_view(), name="pharmacy-list"),
]
