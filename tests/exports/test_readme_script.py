"""The README's statistician script (requests + pandas) runs as written: its HTTP calls go
through the whole Django stack (token authentication, throttles, streaming), the CSV it reads
equals the database and its feed loop ends on the last event id."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from requests.structures import CaseInsensitiveDict

from tests.randomization.factories import patients_by_arm, prepare

pytestmark = pytest.mark.usefixtures("feed_visible")

README = Path(__file__).resolve().parents[2] / "README.md"


def _script() -> str:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Exports and the change feed") :]
    return re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)


class _DjangoAdapter(requests.adapters.BaseAdapter):
    """requests' transport replaced by Django's test client (no socket, same stack)."""

    def __init__(self, client) -> None:
        super().__init__()
        self.client = client

    def send(self, request, **kwargs):
        url = urlsplit(request.url)
        path = url.path + (f"?{url.query}" if url.query else "")
        answer = self.client.generic(
            request.method,
            path,
            headers={**request.headers, "Host": url.netloc},
            secure=url.scheme == "https",
        )
        response = requests.Response()
        response.status_code = answer.status_code
        response.headers = CaseInsensitiveDict(answer.headers)
        response._content = (
            b"".join(answer.streaming_content) if answer.streaming else answer.content
        )
        response.url, response.request = request.url, request
        return response

    def close(self) -> None:
        pass


@pytest.mark.django_db
def test_the_readme_script_runs_as_written(
    client, settings, monkeypatch, site, investigator, pharmacist, data_manager
):
    from django.db.models import Max
    from knox.models import AuthToken

    from crf.models import VitalSigns
    from exports.models import ChangeEvent

    settings.ALLOWED_HOSTS = ["edc.example.org"]
    by_arm = patients_by_arm(site, investigator)
    prepare(by_arm["A"], pharmacist, cells=True)  # weighs the patient: a vitals row
    _record, token = AuthToken.objects.create(user=data_manager)
    code = _script()
    assert 'BASE = "https://edc.example.org/api/v1"' in code
    assert '"Token 0123abcd…"' in code
    code = code.replace("https://edc.example.org", "http://edc.example.org")  # test: no TLS
    code = code.replace("0123abcd…", token)
    adapter = _DjangoAdapter(client)
    monkeypatch.setattr(requests.Session, "get_adapter", lambda self, url: adapter)
    namespace: dict = {}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, str(README), "exec"), namespace)  # noqa: S102 - our README, a test
    vitals = namespace["vitals"]
    rows = VitalSigns.objects.all()
    assert len(vitals) == rows.count() >= 1
    assert set(vitals["record_id"]) == {r.pk for r in rows}
    assert str(vitals["assessment_date"].dtype).startswith("datetime64")
    assert {"dataset", "variable", "unit"} <= set(namespace["dictionary"].columns)
    visible = ChangeEvent.objects.filter(seq__isnull=False, unblinded_only=False)
    assert namespace["after"] == visible.aggregate(Max("seq"))["seq__max"]
    assert len(printed.getvalue().splitlines()) == visible.count()
