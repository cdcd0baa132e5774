from django.urls import path

from . import views

app_name = "crf-api"
urlpatterns = [
    path("patients/<int:patient_pk>/visits/", views.VisitListApi.as_view(), name="visit-list"),
    path("visits/<int:visit_pk>/", views.VisitDetailApi.as_view(), name="visit-detail"),
    path(
        "visits/<int:visit_pk>/forms/<slug:form_code>/",
        views.CrfDetailApi.as_view(),
        name="crf-detail",
    ),
    path(
        "patients/<int:patient_pk>/adverse-events/",
        views.AdverseEventListApi.as_view(),
        name="ae-list",
    ),
    path("adverse-events/<int:ae_pk>/", views.AdverseEventDetailApi.as_view(), name="ae-detail"),
    path(
        "patients/<int:patient_pk>/records/<slug:form_code>/",
        views.PatientRecordListApi.as_view(),
        name="record-list",
    ),
    path(
        "patients/<int:patient_pk>/records/<slug:form_code>/<int:pk>/",
        views.PatientRecordDetailApi.as_view(),
        name="record-detail",
    ),
    path(
        "patients/<int:patient_pk>/end-of-study/",
        views.EndOfStudyApi.as_view(),
        name="eos-detail",
    ),
]
