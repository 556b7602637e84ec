"""The OpenAPI schema says what the API does (issue 17 §1–2): the error shape as one
component referenced from every operation with each status it can return, nullability,
enums, formats, integer ids, download content types, page bounds, only the filters an
operation honours, Chinese text. ``make api-contract`` checks the running API against it;
these tests pin the facts that schemathesis found wrong."""

from __future__ import annotations

import re

import pytest
from django.urls import path
from drf_spectacular.generators import SchemaGenerator
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.filters import ID_MAX

CJK = re.compile(r"[\u4e00-\u9fff]")
ERROR_REF = {"$ref": "#/components/schemas/ApiError"}


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def operations(schema):
    for route, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield f"{method.upper()} {route}", operation


def op(schema, label):
    method, route = label.split(" ", 1)
    return schema["paths"][route][method.lower()]


def query(operation, name):
    return next(
        p for p in operation.get("parameters", []) if p["in"] == "query" and p["name"] == name
    )


def component(schema, name):
    return schema["components"]["schemas"][name]


def test_the_error_shape_is_one_component(schema):
    error = component(schema, "ApiError")
    assert set(error["properties"]) == {"code", "detail", "fields"}
    assert set(error["required"]) == {"code", "detail"}
    assert error["properties"]["fields"]["additionalProperties"]["type"] == "array"


def test_every_operation_documents_its_errors_with_the_one_shape(schema):
    for label, operation in operations(schema):
        responses = operation["responses"]
        if operation.get("security") == [{}]:  # anonymous (the public number check)
            assert {"429", "500"} <= set(responses) and "401" not in responses, label
        else:
            assert {"401", "403", "429", "500"} <= set(responses), label
        for status, response in responses.items():
            if status[0] in "45":
                assert response["content"] == {"application/json": {"schema": ERROR_REF}}, label
                assert CJK.search(response["description"]), (label, status)
        if any(p["in"] == "path" for p in operation.get("parameters", [])):
            assert "404" in responses, label
        if "requestBody" in operation:
            assert {"400", "409", "415"} <= set(responses), label


@pytest.mark.parametrize(
    ("label", "statuses"),
    [
        # Issue 17: "No operation documents its 400, 409 or 404 responses".
        ("POST /api/registry/numbers/", {"201", "400", "403", "404", "409"}),
        ("POST /api/registry/numbers/{id}/end/", {"200", "400", "404", "409"}),
        ("GET /api/deadlines/", {"200", "400", "409"}),
        ("GET /api/registry/numbers/", {"200", "400", "404"}),
        ("GET /api/me/", {"200", "401", "403"}),
    ],
)
def test_the_statuses_schemathesis_found_undocumented(schema, label, statuses):
    assert statuses <= set(op(schema, label)["responses"])


def test_an_api_added_later_gets_its_errors_with_no_extra_work():
    """The AutoSchema derives the errors from the operation: a new view declares nothing."""

    class Probe(serializers.Serializer):
        name = serializers.CharField()

    class ProbeView(APIView):
        def get(self, request, pk):
            return Response({})

        def post(self, request, pk):
            return Response({})

    ProbeView.serializer_class = Probe  # what drf-spectacular reads for the body
    generator = SchemaGenerator(patterns=[path("api/probe/<int:pk>/", ProbeView.as_view())])
    # drf-spectacular names a "pk" path parameter "id" (SCHEMA_COERCE_PATH_PK).
    paths = generator.get_schema(request=None, public=True)["paths"]["/api/probe/{id}/"]
    assert set(paths["get"]["responses"]) == {"200", "401", "403", "404", "429", "500"}
    assert set(paths["post"]["responses"]) == {
        *("200", "400", "401", "403", "404", "409", "415", "429", "500")
    }
    pk = paths["get"]["parameters"][0]["schema"]
    assert pk["type"] == "integer" and pk["minimum"] == 1 and pk["maximum"] == ID_MAX


def test_fields_that_come_back_null_are_nullable(schema):
    """Issue 17: ``created_by``, ``error_report_url``, ``document_url`` came back null."""
    for name, field in [
        ("Number", "created_by"),
        ("NumberVersion", "created_by"),
        ("UploadJob", "created_by"),
        ("UploadJob", "error_report_url"),
        ("ImportJob", "error_report_url"),
        ("ImportCreated", "error_report_url"),
        ("Partner", "document_url"),
        ("Number", "valid_to"),
        ("Number", "partner"),
        ("Me", "organisation"),
    ]:
        assert component(schema, name)["properties"][field].get("nullable") is True, (name, field)


def enum_of(schema, prop):
    ref = prop.get("$ref") or next(p["$ref"] for p in prop.get("allOf", []))
    return component(schema, ref.rsplit("/", 1)[1])


def test_purpose_and_the_partners_kind_are_enums_with_chinese_labels(schema):
    """Issue 17: free strings in the schema, while the server accepts only these."""
    accepted = ["marketing", "collection", "both", "营销", "催收", "营销及催收"]
    for name, field in [
        ("NumberWriteRequest", "purpose"),
        ("PartnerWriteRequest", "kind"),
    ]:
        enum = enum_of(schema, component(schema, name)["properties"][field])
        assert enum["enum"] == accepted
        assert "`marketing` - 营销" in enum["description"]
    purpose = query(op(schema, "GET /api/registry/numbers/"), "purpose")
    assert set(purpose["schema"]["enum"]) == set(accepted)


def test_dates_and_the_quarter_have_formats(schema):
    deadlines = op(schema, "GET /api/deadlines/")
    assert query(deadlines, "sms_start")["schema"] == {"type": "string", "format": "date"}
    assert query(deadlines, "quarter")["schema"]["pattern"] == r"^[0-9]{4}Q[1-4]$"
    number = component(schema, "Number")["properties"]
    assert number["valid_from"]["format"] == "date"
    assert number["created_at"]["format"] == "date-time"


@pytest.mark.parametrize(
    ("label", "name"),
    [
        ("GET /api/registry/numbers/", "institution"),
        ("GET /api/registry/numbers/", "partner"),
        ("GET /api/registry/partners/", "institution"),
        ("GET /api/registry/imports/", "institution"),
        ("GET /api/uploads/", "organisation"),
    ],
)
def test_id_filters_are_bounded_integers(schema, label, name):
    """Issue 17: the institution and partner filters were typed ``number``."""
    parameter = query(op(schema, label), name)["schema"]
    assert parameter == {"type": "integer", "format": "int64", "minimum": 1, "maximum": ID_MAX}


def test_pages_start_at_one(schema):
    page = query(op(schema, "GET /api/registry/numbers/"), "page")
    assert page["schema"] == {"type": "integer", "minimum": 1}


def test_history_advertises_no_list_filters(schema):
    """Issue 17: ``numbers/{id}/history/`` advertised the list's filters, which it ignores."""
    parameters = op(schema, "GET /api/registry/numbers/{id}/history/").get("parameters", [])
    assert [p["name"] for p in parameters] == ["id"]


def test_downloads_name_their_content_types(schema):
    """Issue 17: the partner document was documented as application/octet-stream."""
    document = op(schema, "GET /api/registry/partners/{id}/document/")["responses"]["200"]
    assert set(document["content"]) == {
        "application/pdf",
        "image/jpeg",
        "image/png",
        "application/ofd",
    }
    report = op(schema, "GET /api/uploads/{id}/error-report/")["responses"]["200"]
    assert set(report["content"]) == {
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    }


def test_numbers_take_json_only(schema):
    """A form encoding has no null: the numbers' writes are JSON (the partner, which sends a
    file, takes multipart)."""
    body = op(schema, "POST /api/registry/numbers/")["requestBody"]["content"]
    assert set(body) == {"application/json"}
    partner = op(schema, "POST /api/registry/partners/")["requestBody"]["content"]
    assert set(partner) == {"application/json", "multipart/form-data"}


def test_tags_summaries_and_descriptions_are_chinese(schema):
    """Docstrings (English, for developers) do not leak into the schema."""
    for label, operation in operations(schema):
        assert operation["tags"] and all(CJK.search(tag) for tag in operation["tags"]), label
        assert CJK.search(operation["summary"]), label

    english = []

    def walk(node, where):
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("description", "summary") and isinstance(value, str):
                    if not CJK.search(value):
                        english.append((where, value))
                else:
                    walk(value, f"{where}/{key}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, f"{where}/{index}")

    walk(schema, "")
    assert english == []
