"""The OpenAPI description is committed, so any change to the contract is a visible diff."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient

COMMITTED = Path(__file__).parents[2] / "schemas" / "openapi.json"
REGENERATE = ".venv/bin/cpl-service openapi > schemas/openapi.json"


def test_description_matches_the_committed_one(client: TestClient) -> None:
    served = client.get("/openapi.json").json()
    committed = json.loads(COMMITTED.read_text())
    assert served == committed, f"The API contract changed; review it and run: {REGENERATE}"


def test_every_operation_documents_its_problems(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    assert "HTTPValidationError" not in document["components"]["schemas"]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            if path == "/healthz":
                continue
            problem = responses["422"]["content"]["application/problem+json"]
            assert problem["example"]["status"] == 422, (method, path)
            if operation.get("security"):
                assert "401" in responses, (method, path)
            if "{" in path:
                assert "404" in responses, (method, path)
    upload = document["paths"]["/api/v1/submissions"]["post"]["responses"]
    assert upload["422"]["content"]["application/problem+json"]["schema"] == {
        "$ref": "#/components/schemas/WorkbookProblem"
    }
    assert {"413", "415"} <= set(upload)


def test_the_input_guards_limits_are_documented_where_they_apply(client: TestClient) -> None:
    """A long query string (414) or an oversized JSON body (413) is refused before any
    route runs: every operation that takes a query or a body says so, as it answers."""
    document = client.get("/openapi.json").json()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            takes_query = any(p["in"] == "query" for p in operation.get("parameters", []))
            assert ("414" in responses) == takes_query, (method, path)
            if "requestBody" in operation:
                assert "413" in responses, (method, path)
    answer = client.get("/api/v1/cpl", params={"q": "x" * 5000})
    assert answer.status_code == 414
    assert answer.json()["type"] == "/problems/query-too-long"
    documented = document["paths"]["/api/v1/cpl"]["get"]["responses"]["414"]
    example = documented["content"]["application/problem+json"]["example"]
    assert example["type"] == answer.json()["type"]
    assert example["detail"] == answer.json()["detail"]


def test_downloads_declare_their_media_types(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    expected = {
        "/api/v1/template": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "/api/v1/cpl.xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "/api/v1/cpl.csv": "text/csv",
        "/api/v1/extracts/{sequence}/signature": "application/pkcs7-signature",
        "/api/v1/signing/certificates": "application/pem-certificate-chain",
    }
    for path, media_type in expected.items():
        assert next(iter(paths[path]["get"]["responses"]["200"]["content"])) == media_type, path
    # The signers' listing is the one download with a second, JSON, form.
    signers = paths["/api/v1/signing/certificates"]["get"]["responses"]["200"]["content"]
    assert list(signers) == ["application/pem-certificate-chain", "application/json"]
    # And the served responses say the same.
    for path in ("/api/v1/template", "/api/v1/cpl.xlsx", "/api/v1/cpl.csv"):
        served = client.get(path).headers["content-type"].split(";")[0]
        assert served == expected[path], path


def test_links_lead_from_created_resources_to_their_routes(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    upload = paths["/api/v1/submissions"]["post"]["responses"]["201"]["links"]
    assert upload["GetSubmission"]["parameters"] == {"submission_id": "$response.body#/id"}
    assert upload["GetEntry"]["parameters"] == {"entry_id": "$response.body#/entries/0/entry_id"}
    publish = paths["/api/v1/extracts"]["post"]["responses"]["201"]["links"]
    assert publish["GetExtract"]["parameters"] == {"sequence": "$response.body#/sequence"}
    operation_ids = {
        op["operationId"] for operations in paths.values() for op in operations.values()
    }
    for link in [*upload.values(), *publish.values()]:
        assert link["operationId"] in operation_ids


def test_idempotent_operations_declare_the_key(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in (
        "/api/v1/extracts",
        "/api/v1/entries/{entry_id}/approve",
        "/api/v1/submissions/{submission_id}/approve",
        "/api/v1/certificates/revocations",
    ):
        names = [p["name"] for p in paths[path]["post"].get("parameters", [])]
        assert "Idempotency-Key" in names, path
