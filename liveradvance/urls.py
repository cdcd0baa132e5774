from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from trials.account_views import language_set

from .health import healthz

# A branded admin: the trial's name, not "Django administration".
admin.site.site_header = "Liveradvance EDC administration"
admin.site.site_title = "Liveradvance EDC admin"
admin.site.index_title = "Trial configuration and accounts"

urlpatterns = [
    # Browsers ask for /favicon.ico whatever the page says.
    path(
        "favicon.ico",
        RedirectView.as_view(url=static("img/favicon.svg"), permanent=True),
        name="favicon",
    ),
    path("healthz/", healthz, name="healthz"),
    # issue 17: the language switch (POST): the language cookie, and the user's preference.
    path("i18n/setlang/", language_set, name="set_language"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    # issue 11: password change, and reset by e-mail (Django's views, our templates).
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("trials.api.urls")),
    path("api/v1/", include("crf.api.urls")),
    path("api/v1/", include("randomization.api.urls")),
    path("api/v1/", include("exports.api.urls")),
    path("api/v1/", include("monitoring.api.urls")),
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # Split view: the Swagger initializer is a separate script, allowed by the CSP (issue 11).
    path(
        "api/v1/docs/",
        SpectacularSwaggerSplitView.as_view(url_name="api-schema"),
        name="api-docs",
    ),
    path("crf/", include("crf.urls")),
    path("randomization/", include("randomization.urls")),
    path("exports/", include("exports.urls")),
    path("monitoring/", include("monitoring.urls")),
    path("", include("trials.urls")),
]
