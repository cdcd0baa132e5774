from django.urls import path

from . import views

app_name = "trials-api"
urlpatterns = [
    path("patients/", views.PatientListApi.as_view(), name="patient-list"),
    path("patients/<int:pk>/", views.PatientDetailApi.as_view(), name="patient-detail"),
    path("scores/calculate/", views.ScoreCalculateApi.as_view(), name="score-calculate"),
    # issue 15
    path("trials/", views.TrialListApi.as_view(), name="trial-list"),
    path("sites/", views.SiteListApi.as_view(), name="site-list"),
    path(
        "patients/<int:patient_pk>/scores/",
        views.PatientScoreListApi.as_view(),
        name="patient-score-list",
    ),
]
