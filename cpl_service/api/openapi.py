"""The OpenAPI description, made truthful: problems, media types, links, idempotency keys.

FastAPI describes what the routes declare; this adds what the service really answers and
that routes cannot say for themselves. `schemas/openapi.json` is the committed result.
Regenerate it with `.venv/bin/cpl-service openapi > schemas/openapi.json`.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from cpl_service.api.errors import PROBLEM_JSON
from cpl_service.api.idempotency import takes_idempotency_key
from cpl_service.api.input_guard import MAX_QUERY_BYTES
from cpl_service.api.routes.extracts import SignersOut
from cpl_service.config import Settings

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
BINARY = {"type": "string", "format": "binary"}
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
WORKBOOK_PROBLEM_REF = {"$ref": "#/components/schemas/WorkbookProblem"}

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "An RFC 9457 problem details object.",
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "description": "`/problems/<slug>` or `about:blank`"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string", "description": "What went wrong, in plain words"},
        "errors": {
            "type": "array",
            "description": "For an invalid request: each field and what is wrong with it",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
    "additionalProperties": True,
}
WORKBOOK_PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "WorkbookProblem",
    "description": "A problem; a rejected workbook lists every problem of every row in `issues`.",
    "allOf": [
        PROBLEM_REF,
        {
            "type": "object",
            "properties": {
                "issues": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "row": {"type": ["integer", "null"]},
                            "heading": {"type": ["string", "null"]},
                            "code": {"type": "string"},
                            "severity": {"type": "string"},
                            "message": {"type": "string"},
                        },
                    },
                }
            },
        },
    ],
}

_JSON_LIMIT: int = Settings.model_fields["max_json_bytes"].default

EXAMPLES: dict[str, tuple[str, str, str]] = {
    "400": ("about:blank", "Bad Request", "There was an error parsing the body"),
    "401": ("about:blank", "Unauthorized", "A valid bearer token is required."),
    "403": ("/problems/forbidden", "Not allowed for your role", "Only secas may do this."),
    "404": ("/problems/not-found", "Not found", "There is no submission 7."),
    "409": ("/problems/conflict", "Conflict with the current state", "CPL-000012 is active."),
    "413": ("/problems/upload-too-large", "Upload too large", "The workbook is too large."),
    "414": (
        "/problems/query-too-long",
        "Request-URI Too Long",
        f"The query string is longer than {MAX_QUERY_BYTES} bytes.",
    ),
    "415": ("/problems/unsupported-file", "Unsupported file", "'a.txt' is not a workbook."),
    "422": ("/problems/invalid-request", "Invalid request", "The request is not valid."),
    "429": (
        "/problems/sign-in-locked",
        "Too many failed sign-ins",
        "Too many failed sign-ins: try again in 30 seconds.",
    ),
    "503": ("about:blank", "Service Unavailable", "The signing key cannot be used."),
}
DESCRIPTIONS = {
    "400": "The body could not be parsed (malformed JSON or multipart)",
    "304": "Not modified: the payload has the ETag given in If-None-Match",
    "401": "No valid bearer token",
    "403": "Your role may not do this",
    "404": "Not found, or not yours to see",
    "409": "The current state forbids it",
    "413": "The request body is too large (an upload over its limits, or a JSON body over "
    f"{_JSON_LIMIT // 1024} KB unless configured otherwise)",
    "414": f"The query string is longer than {MAX_QUERY_BYTES:,} bytes",
    "415": "Not a workbook, or a document that is not a PDF",
    "422": "The request is not valid",
    "429": "Too many failed sign-ins: locked for a while (see Retry-After)",
    "503": "The signing key is not usable",
}

# Operations open to any authenticated party: every other secured one may answer 403.
ANY_PARTY = {
    ("post", "/api/v1/submissions"),
    ("get", "/api/v1/submissions"),
    ("get", "/api/v1/submissions/{submission_id}"),
    ("get", "/api/v1/submissions/{submission_id}/documents"),
    ("get", "/api/v1/submissions/{submission_id}/documents/{document_id}"),
    ("get", "/api/v1/entries"),
    ("get", "/api/v1/entries/{entry_id}"),
}
NOT_FOUND_WITHOUT_PATH_PARAMETERS = {
    ("get", "/api/v1/extracts/latest"),
    ("post", "/api/v1/certificates/revocations"),
}
# Problems particular to one operation, beyond those `_statuses` derives from its shape.
EXTRA_STATUSES: dict[tuple[str, str], tuple[str, ...]] = {
    ("post", "/api/v1/session"): ("401", "429"),  # wrong email or password; locked
    ("post", "/api/v1/session/password"): ("404",),  # an unknown or used set-password link
    ("post", "/api/v1/people"): ("404",),  # a party the caller may not manage
    ("post", "/api/v1/tokens"): ("404",),  # likewise
}
SIGNING = {("post", "/api/v1/extracts"), ("get", "/api/v1/signing/certificates")}
MEDIA_TYPES: dict[tuple[str, str], dict[str, Any]] = {
    ("get", "/api/v1/template"): {XLSX: {"schema": BINARY}},
    ("get", "/api/v1/cpl.xlsx"): {XLSX: {"schema": BINARY}},
    ("get", "/api/v1/cpl.csv"): {"text/csv": {"schema": {"type": "string"}}},
    ("get", "/api/v1/extracts/{sequence}/signature"): {
        "application/pkcs7-signature": {"schema": BINARY}
    },
    ("get", "/api/v1/signing/certificates"): {
        "application/pem-certificate-chain": {"schema": {"type": "string"}},
        # With `Accept: application/json` or `?format=json`: every signer, current first.
        "application/json": {"schema": {"$ref": "#/components/schemas/SignersOut"}},
    },
    ("get", "/api/v1/submissions/{submission_id}/documents/{document_id}"): {
        "application/pdf": {"schema": BINARY}
    },
    ("get", "/api/v1/extracts/{sequence}"): {
        "application/json": {"schema": {"type": "object", "description": "cpl-extract.v1"}}
    },
    ("get", "/api/v1/extracts/latest"): {
        "application/json": {"schema": {"type": "object", "description": "cpl-extract.v1"}}
    },
}
LINKS: dict[tuple[str, str], dict[str, tuple[str, str, dict[str, str]]]] = {
    ("post", "/api/v1/submissions"): {
        "GetSubmission": ("get", "/api/v1/submissions/{submission_id}", {"submission_id": "id"}),
        "ListDocuments": (
            "get",
            "/api/v1/submissions/{submission_id}/documents",
            {"submission_id": "id"},
        ),
        "ApproveSubmission": (
            "post",
            "/api/v1/submissions/{submission_id}/approve",
            {"submission_id": "id"},
        ),
        "GetEntry": ("get", "/api/v1/entries/{entry_id}", {"entry_id": "entries/0/entry_id"}),
        "ApproveEntry": (
            "post",
            "/api/v1/entries/{entry_id}/approve",
            {"entry_id": "entries/0/entry_id"},
        ),
        "RejectEntry": (
            "post",
            "/api/v1/entries/{entry_id}/reject",
            {"entry_id": "entries/0/entry_id"},
        ),
    },
    ("post", "/api/v1/extracts"): {
        "GetExtract": ("get", "/api/v1/extracts/{sequence}", {"sequence": "sequence"}),
        "GetSignature": (
            "get",
            "/api/v1/extracts/{sequence}/signature",
            {"sequence": "sequence"},
        ),
        "Acknowledge": (
            "post",
            "/api/v1/extracts/{sequence}/acknowledgement",
            {"sequence": "sequence"},
        ),
    },
}
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Retry safely: the same key and body answer the first result instead of "
    "acting twice (1 to 200 visible ASCII characters, scoped to your party).",
    "schema": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "^[!-~]+$"},
}


def _problem_response(status: str, schema: dict[str, Any] = PROBLEM_REF) -> dict[str, Any]:
    slug, title, detail = EXAMPLES[status]
    return {
        "description": DESCRIPTIONS[status],
        "content": {
            PROBLEM_JSON: {
                "schema": schema,
                "example": {"type": slug, "title": title, "status": int(status), "detail": detail},
            }
        },
    }


def _statuses(method: str, path: str, operation: dict[str, Any]) -> list[str]:
    statuses = ["400"] if "requestBody" in operation else []
    secured = bool(operation.get("security"))
    if secured:
        statuses.append("401")
        if (method, path) not in ANY_PARTY:
            statuses.append("403")
    has_path_parameters = any(p["in"] == "path" for p in operation.get("parameters", []))
    if has_path_parameters or (method, path) in NOT_FOUND_WITHOUT_PATH_PARAMETERS:
        statuses.append("404")
    if method == "post":
        statuses.append("409")
    if (method, path) == ("post", "/api/v1/submissions"):
        statuses += ["413", "415"]
    elif "requestBody" in operation:
        statuses.append("413")  # the input guard's limit on a JSON body
    if any(p["in"] == "query" for p in operation.get("parameters", [])):
        statuses.append("414")  # the input guard's limit on a query string
    if (method, path) in SIGNING:
        statuses.append("503")
    statuses += [s for s in EXTRA_STATUSES.get((method, path), ()) if s not in statuses]
    statuses.append("422")
    return statuses


def describe(app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI description with every problem, media type and link it really has."""
    document = get_openapi(
        title=app.title,
        version=app.version,
        summary=app.summary,
        routes=app.routes,
    )
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas["Problem"] = PROBLEM_SCHEMA
    schemas["WorkbookProblem"] = WORKBOOK_PROBLEM_SCHEMA
    signers = SignersOut.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(signers.pop("$defs", {}))
    schemas["SignersOut"] = signers
    ids = {
        (method, path): operation["operationId"]
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
    }
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            key = (method, path)
            responses = operation["responses"]
            for status in _statuses(method, path, operation):
                upload = key == ("post", "/api/v1/submissions") and status == "422"
                responses[status] = _problem_response(
                    status, WORKBOOK_PROBLEM_REF if upload else PROBLEM_REF
                )
            if key in MEDIA_TYPES:
                success = "201" if "201" in responses else "200"
                responses[success]["content"] = MEDIA_TYPES[key]
            if key in (
                ("get", "/api/v1/extracts/{sequence}"),
                ("get", "/api/v1/extracts/latest"),
            ):
                responses["304"] = {"description": DESCRIPTIONS["304"]}
            if key == ("post", "/api/v1/submissions"):
                responses["200"] = {
                    "description": "The same workbook was uploaded before: its submission",
                    "content": responses["201"]["content"],
                }
            for status, links in (
                ("201", LINKS.get(key, {})),
                ("200", LINKS.get(key, {}) if key == ("post", "/api/v1/submissions") else {}),
            ):
                if links:
                    responses[status]["links"] = {
                        name: {
                            "operationId": ids[(target_method, target_path)],
                            "parameters": {
                                parameter: f"$response.body#/{pointer}"
                                for parameter, pointer in parameters.items()
                            },
                        }
                        for name, (target_method, target_path, parameters) in links.items()
                    }
            if takes_idempotency_key(method.upper(), path):
                operation.setdefault("parameters", []).append(IDEMPOTENCY_KEY)
    return document


def install(app: FastAPI) -> None:
    """Serve `describe(app)` at /openapi.json (built once)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = describe(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
