"""Schemathesis on the exports, feed, audit-event and query operations as the roles that use
them (the investigator-only run in tests/crf mostly gets their 403): no 500, and each answer
matches its documented body."""

from __future__ import annotations

import json

import pytest
import schemathesis
from django.core.serializers.json import DjangoJSONEncoder
from django.core.wsgi import get_wsgi_application
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.crf.conftest import frozen_day1, randomized_patient, schedule  # noqa: F401

application = get_wsgi_application()

RAW = json.loads(
    json.dumps(SchemaGenerator().get_schema(request=None, public=True), cls=DjangoJSONEncoder)
)
# GET only: the job POST queues real work; its validation is fuzzed in tests/crf as well.
schema = (
    schemathesis.openapi.from_dict(RAW)
    .include(
        path_regex=r"^/api/v1/(changes|exports|audit-events|queries"
        r"|patients/\{patient_pk\}/(audit-events|queries))/"
    )
    .include(method="GET")
)


@pytest.fixture(params=["data_manager", "monitor"])
def api_token(request, randomized_patient, investigator, settings):  # noqa: F811
    from knox.models import AuthToken

    settings.API_RATE = settings.EXPORTS_FEED_RATE = settings.EXPORTS_FILE_RATE = "100000/min"
    user = request.getfixturevalue(request.param)
    _record, token = AuthToken.objects.create(user=user)
    return token


@schema.parametrize()
@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
@pytest.mark.django_db
def test_no_server_error_and_no_schema_violation(case, api_token):
    response = case.call(app=application, headers={"Authorization": f"Token {api_token}"})
    case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])
