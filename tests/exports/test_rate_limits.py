"""Every API view is rate-limited per user (the feed and the exports have their own rates)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("role", "url"),
    [
        ("investigator", "/api/v1/patients/"),
        ("monitor", "/api/v1/queries/"),
        ("monitor", "/api/v1/audit-events/"),
    ],
)
def test_the_default_api_rate_gives_a_429_with_retry_after(client, request, settings, role, url):
    settings.API_RATE = "3/min"
    client.force_login(request.getfixturevalue(role))
    responses = [client.get(url) for _ in range(4)]
    assert [r.status_code for r in responses] == [200, 200, 200, 429]
    assert int(responses[-1]["Retry-After"]) > 0
    assert responses[-1]["Content-Type"].startswith("application/json")
