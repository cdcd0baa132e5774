from django.urls import path

from . import account_views, views

app_name = "trials"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("overview/", views.trial_overview, name="trial-overview"),
    path("patients/", views.patient_list, name="patient-list"),
    path("patients/new/", views.patient_create, name="patient-create"),
    path("patients/<int:pk>/", views.patient_detail, name="patient-detail"),
    path("patients/<int:pk>/screening/", views.screening_edit, name="screening-edit"),
    path(
        "patients/<int:pk>/screening/preview/",
        views.screening_preview,
        name="screening-preview",
    ),
    path("patients/<int:pk>/history/", views.patient_history, name="patient-history"),
    path(
        "patients/<int:pk>/identity/",
        views.patient_identity_correct,
        name="patient-identity-correct",
    ),
    path("audit-log/", views.audit_log, name="audit-log"),
    path("scores/calculator/", views.score_calculator, name="score-calculator"),
    path("screening-log/", views.screening_log, name="screening-log"),
    path("access/role-requests/", views.role_requests, name="role-requests"),
    path("accounts/tokens/", account_views.token_list, name="token-list"),
    path("accounts/lockouts/", account_views.lockout_list, name="lockout-list"),
    path("accounts/lockouts/clear/", account_views.lockout_clear, name="lockout-clear"),
]
