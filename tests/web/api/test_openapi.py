"""openapi.json describes exactly the routes that exist, with the roles they check; fuzzing finds no 500s."""
from __future__ import annotations

import os
import re
from typing import Any

import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error, response_schema_conformance, status_code_conformance

from app.inventory.schema import Role
from app.web.api.openapi import DOCUMENT
from tests.web.admin.helpers import make_alert, make_execution
from tests.web.api.conftest import Api

FUZZ_EXAMPLES = int(os.environ.get("OPENCLAW_FUZZ_EXAMPLES", "6"))  # per operation and mode; raise for a deeper run


def routes_in_app(app: Flask) -> dict[tuple[str, str], str]:
    """(method, path in OpenAPI spelling) -> endpoint, for every /api/v1 route but the document itself."""
    found = {}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.endpoint == "api.openapi":
            continue
        path = re.sub(r"<(?:\w+(?:\([^)]*\))?:)?(\w+)>", r"{\1}", rule.rule.removeprefix("/api/v1"))
        for method in rule.methods or ():
            if method not in ("HEAD", "OPTIONS"):
                found[(method.lower(), path)] = rule.endpoint
    return found


def test_the_document_lists_every_route_and_nothing_else(app: Flask) -> None:
    documented = {(method, path) for path, item in DOCUMENT["paths"].items() for method in item}
    assert documented == set(routes_in_app(app))


def test_the_document_states_the_role_each_route_checks(app: Flask) -> None:
    for (method, path), endpoint in routes_in_app(app).items():
        declared = DOCUMENT["paths"][path][method]["x-role"]
        assert Role(declared) is app.view_functions[endpoint].required_role, (method, path)


def test_the_document_is_served_without_a_token(app: Flask) -> None:
    response = app.test_client().get("/api/v1/openapi.json")
    assert response.status_code == 200 and response.get_json()["openapi"] == "3.0.3"


def test_fuzzing_every_operation_finds_no_server_errors_and_answers_match_the_document(
    app: Flask, api: Api, tokens: dict[Role, str]
) -> None:
    make_alert()
    make_execution()
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    headers = {"Authorization": f"Bearer {tokens[Role.ADMIN]}"}
    checks = (not_a_server_error, status_code_conformance, response_schema_conformance)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == sum(len(item) for item in DOCUMENT["paths"].values())
    for operation in operations:
        # Valid requests must get documented answers; invalid ones (wrong types, out of range) never a 500.
        fuzz(operation, GenerationMode.POSITIVE, headers, checks)
        fuzz(operation, GenerationMode.NEGATIVE, headers, (not_a_server_error,))


def fuzz(operation: Any, mode: GenerationMode, headers: dict[str, str], checks: tuple[Any, ...]) -> None:
    """Send FUZZ_EXAMPLES generated requests to one operation and run checks on each answer."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=FUZZ_EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def run(case: Any) -> None:
        response = case.call(headers=headers)
        case.validate_response(response, checks=checks)

    run()
