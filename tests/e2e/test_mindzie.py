"""Seed 003: mindzieStudio's system-level tenant API at /api/tenant.

Every example request of the seed (its Quick Start: list, get by id) is replayed with a
global API key, in JSON and in XML; then the documented operations (create, update,
delete with triple verification), the authentication rule (global API keys only: an
account key, a tenant key, a JWT or no credential gets 401 on every route), isDisabled,
the license limit (a second tenantd in CGI mode with TENANTD_LICENSE_MAX_TENANTS) and
the same tenants seen through /api/v1."""

import json
import os
import random
import re
import subprocess
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import unique_name
from helpers import (assert_status, child_text, describe, is_uuid, localname, media_type, parse_xml,
                     sql_quote, tenant_body, tenantd_binary, wait_provisioned)

FIELDS = {
    "tenantId": str, "name": str, "displayName": str, "description": (str, type(None)),
    "caseCount": int, "maxUserCount": (int, type(None)), "maxAnalystCount": (int, type(None)),
    "userCount": int, "analystCount": int, "isDisabled": bool, "isAcademic": bool, "preRelease": bool,
    "dateCreated": str,
}
PROBLEM_TYPE = re.compile(r"^https://tools\.ietf\.org/html/rfc(9110#section-15\.[56]\.\d+|6585#section-4)$")
ROUTES = [("GET", "/api/tenant"), ("GET", "/api/tenant/{tenantId}"), ("POST", "/api/tenant"),
          ("PUT", "/api/tenant"), ("DELETE", "/api/tenant")]


@pytest.fixture(scope="module")
def gkey(ctl):
    """A global API key with every permission (the seed's YOUR_GLOBAL_API_KEY)."""
    return ctl.key(kind="global", permissions="all").key


@pytest.fixture
def mz(api, gkey):
    """mz(name=None, **fields) -> the tenant created through POST /api/tenant (a dict)."""
    def create(name=None, **fields):
        name = name or unique_name("Mz Tenant")
        body = {"name": name, "displayName": f"{name} Display", **fields}
        r = api.post("/api/tenant", key=gkey, json=body)
        assert_status(r, 201)
        return r.json()
    return create


def assert_tenant(t):
    """The seed's tenant object: exactly its fields, in its order, with its JSON types."""
    assert list(t) == list(FIELDS), list(t)
    for name, types in FIELDS.items():
        assert isinstance(t[name], types) and not (types is int and isinstance(t[name], bool)), (name, t[name])
    assert is_uuid(t["tenantId"])
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$", t["dateCreated"]), t["dateCreated"]


def assert_xml_tenant(el, t=None):
    """An XML tenant: the seed's field names as child elements, in order (and t's values)."""
    names = [localname(c) for c in el if isinstance(c.tag, str)]
    assert names == list(FIELDS), names
    if t is not None:
        for name, v in t.items():
            text = child_text(el, name)
            if v is None:
                nil = el.find(name).get("{http://www.w3.org/2001/XMLSchema-instance}nil")
                assert nil == "true", name
            elif isinstance(v, bool):
                assert text == ("true" if v else "false"), (name, text)
            else:
                assert text == str(v), (name, text, v)


def assert_problem(r, status, *, validation=False):
    """ASP.NET Core's ProblemDetails (ValidationProblemDetails with errors) as JSON."""
    assert_status(r, status)
    assert media_type(r) == "application/problem+json", describe(r)
    body = r.json()
    keys = ["type", "title", "status", "detail"] + (["errors"] if validation else []) + ["code", "traceId"]
    assert list(body) == keys, f"{list(body)}{describe(r)}"
    assert PROBLEM_TYPE.match(body["type"]), body["type"]
    assert body["status"] == status
    assert body["traceId"] == r.headers["X-Request-Id"]
    if validation:
        assert body["title"] == "One or more validation errors occurred."
        assert all(isinstance(m, list) and m and all(isinstance(x, str) for x in m)
                   for m in body["errors"].values()), body
    return body


def assert_xml_problem(r, status):
    assert_status(r, status)
    assert media_type(r) == "application/problem+xml", describe(r)
    doc = parse_xml(r)
    assert localname(doc) == "mindzieProblem", describe(r)
    assert int(child_text(doc, "status")) == status
    assert child_text(doc, "traceId") == r.headers["X-Request-Id"]
    return doc


def tenant_row(db, guid):
    return db.one(f"SELECT pk, slug, name, display_name, is_active, account_id FROM tenants "
                  f"WHERE guid = {sql_quote(guid)}")


# ---------------------------------------------------------------------------
# The seed's Quick Start


def test_quick_start_list_all_tenants(api, gkey, mz, new_key):
    """curl -X GET /api/tenant -H "Authorization: Bearer YOUR_GLOBAL_API_KEY": a JSON array of
    tenant objects, every account's (a global key sees the platform)."""
    mine = mz()
    other = new_key("all")      # another account's tenant, made through /api/v1
    slug = unique_name("t")
    assert api.post("/api/v1/tenants", key=other.key, json=tenant_body(slug)).status_code == 202

    r = api.get("/api/tenant", key=gkey)
    assert_status(r, 200)
    assert media_type(r) == "application/json"
    page = r.json()
    assert isinstance(page, list) and page
    for t in page:
        assert_tenant(t)
    total = int(r.headers["X-Total-Count"])
    assert total >= 2
    # Oldest first: the newest tenants are on the last page (Link rel="last").
    last = re.search(r'<([^>]+)>; rel="last"', r.headers["Link"]).group(1)
    r = api.get(last, key=gkey)
    assert_status(r, 200)
    names = [t["name"] for t in r.json()]
    assert mine["name"] in names and f"Tenant {slug}" in names
    assert next(t for t in r.json() if t["tenantId"] == mine["tenantId"]) == mine

    rx = api.get(last, key=gkey, headers={"Accept": "application/xml"})
    assert_status(rx, 200)
    assert media_type(rx) == "application/xml"
    doc = parse_xml(rx)
    assert localname(doc) == "mindzieTenants"
    items = [c for c in doc if isinstance(c.tag, str)]
    assert {localname(c) for c in items} == {"tenant"}
    mx = next(c for c in items if child_text(c, "tenantId") == mine["tenantId"])
    assert_xml_tenant(mx, mine)


def test_quick_start_get_tenant_by_id(api, gkey, mz):
    """curl -X GET /api/tenant/{tenantId} -H "Authorization: Bearer YOUR_GLOBAL_API_KEY"."""
    t = mz(description="Process mining", maxUserCount=25, maxAnalystCount=5, isAcademic=True)
    r = api.get(f"/api/tenant/{t['tenantId']}", key=gkey)
    assert_status(r, 200)
    assert media_type(r) == "application/json"
    body = r.json()
    assert_tenant(body)
    assert body == t
    assert (body["description"], body["maxUserCount"], body["maxAnalystCount"], body["isAcademic"],
            body["isDisabled"], body["preRelease"]) == ("Process mining", 25, 5, True, False, False)
    assert r.headers.get("ETag")

    rx = api.get(f"/api/tenant/{t['tenantId']}", key=gkey, headers={"Accept": "application/xml"})
    assert_status(rx, 200)
    doc = parse_xml(rx)
    assert localname(doc) == "mindzieTenant"
    assert_xml_tenant(doc, body)


def test_get_unknown_or_malformed_id_is_404(api, gkey):
    for tid in (str(uuid.uuid4()), "not-a-guid"):
        body = assert_problem(api.get(f"/api/tenant/{tid}", key=gkey), 404)
        assert body["title"] == "Not Found"
    assert_xml_problem(api.get(f"/api/tenant/{uuid.uuid4()}", key=gkey, headers={"Accept": "application/xml"}),
                       404)


# ---------------------------------------------------------------------------
# Create, update, delete


def test_create_returns_the_tenant_with_location(api, gkey, db):
    name = unique_name("Acme Process Mining")
    r = api.post("/api/tenant", key=gkey, json={
        "name": name, "displayName": "Acme", "description": "d", "maxUserCount": 10, "maxAnalystCount": 2,
        "isAcademic": True, "preRelease": True, "isDisabled": False,
        # read-only members of a tenant read earlier are ignored, as ASP.NET Core ignores them
        "tenantId": str(uuid.uuid4()), "caseCount": 7, "userCount": 3, "dateCreated": "2020-01-01T00:00:00Z"})
    assert_status(r, 201)
    t = r.json()
    assert_tenant(t)
    assert r.headers["Location"] == f"/api/tenant/{t['tenantId']}"
    assert (t["name"], t["displayName"], t["maxUserCount"], t["caseCount"], t["userCount"]) == (name, "Acme", 10, 0, 0)
    assert (t["isAcademic"], t["preRelease"], t["isDisabled"]) == (True, True, False)
    row = tenant_row(db, t["tenantId"])
    assert row["name"] == name and row["is_active"] == "1"
    # The canonical model's slug, derived from the name.
    assert row["slug"] == name.lower().replace(" ", "-"), row
    assert api.get(r.headers["Location"], key=gkey).json() == t


def test_create_as_xml(api, gkey, db):
    name = unique_name("Xml Tenant")
    body = (f'<?xml version="1.0"?><tenant><name>{name}</name><displayName>X &amp; Y</displayName>'
            f'<maxUserCount>4</maxUserCount><isDisabled>true</isDisabled></tenant>').encode()
    r = api.post("/api/tenant", key=gkey, data=body,
                 headers={"Content-Type": "application/xml", "Accept": "application/xml"})
    assert_status(r, 201)
    doc = parse_xml(r)
    assert localname(doc) == "mindzieTenant"
    assert_xml_tenant(doc)
    assert (child_text(doc, "displayName"), child_text(doc, "maxUserCount"), child_text(doc, "isDisabled")) == \
        ("X & Y", "4", "true")
    assert tenant_row(db, child_text(doc, "tenantId"))["is_active"] == "0"


def test_create_validation(api, gkey):
    """A required field that is empty or only white space is "is required" (422,
    ValidationProblemDetails); so is a missing one; types and unknown fields are checked."""
    cases = [
        ({}, {"name": ["is required"], "displayName": ["is required"]}),
        ({"name": "   ", "displayName": "\t"}, {"name": ["is required"], "displayName": ["is required"]}),
        ({"name": "", "displayName": None}, {"name": ["is required"], "displayName": ["is required"]}),
        ({"name": "ok name", "displayName": "ok", "maxUserCount": "ten", "isDisabled": "yes", "colour": 1},
         {"maxUserCount": ["must be an integer"], "isDisabled": ["must be a boolean"],
          "colour": ["is not a known field"]}),
    ]
    for body, errors in cases:
        b = assert_problem(api.post("/api/tenant", key=gkey, json=body), 422, validation=True)
        assert b["errors"] == errors, b
    rx = api.post("/api/tenant", key=gkey, json={"name": " "}, headers={"Accept": "application/xml"})
    doc = assert_xml_problem(rx, 422)
    errors = doc.find("errors")
    assert [localname(c) for c in errors] == ["name", "displayName"]
    assert [m.text for m in errors.find("name")] == ["is required"]


def test_create_duplicate_name_is_409(api, gkey, mz):
    """name is unique platform-wide, ignoring case and trailing spaces (the column's collation)."""
    t = mz()
    for name in (t["name"], t["name"].upper(), t["name"] + "  "):
        b = assert_problem(api.post("/api/tenant", key=gkey, json={"name": name, "displayName": "d"}), 409)
        assert "already exists" in b["detail"]


def test_names_that_make_the_same_slug_get_distinct_slugs(api, gkey, db):
    base = unique_name("Same Slug")
    a = api.post("/api/tenant", key=gkey, json={"name": base, "displayName": "a"})
    b = api.post("/api/tenant", key=gkey, json={"name": base.replace(" ", "_"), "displayName": "b"})
    c = api.post("/api/tenant", key=gkey, json={"name": "日本語", "displayName": "c"})
    assert_status(a, 201)
    assert_status(b, 201)
    sa, sb = tenant_row(db, a.json()["tenantId"])["slug"], tenant_row(db, b.json()["tenantId"])["slug"]
    assert sa == base.lower().replace(" ", "-")
    assert sb.startswith(sa + "-") and re.match(r"^[a-z0-9][a-z0-9-]{1,62}$", sb), sb
    if c.status_code == 201:        # a name without ASCII letters: "tenant", or tenant-xxxxxx
        assert re.match(r"^tenant(-[a-z0-9]{6})?$", tenant_row(db, c.json()["tenantId"])["slug"])
    else:
        assert_problem(c, 409)      # only when another test made this name already


def test_update_is_partial_and_names_the_tenant_in_the_body(api, gkey, mz, db):
    t = mz(description="before", maxUserCount=5)
    r = api.put("/api/tenant", key=gkey, json={"tenantId": t["tenantId"], "displayName": "After",
                                               "maxAnalystCount": 3, "preRelease": True})
    assert_status(r, 200)
    u = r.json()
    assert_tenant(u)
    assert (u["displayName"], u["maxAnalystCount"], u["preRelease"]) == ("After", 3, True)
    assert (u["name"], u["description"], u["maxUserCount"], u["dateCreated"]) == \
        (t["name"], "before", 5, t["dateCreated"])
    # A tenant read with GET, changed and sent back whole (read-only members are ignored).
    u["description"] = None
    r = api.put("/api/tenant", key=gkey, json=u)
    assert_status(r, 200)
    assert r.json()["description"] is None
    # XML in, XML out.
    body = f'<tenant><tenantId>{t["tenantId"]}</tenantId><isAcademic>true</isAcademic></tenant>'.encode()
    rx = api.put("/api/tenant", key=gkey, data=body,
                 headers={"Content-Type": "application/xml", "Accept": "application/xml"})
    assert_status(rx, 200)
    doc = parse_xml(rx)
    assert localname(doc) == "mindzieTenant" and child_text(doc, "isAcademic") == "true"
    assert_xml_tenant(doc)


def test_update_errors(api, gkey, mz):
    t = mz()
    b = assert_problem(api.put("/api/tenant", key=gkey, json={"displayName": "x"}), 422, validation=True)
    assert b["errors"] == {"tenantId": ["is required"]}
    b = assert_problem(api.put("/api/tenant", key=gkey, json={"tenantId": t["tenantId"], "name": " ",
                                                              "displayName": None}), 422, validation=True)
    assert b["errors"] == {"name": ["is required"], "displayName": ["is required"]}
    assert_problem(api.put("/api/tenant", key=gkey, json={"tenantId": str(uuid.uuid4()), "name": "x y"}), 404)
    other = api.post("/api/tenant", key=gkey, json={"name": unique_name("Other"), "displayName": "o"}).json()
    assert_problem(api.put("/api/tenant", key=gkey, json={"tenantId": t["tenantId"], "name": other["name"]}), 409)
    r = api.get(f"/api/tenant/{t['tenantId']}", key=gkey)
    assert_problem(api.put("/api/tenant", key=gkey, json={"tenantId": t["tenantId"], "description": "x"},
                           headers={"If-Match": '"999999"'}), 412)
    ok = api.put("/api/tenant", key=gkey, json={"tenantId": t["tenantId"], "description": "x"},
                 headers={"If-Match": r.headers["ETag"]})
    assert_status(ok, 200)


def test_disabling_keeps_the_data_and_blocks_the_tenants_keys(api, gkey, mz, ctl, db):
    """isDisabled: true keeps every record but blocks use: the tenant's own API keys are
    refused at authentication (401) until it is enabled again."""
    t = mz()
    row = tenant_row(db, t["tenantId"])
    wait_provisioned(db, row["slug"])  # it is enabled again below
    owner = db.scalar(f"SELECT name FROM accounts WHERE id = {row['account_id']}")
    tkey = ctl.key(account=owner, kind="tenant", tenant=row["slug"], permissions="all").key

    def tenant_key_answer():
        r = api.get("/api/v1/tenants", key=tkey)
        assert_status(r, 401)
        return r.json()["code"]

    assert tenant_key_answer() == "tenant_key_refused"      # a valid key, refused by this route
    r = api.put("/api/tenant", key=gkey, json={"tenantId": t["tenantId"], "isDisabled": True})
    assert_status(r, 200)
    assert r.json()["isDisabled"] is True
    assert db.scalar(f"SELECT is_active FROM tenants WHERE pk = {row['pk']}") == "0"
    assert tenant_key_answer() == "invalid_credential"      # no longer a valid credential
    r = api.get("/api/v1/tenants", key=tkey)
    assert "disabled" in r.json()["detail"]
    assert db.scalar(f"SELECT COUNT(*) FROM api_keys WHERE tenant_pk = {row['pk']}") == "1"
    assert api.get(f"/api/tenant/{t['tenantId']}", key=gkey).json()["isDisabled"] is True
    assert_status(api.put("/api/tenant", key=gkey, json={"tenantId": t["tenantId"], "isDisabled": False}), 200)
    assert tenant_key_answer() == "tenant_key_refused"


def test_delete_with_triple_verification(api, gkey, mz, db):
    for how in ("json", "xml", "query"):
        t = mz()
        triple = {"tenantId": t["tenantId"], "name": t["name"], "displayName": t["displayName"]}
        pk = tenant_row(db, t["tenantId"])["pk"]
        if how == "json":
            r = api.delete("/api/tenant", key=gkey, json=triple)
        elif how == "xml":
            body = "<tenant>" + "".join(f"<{k}>{v}</{k}>" for k, v in triple.items()) + "</tenant>"
            r = api.delete("/api/tenant", key=gkey, data=body.encode(),
                           headers={"Content-Type": "application/xml", "Accept": "application/xml"})
        else:
            r = api.delete("/api/tenant", key=gkey, params=triple)
        assert_status(r, 200)
        if how == "xml":
            doc = parse_xml(r)
            assert localname(doc) == "mindzieDeletion"
            assert [localname(c) for c in doc] == ["tenantId", "name", "displayName", "deleted"]
            assert child_text(doc, "deleted") == "true"
        else:
            assert r.json() == {**triple, "deleted": True}
        assert db.scalar(f"SELECT COUNT(*) FROM tenants WHERE pk = {pk}") == "0"
        assert db.scalar(f"SELECT COUNT(*) FROM provisioning_jobs WHERE tenant_pk = {pk}") == "0"
        assert_problem(api.get(f"/api/tenant/{t['tenantId']}", key=gkey), 404)


def test_delete_mismatch_names_the_field_and_deletes_nothing(api, gkey, mz, db):
    t = mz()
    pk = tenant_row(db, t["tenantId"])["pk"]
    good = {"tenantId": t["tenantId"], "name": t["name"], "displayName": t["displayName"]}
    cases = [
        ({"name": t["name"].upper()}, ["name"]),
        ({"name": t["name"] + " "}, ["name"]),
        ({"displayName": t["displayName"].lower()}, ["displayName"]),
        ({"displayName": "something else"}, ["displayName"]),
        ({"name": "x", "displayName": "y"}, ["name", "displayName"]),
    ]
    for change, fields in cases:
        b = assert_problem(api.delete("/api/tenant", key=gkey, json={**good, **change}), 422, validation=True)
        assert list(b["errors"]) == fields, b
        assert all("does not match" in m[0] for m in b["errors"].values())
        assert db.scalar(f"SELECT COUNT(*) FROM tenants WHERE pk = {pk}") == "1", change
    # A tenantId that names no tenant: 404, nothing deleted.
    assert_problem(api.delete("/api/tenant", key=gkey, json={**good, "tenantId": str(uuid.uuid4())}), 404)
    # Missing members: each named.
    b = assert_problem(api.delete("/api/tenant", key=gkey, json={"tenantId": t["tenantId"]}), 422, validation=True)
    assert b["errors"] == {"name": ["is required"], "displayName": ["is required"]}
    b = assert_problem(api.delete("/api/tenant", key=gkey), 422, validation=True)
    assert list(b["errors"]) == ["tenantId", "name", "displayName"]
    rx = api.delete("/api/tenant", key=gkey, json={**good, "name": "x"}, headers={"Accept": "application/xml"})
    assert_xml_problem(rx, 422)
    assert db.scalar(f"SELECT COUNT(*) FROM tenants WHERE pk = {pk}") == "1"
    assert_status(api.delete("/api/tenant", key=gkey, json=good), 200)


# ---------------------------------------------------------------------------
# Global API keys only


def route_request(method, pattern, tid):
    path = pattern.replace("{tenantId}", tid)
    if method in ("POST", "PUT", "DELETE"):
        return path, {"json": {"tenantId": tid, "name": unique_name("Denied"), "displayName": "d"}}
    return path, {}


def test_only_global_keys_are_accepted_on_every_route(api, gkey, mz, ctl, tokens, db):
    """An account key, a tenant key, a JWT (even with every permission) and no credential all
    get 401 on every route, in the surface's envelope; nothing changes."""
    t = mz()
    row = tenant_row(db, t["tenantId"])
    owner = db.scalar(f"SELECT name FROM accounts WHERE id = {row['account_id']}")
    refused = {
        "account key": ctl.key(permissions="all").key,
        "account key of the owner": ctl.key(account=owner, permissions="all").key,
        "tenant key": ctl.key(account=owner, kind="tenant", tenant=row["slug"], permissions="all").key,
        "jwt": tokens.mint(permissions=("View", "Create", "Update", "Delete")),
        "none": None,
    }
    before = db.scalar("SELECT COUNT(*) FROM tenants")
    for what, cred in refused.items():
        for method, pattern in ROUTES:
            path, kw = route_request(method, pattern, t["tenantId"])
            if method == "DELETE":
                kw = {"json": {"tenantId": t["tenantId"], "name": t["name"], "displayName": t["displayName"]}}
            r = api.request(method, path, key=cred, **kw)
            b = assert_problem(r, 401)
            assert b["title"] == "Unauthorized", (what, method, pattern)
            assert r.headers["WWW-Authenticate"].startswith("Bearer"), (what, method, pattern)
            if cred is not None:
                assert "global API key" in b["detail"], (what, b)
                assert b["code"] in ("global_key_required", "invalid_credential"), (what, b)
    rx = api.get("/api/tenant", key=refused["account key"], headers={"Accept": "application/xml"})
    assert_xml_problem(rx, 401)
    assert tenant_row(db, t["tenantId"]) == row
    assert db.scalar("SELECT COUNT(*) FROM tenants") >= before


def test_global_key_without_the_permission_is_403(api, ctl, mz):
    t = mz()
    view = ctl.key(kind="global", permissions="View").key
    assert_status(api.get(f"/api/tenant/{t['tenantId']}", key=view), 200)
    for method, pattern in ROUTES:
        if method == "GET":
            continue
        path, kw = route_request(method, pattern, t["tenantId"])
        b = assert_problem(api.request(method, path, key=view, **kw), 403)
        assert "Permissions.Multitenancy." in b["detail"]
    none = ctl.key(kind="global", permissions="Create").key
    assert_problem(api.get("/api/tenant", key=none), 403)


# ---------------------------------------------------------------------------
# The list, the envelope


def test_list_pages(api, gkey, mz):
    for _ in range(3):
        mz()
    r = api.get("/api/tenant", key=gkey, params={"pageSize": 2})
    assert_status(r, 200)
    total = int(r.headers["X-Total-Count"])
    assert len(r.json()) == 2 and total >= 3
    pages = (total + 1) // 2
    assert '</api/tenant?page=2&pageSize=2>; rel="next"' in r.headers["Link"]
    assert f'</api/tenant?page={pages}&pageSize=2>; rel="last"' in r.headers["Link"]
    second = api.get("/api/tenant", key=gkey, params={"page": 2, "pageSize": 2})
    assert_status(second, 200)
    assert not {t["tenantId"] for t in r.json()} & {t["tenantId"] for t in second.json()}
    assert 'rel="prev"' in second.headers["Link"]
    beyond = api.get("/api/tenant", key=gkey, params={"page": pages + 1, "pageSize": 2})
    assert_status(beyond, 200)
    assert beyond.json() == []
    rx = api.get("/api/tenant", key=gkey, params={"page": pages + 1, "pageSize": 2},
                 headers={"Accept": "application/xml"})
    assert localname(parse_xml(rx)) == "mindzieTenants" and len(parse_xml(rx)) == 0
    b = assert_problem(api.get("/api/tenant", key=gkey, params={"pageSize": 1001, "page": 0}), 422,
                       validation=True)
    assert set(b["errors"]) == {"page", "pageSize"}
    assert_status(api.get("/api/tenant", key=gkey, params={"pageSize": 1000}), 200)


def test_errors_before_the_handler_use_the_envelope(api, gkey):
    r = api.patch("/api/tenant", key=gkey, json={})
    assert_problem(r, 405)
    assert {m.strip() for m in r.headers["Allow"].split(",")} >= {"GET", "POST", "PUT", "DELETE"}
    assert_problem(api.get("/api/tenant/a/b", key=gkey), 404)
    assert_problem(api.get("/api/tenant", key=gkey, headers={"Accept": "text/plain"}), 406)
    assert_problem(api.post("/api/tenant", key=gkey, data=b"name=x", headers={"Content-Type": "text/plain"}), 415)
    assert_problem(api.post("/api/tenant", key=gkey, data=b'{"name": ', headers={"Content-Type": "application/json"}),
                   400)
    assert_problem(api.post("/api/tenant", key=gkey, data=b"x" * (1100 * 1024),
                            headers={"Content-Type": "application/json"}), 413)
    # /api/tenants is not under /api/tenant: another surface's (the canonical) 404.
    r = api.get("/api/tenants", key=gkey)
    assert r.status_code == 404 and "code" in r.json()


# ---------------------------------------------------------------------------
# One tenant, two surfaces


def test_created_here_read_changed_deleted_through_api_v1(api, gkey, mz, db):
    t = mz(description="shared", maxUserCount=9, isAcademic=True)
    r = api.get(f"/api/v1/tenants/{t['tenantId']}", key=gkey)
    assert_status(r, 200)
    v1 = r.json()
    assert (v1["tenantId"], v1["name"], v1["displayName"], v1["description"], v1["maxUserCount"],
            v1["isAcademic"], v1["isActive"], v1["createdAt"]) == \
        (t["tenantId"], t["name"], t["displayName"], "shared", 9, True, True, t["dateCreated"])
    assert v1["id"] == tenant_row(db, t["tenantId"])["slug"]
    r = api.patch(f"/api/v1/tenants/{v1['id']}", key=gkey, json={"displayName": "Via v1", "isActive": False,
                                                                  "maxAnalystCount": 4})
    assert_status(r, 200)
    here = api.get(f"/api/tenant/{t['tenantId']}", key=gkey).json()
    assert (here["displayName"], here["isDisabled"], here["maxAnalystCount"]) == ("Via v1", True, 4)
    r = api.delete(f"/api/v1/tenants/{v1['id']}", key=gkey,
                   params={"confirmName": t["name"], "confirmDisplayName": "Via v1"})
    assert_status(r, 200)
    assert_problem(api.get(f"/api/tenant/{t['tenantId']}", key=gkey), 404)


def test_created_through_api_v1_read_and_changed_here(api, gkey, admin, slug, db):
    r = api.post("/api/v1/tenants", key=admin.key, json=tenant_body(slug, maxUserCount=3))
    assert_status(r, 202)
    guid = r.json()["tenantId"]
    here = api.get(f"/api/tenant/{guid}", key=gkey)
    assert_status(here, 200)
    t = here.json()
    assert_tenant(t)
    # No displayName: the name stands in (the seed's displayName is a string).
    assert (t["name"], t["displayName"], t["maxUserCount"], t["isDisabled"]) == \
        (f"Tenant {slug}", f"Tenant {slug}", 3, False)
    r = api.put("/api/tenant", key=gkey, json={"tenantId": guid, "displayName": "Named Here", "isDisabled": True})
    assert_status(r, 200)
    v1 = api.get(f"/api/v1/tenants/{slug}", key=admin.key).json()
    assert (v1["displayName"], v1["isActive"], v1["adminEmail"]) == ("Named Here", False, f"admin@{slug}.example")
    # The owner's account keeps it; this surface deletes it with the triple.
    r = api.delete("/api/tenant", key=gkey, json={"tenantId": guid, "name": f"Tenant {slug}",
                                                  "displayName": "Named Here"})
    assert_status(r, 200)
    assert_status(api.get(f"/api/v1/tenants/{slug}", key=admin.key), 404)


def test_tenant_without_display_name_is_confirmed_with_its_name(api, gkey, admin, slug):
    """A tenant made elsewhere without a displayName shows its name there, and its name
    confirms both."""
    guid = api.post("/api/v1/tenants", key=admin.key, json=tenant_body(slug)).json()["tenantId"]
    name = f"Tenant {slug}"
    assert api.get(f"/api/tenant/{guid}", key=gkey).json()["displayName"] == name
    b = assert_problem(api.delete("/api/tenant", key=gkey, json={"tenantId": guid, "name": name,
                                                                 "displayName": "whatever"}), 422, validation=True)
    assert list(b["errors"]) == ["displayName"]
    r = api.delete("/api/tenant", key=gkey, json={"tenantId": guid, "name": name, "displayName": name})
    assert_status(r, 200)


# ---------------------------------------------------------------------------
# The license limit: a tenantd of its own (CGI mode) with license.max_tenants set


@pytest.fixture
def cgi_conf(stack, tmp_path):
    """The stack's configuration without listen: tenantd then serves one CGI request."""
    conf = tmp_path / "cgi.conf"
    conf.write_text("".join(line for line in Path(stack.config).read_text().splitlines(True)
                            if not line.startswith("listen")))
    return conf


def cgi(conf, method, path, key, body=None, limit=0):
    """One request through a tenantd run in CGI mode on the stack's database."""
    data = json.dumps(body).encode() if body is not None else b""
    env = {"PATH": "/usr/bin:/bin", "REQUEST_METHOD": method, "REQUEST_URI": path,
           "QUERY_STRING": path.partition("?")[2], "HTTP_AUTHORIZATION": f"Bearer {key}",
           "CONTENT_LENGTH": str(len(data)), "CONTENT_TYPE": "application/json",
           "TENANTD_LICENSE_MAX_TENANTS": str(limit), "TENANTD_PROVISION_ENABLED": "0",
           "ASAN_OPTIONS": "detect_leaks=0"}
    out = subprocess.run([tenantd_binary(), "--config", str(conf)], env=env, input=data,
                         capture_output=True, timeout=60)
    assert out.returncode == 0, out.stderr.decode()[-2000:]
    head, _, payload = out.stdout.partition(b"\r\n\r\n")
    status = int(re.match(rb"Status: (\d+)", head).group(1))
    return status, json.loads(payload) if payload else None


def platform_total(db):
    return int(db.scalar("SELECT COALESCE(SUM(n), 0) FROM tenant_counts WHERE account_id = 0"))


def test_license_limit_refuses_creates_beyond_it_on_every_surface(cgi_conf, db, gkey, admin):
    total = platform_total(db)
    assert total == int(db.scalar("SELECT COUNT(*) FROM tenants"))
    limit = total + 1
    name = unique_name("Licensed")
    status, body = cgi(cgi_conf, "POST", "/api/tenant", gkey, {"name": name, "displayName": "L"}, limit)
    assert status == 201, body
    status, body = cgi(cgi_conf, "POST", "/api/tenant", gkey,
                       {"name": unique_name("Over"), "displayName": "O"}, limit)
    assert status == 409, body
    assert list(body) == ["type", "title", "status", "detail", "code", "traceId"]
    assert body["code"] == "license_limit_reached"
    assert body["detail"] == f"the license allows at most {limit} tenants"
    # The canonical API refuses it too, with its own envelope.
    status, body = cgi(cgi_conf, "POST", "/api/v1/tenants", admin.key, tenant_body(unique_name("t")), limit)
    assert status == 409 and body["code"] == "license_limit_reached", body
    assert str(limit) in body["detail"]
    # Seed 002 in Laravel's envelope, and a new Microsoft 365 connection (a tenant too).
    status, body = cgi(cgi_conf, "POST", "/tenants", admin.key, {"name": unique_name("Over 002")}, limit)
    assert status == 409 and body == {"message": "The tenant limit of this license has been reached."}, body
    status, body = cgi(cgi_conf, "POST", "/api/v1/connections", admin.key,
                       {"msTenantId": str(uuid.uuid4()), "tenantName": "Over Corp"}, limit)
    assert status == 409 and body["code"] == "license_limit_reached", body
    assert platform_total(db) == limit
    # Off (0, the default) and above the count: creates pass again.
    status, body = cgi(cgi_conf, "POST", "/api/tenant", gkey,
                       {"name": unique_name("Unlimited"), "displayName": "U"}, 0)
    assert status == 201, body


def test_license_limit_holds_under_concurrent_creates(cgi_conf, db, gkey):
    """Six creates at once with room for two: exactly two are made."""
    limit = platform_total(db) + 2

    def one(i):
        return cgi(cgi_conf, "POST", "/api/tenant", gkey,
                   {"name": unique_name(f"Race {i}"), "displayName": "R"}, limit)[0]

    with ThreadPoolExecutor(6) as pool:
        statuses = sorted(pool.map(one, range(6)))
    assert statuses == [201, 201, 409, 409, 409, 409], statuses
    assert platform_total(db) == limit == int(db.scalar("SELECT COUNT(*) FROM tenants"))


def test_tenantctl_seed_stops_at_the_license_limit(stack, ctl, db):
    """tenantctl seed keeps license.max_tenants as creates do: a batch (1,000 rows) that would pass
    it is rolled back whole and the command says so; nothing beyond the limit is ever written."""
    account = unique_name("seedlic")
    prefix = f"{uuid.uuid4().hex[:8]}-"
    total = platform_total(db)
    # Seeded names ("Tenant <n>") are unique platform-wide: numbers far from any other test's.
    start = random.randrange(10 ** 9, 2 * 10 ** 9, 10 ** 4)  # 10 digits: short ids stay unique
    cmd = [stack.tenantctl, "--config", stack.config, "seed", "--tenants", "3000", "--account", account,
           "--prefix", prefix, "--start", str(start)]
    env = dict(os.environ, TENANTD_LICENSE_MAX_TENANTS=str(total + 1500), ASAN_OPTIONS="detect_leaks=0")
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    assert out.returncode == 1, (out.stdout, out.stderr)
    assert "license.max_tenants" in out.stderr and "1000 new tenants" in out.stderr, out.stderr
    assert platform_total(db) == total + 1000 == int(db.scalar("SELECT COUNT(*) FROM tenants"))
    assert db.scalar(f"SELECT COUNT(*) FROM tenants WHERE slug LIKE {sql_quote(prefix + '%')}") == "1000"
