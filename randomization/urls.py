from django.urls import path

from . import views

app_name = "randomization"
urlpatterns = [
    path("patients/<int:pk>/randomize/", views.patient_randomize, name="patient-randomize"),
    path("pharmacy/", views.pharmacy_list, name="pharmacy-list"),
    path(
        "patients/<int:pk>/preparations/new/",
        views.preparation_create,
        name="preparation-create",
    ),
    path("patients/<int:pk>/unblind/", views.unblinding_create, name="unblinding-create"),
    path("patients/<int:pk>/allocation/", views.allocation_unblinded, name="allocation-unblinded"),
    path("unblindings/", views.unblinding_list, name="unblinding-list"),
    path("list/", views.list_detail, name="list-detail"),
    path("list/generate/", views.list_generate, name="list-generate"),
    path("list/upload/", views.list_upload, name="list-upload"),
    path("list/supersede/", views.list_supersede, name="list-supersede"),
]
