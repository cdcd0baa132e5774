from django.urls import path

from . import views

app_name = "exports-api"
urlpatterns = [
    path("changes/", views.ChangeFeedApi.as_view(), name="change-feed"),
]
