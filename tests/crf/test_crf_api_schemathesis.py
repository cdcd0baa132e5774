"""Schemathesis against the complete OpenAPI schema (issue 11): no 500, no schema violation.

Every operation is called with generated inputs (valid and invalid) through the WSGI app,
as a logged-in investigator with a randomized patient in the database; each answer must not
be a server error and, when its status is documented, must match the documented body.
"""

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

# The Django application itself (liveradvance.wsgi also runs the start-up checks, which read
# the database before a test may).
application = get_wsgi_application()


RAW = json.loads(
    json.dumps(SchemaGenerator().get_schema(request=None, public=True), cls=DjangoJSONEncoder)
)
schema = schemathesis.openapi.from_dict(RAW)


@pytest.fixture
def api_token(randomized_patient, investigator):
    from knox.models import AuthToken

    _record, token = AuthToken.objects.create(user=investigator)
    return token


@schema.parametrize()
@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
@pytest.mark.django_db
def test_no_server_error_and_no_schema_violation(case, api_token):
    response = case.call(app=application, headers={"Authorization": f"Token {api_token}"})
    case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])
