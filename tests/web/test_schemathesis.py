"""Fuzzing the API from its OpenAPI schema (bounded and deterministic): no request may cause a 5xx.

Every operation of the schema gets a few Hypothesis-generated requests, sent
with an admin's credentials so they pass authentication and reach the code.
The operations are driven directly (not through schemathesis' pytest plugin)
so the run stays one bounded test per database backend.
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings

from evidencehub.config import Settings
from evidencehub.db.session import Database
from evidencehub.web import create_app
from tests.support.web import World

EXAMPLES_PER_OPERATION = 6


def test_no_generated_request_causes_a_server_error(
    settings: Settings, database: Database, world: World
) -> None:
    # Objects with small ids, which the generated requests often name: they reach past the 404s.
    world.new_failure("own")
    world.new_audit_report("own")
    app = create_app(settings, database=database, run_consumer=False)
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    headers = world.callers["admin"].headers
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20
    failures: list[str] = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @hypothesis_settings(
            max_examples=EXAMPLES_PER_OPERATION,
            derandomize=True,  # the same examples on every run: a CI failure reproduces locally
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: schemathesis.Case) -> None:
            response = case.call(headers=headers)
            if response.status_code >= 500:
                failures.append(
                    f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:300]}"
                )

        check()
    assert failures == []


def test_the_schema_documents_every_access_rule(settings: Settings, database: Database) -> None:
    document = create_app(settings, database=database, run_consumer=False).openapi()
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            assert "x-required-permission" in operation or operation.get("x-public"), f"{method} {path}"
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
