from django.urls import path

from . import views

app_name = "exports"
urlpatterns = [
    path("", views.export_page, name="export-page"),
    path("jobs/status/", views.job_status, name="job-status"),
    path("jobs/<int:job_pk>/download/", views.job_download, name="job-download"),
]
