"""Offline: no page loads CSS, JS or fonts from another host (non-negotiable 7)."""

import re

import pytest
from django.urls import reverse

EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//(?!127\.0\.0\.1|localhost)""")

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("name", ["login", "trials:dashboard", "trials:patient-list", "api-docs"])
def test_pages_load_assets_from_the_project_only(client, investigator, name):
    client.force_login(investigator)
    body = client.get(reverse(name)).content.decode()
    assert not EXTERNAL.search(body), EXTERNAL.search(body)


def test_swagger_ui_assets_are_served_locally(client, investigator):
    client.force_login(investigator)
    body = client.get(reverse("api-docs")).content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in body
