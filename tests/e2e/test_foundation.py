"""Health, headers, content negotiation, routing and error format, through nginx."""

import pytest

from helpers import (allow_methods, assert_common_headers, assert_json, assert_problem, assert_status,
                     assert_xml, child_text, describe, is_uuid, localname, media_type, parse_xml)


def test_healthz(api):
    r = api.get("/healthz")
    assert_status(r, 200)
    assert_common_headers(r)


def test_readyz_with_database_up(api):
    r = api.get("/readyz")
    assert_status(r, 200)
    assert_common_headers(r)


def test_list_json_page_shape(api, admin):
    body = assert_json(api.get("/api/v1/tenants", key=admin.key), 200)
    for field in ("data", "pageNumber", "pageSize", "totalCount", "totalPages"):
        assert field in body, f"page lacks {field!r}: {body}"
    assert isinstance(body["data"], list)
    for field in ("pageNumber", "pageSize", "totalCount", "totalPages"):
        assert isinstance(body[field], int) and not isinstance(body[field], bool), f"{field}: {body[field]!r}"


def test_request_id_generated_as_uuid(api, admin):
    r = api.get("/api/v1/tenants", key=admin.key)
    assert_status(r, 200)
    assert is_uuid(r.headers.get("X-Request-Id")), f"not a UUID{describe(r)}"
    r2 = api.get("/api/v1/tenants", key=admin.key)
    assert r2.headers.get("X-Request-Id") != r.headers.get("X-Request-Id"), "request ids repeat"


@pytest.mark.parametrize("path", ["/healthz", "/api/v1/tenants", "/api/v1/nope"])
def test_request_id_echoed(api, admin, path):
    r = api.get(path, key=admin.key, headers={"X-Request-Id": "abc-123"})
    assert r.headers.get("X-Request-Id") == "abc-123", f"request id not echoed{describe(r)}"


def test_list_xml(api, admin):
    r = api.get("/api/v1/tenants", key=admin.key, headers={"Accept": "application/xml"})
    assert_xml(r, 200, "tenants")


def test_list_text_xml(api, admin):
    r = api.get("/api/v1/tenants", key=admin.key, headers={"Accept": "text/xml"})
    assert_status(r, 200)
    assert media_type(r) in ("text/xml", "application/xml"), f"expected XML{describe(r)}"
    assert localname(parse_xml(r)) == "tenants"


@pytest.mark.parametrize("accept", [None, "*/*", "application/json", "application/xml;q=0.5, application/json"])
def test_json_is_default_and_preferred(api, admin, accept):
    headers = {"Accept": accept}  # None: requests sends no Accept header at all
    assert_json(api.get("/api/v1/tenants", key=admin.key, headers=headers), 200)


def test_not_acceptable(api, admin):
    r = api.get("/api/v1/tenants", key=admin.key, headers={"Accept": "image/png"})
    assert_problem(r, 406)


def test_unknown_route_404(api, admin):
    assert_problem(api.get("/api/v1/nope", key=admin.key), 404)


def test_error_as_xml_when_negotiated(api, admin):
    r = api.get("/api/v1/tenants/does-not-exist", key=admin.key, headers={"Accept": "application/xml"})
    doc = assert_xml(r, 404, "problem", media="application/problem+xml")
    assert child_text(doc, "status") == "404", f"problem status{describe(r)}"
    for field in ("type", "title", "code"):
        assert child_text(doc, field) is not None, f"XML problem lacks {field}{describe(r)}"


def test_method_not_allowed_on_healthz(api):
    r = api.delete("/healthz")
    assert_problem(r, 405)
    assert "GET" in allow_methods(r), f"Allow: {r.headers.get('Allow')!r}"


def test_method_not_allowed_on_collection(api, admin):
    r = api.put("/api/v1/tenants", key=admin.key, json={})
    assert_problem(r, 405)
    assert {"GET", "POST"} <= allow_methods(r), f"Allow: {r.headers.get('Allow')!r}"


def test_query_string_does_not_change_route(api, admin):
    assert_json(api.get("/api/v1/tenants?pageNumber=1&pageSize=5", key=admin.key), 200)
