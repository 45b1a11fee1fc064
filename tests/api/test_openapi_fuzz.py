"""The OpenAPI document is what the server does: schemathesis generates requests from it (valid
and hostile) for four roles, and every answer must be no 5xx, a status the document lists, of
the content type it names, and of the schema it declares."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance, response_schema_conformance, status_code_conformance,
)

import app as _routes  # noqa: F401  (registers every route's declaration)
from api.openapi import openapi_document
from tests.conftest import build_catalog_app, stop_app

ROLES = ("anonymous", "enterprise", "lab_staff", "platform_admin")
# a few minutes in CI over both databases; raise it locally to dig deeper
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "12"))


def no_unexpected_server_error(ctx, response, case) -> None:  # type: ignore[no-untyped-def]
    """A 5xx is a bug, except the 503 an operation documents for a dependency not configured here
    (WeChat sign-in in a demo without WeChat settings)."""
    if response.status_code >= 500 and not (response.status_code == 503 and "503" in case.operation.definition.raw["responses"]):
        raise AssertionError(f"{response.status_code} from {case.method} {case.formatted_path}: {response.text[:300]}")


CHECKS = [no_unexpected_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    # rate limits off: the fuzzer is one client sending hundreds of sign-ins and searches a minute
    application = build_catalog_app(Path(tmp_path_factory.mktemp("fuzz")), RATE_LIMIT_LOGIN_PER_IP="1000000", RATE_LIMIT_SEARCH_PER_IP="1000000")
    yield application
    stop_app(application)


@pytest.fixture(scope="module")
def tokens(fuzz_app: Flask) -> dict[str, str]:
    client = fuzz_app.test_client()
    found = {}
    for role in ROLES[1:]:
        body = {"role": role, **({"institution": "T-CQ-FOOD"} if role == "lab_staff" else {})}
        found[role] = client.post("/api/v1/auth/demo-login", json=body).get_json()["token"]
    return found


# the document is built from the routes' declarations at import, so no app is needed to read it
# valid requests and hostile ones (wrong types, out-of-range numbers, missing fields)
schema = schemathesis.openapi.from_dict(openapi_document(),
                                        config=SchemathesisConfig.from_dict({"generation": {"mode": "all"}}))


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck), database=None)
def test_every_operation_answers_as_documented(case, fuzz_app: Flask, tokens: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    for role in ROLES:  # each generated request, sent as each role
        headers = {"Authorization": f"Bearer {tokens[role]}"} if role in tokens else {}
        case.call_and_validate(app=fuzz_app, headers=headers, checks=CHECKS)
