from django.urls import path

from . import views

app_name = "trials"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("patients/", views.patient_list, name="patient-list"),
    path("patients/new/", views.patient_create, name="patient-create"),
    path("patients/<int:pk>/", views.patient_detail, name="patient-detail"),
    path("patients/<int:pk>/screening/", views.screening_edit, name="screening-edit"),
    path("patients/<int:pk>/history/", views.patient_history, name="patient-history"),
    path("audit-log/", views.audit_log, name="audit-log"),
    path("scores/calculator/", views.score_calculator, name="score-calculator"),
    path("screening-log/", views.screening_log, name="screening-log"),
    path("access/role-requests/", views.role_requests, name="role-requests"),
]
