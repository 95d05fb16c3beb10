"""Issue 16, part A, end to end through nginx and MariaDB, in JSON and in XML.

externalId (unique per account, GET /api/v1/tenants/by-external-id/{externalId}),
metadata (an object of strings changed by JSON merge patch, filtered with
?metadata.KEY=VALUE through the tenant_metadata side table), and plan.
"""

import re
import uuid
from xml.sax.saxutils import escape, quoteattr

import pytest

from helpers import assert_json, assert_problem, assert_xml, describe, localname, sql_quote, tenant_body

LIST = "/api/v1/tenants"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
FORMATS = ("json", "xml")
XML_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


# ---------------------------------------------------------------------------
# XML both ways, with the nested metadata object


def xml_leaf(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    return escape(str(v))


def xml_member(k, v):
    """<k>v</k>, or <entry key="k"> when k is no XML name; dicts nest; None is xsi:nil."""
    tag, attr = (k, "") if XML_NAME.match(k) else ("entry", f" key={quoteattr(k)}")
    if v is None:
        return f'<{tag}{attr} xsi:nil="true"/>'
    if isinstance(v, dict):
        return f"<{tag}{attr}>{''.join(xml_member(a, b) for a, b in v.items())}</{tag}>"
    return f"<{tag}{attr}>{xml_leaf(v)}</{tag}>"


def to_xml(root, fields):
    inner = "".join(xml_member(k, v) for k, v in fields.items())
    return f'<?xml version="1.0" encoding="UTF-8"?><{root} xmlns:xsi="{XSI}">{inner}</{root}>'


def xml_value(el):
    if el.get(f"{{{XSI}}}nil") == "true":
        return None
    kids = [c for c in el if isinstance(c.tag, str)]
    if localname(el) in ("data", "steps"):
        return [xml_value(c) for c in kids]
    if localname(el) == "errors":
        return {localname(c) if localname(c) != "entry" else c.get("key"): [m.text for m in c] for c in kids}
    if localname(el) == "metadata":
        return {c.get("key") if localname(c) == "entry" else localname(c): c.text or "" for c in kids}
    if not kids:
        return el.text or ""
    return {(c.get("key") if localname(c) == "entry" else localname(c)): xml_value(c) for c in kids}


def call(api, key, method, path, fmt="json", body=None, root="tenant", headers=None):
    h = dict(headers or {})
    kw = {}
    if fmt == "xml":
        h.setdefault("Accept", "application/xml")
        if body is not None:
            h["Content-Type"] = "application/xml"
            kw["data"] = to_xml(root, body).encode()
    elif body is not None:
        kw["json"] = body
    return api.request(method, path, key=key, headers=h, **kw)


def decode(r, status, fmt, root="tenant"):
    if fmt == "xml":
        return xml_value(assert_xml(r, status, root))
    return assert_json(r, status)


def problem(r, status, fmt):
    if fmt == "xml":
        return xml_value(assert_xml(r, status, "problem", "application/problem+xml"))
    return assert_problem(r, status)


def create(api, who, fmt="json", **fields):
    slug = f"b1-{uuid.uuid4().hex[:12]}"
    r = call(api, who.key, "POST", LIST, fmt, tenant_body(slug, **fields))
    assert r.status_code == 202, describe(r)
    return slug


def meta_rows(db, slug):
    rows = db.query("SELECT m.k, m.v, m.account_id = t.account_id AS same FROM tenant_metadata m "
                    f"JOIN tenants t ON t.pk = m.tenant_id WHERE t.slug = {sql_quote(slug)} ORDER BY m.k")
    assert all(str(r["same"]) == "1" for r in rows), rows
    return {r["k"]: r["v"] for r in rows}


def trow(db, slug):
    return db.one(f"SELECT external_id, plan, metadata FROM tenants WHERE slug = {sql_quote(slug)}")


# ---------------------------------------------------------------------------
# externalId, plan and metadata on create and read


@pytest.mark.parametrize("fmt", FORMATS)
def test_create_with_external_id_plan_metadata(api, admin, db, fmt):
    ext = f"crm:{uuid.uuid4().hex}"
    meta = {"team": "blue", "region.eu": "west-1", "1st-key": "odd <&> \"xml\""}
    slug = create(api, admin, fmt, externalId=ext, plan="pro_2", metadata=meta)

    t = decode(call(api, admin.key, "GET", f"{LIST}/{slug}", fmt), 200, fmt)
    assert t["externalId"] == ext and t["plan"] == "pro_2" and t["metadata"] == meta, t
    if fmt == "json":
        assert list(t)[-3:] == ["externalId", "plan", "metadata"], list(t)

    r = call(api, admin.key, "GET", f"{LIST}/by-external-id/{ext}", fmt)
    by = decode(r, 200, fmt)
    assert by["id"] == slug and by["metadata"] == meta
    assert r.headers.get("ETag"), describe(r)

    row = trow(db, slug)
    assert row["external_id"] == ext and row["plan"] == "pro_2", row
    assert meta_rows(db, slug) == meta


@pytest.mark.parametrize("fmt", FORMATS)
def test_defaults_are_null_and_empty(api, admin, db, fmt):
    slug = create(api, admin, fmt)
    t = decode(call(api, admin.key, "GET", f"{LIST}/{slug}", fmt), 200, fmt)
    if fmt == "json":
        assert t["externalId"] is None and t["plan"] is None and t["metadata"] == {}, t
    else:
        assert t["externalId"] is None and t["plan"] is None and t["metadata"] in ({}, ""), t
    assert trow(db, slug) == {"external_id": None, "plan": None, "metadata": None}
    assert meta_rows(db, slug) == {}


def test_external_id_unique_per_account(api, admin, new_key, db):
    ext = f"ext-{uuid.uuid4().hex}"
    first = create(api, admin, externalId=ext)
    slug = f"b1-{uuid.uuid4().hex[:12]}"
    r = api.post(LIST, key=admin.key, json=tenant_body(slug, externalId=ext))
    body = assert_problem(r, 409)
    assert "externalId" in body["detail"], body
    assert db.scalar(f"SELECT COUNT(*) FROM tenants WHERE slug = {sql_quote(slug)}") in (0, "0")

    # Another account may use the same id; each sees its own tenant.
    other = new_key("all")
    second = create(api, other, externalId=ext)
    assert assert_json(api.get(f"{LIST}/by-external-id/{ext}", key=admin.key), 200)["id"] == first
    assert assert_json(api.get(f"{LIST}/by-external-id/{ext}", key=other.key), 200)["id"] == second

    # A PATCH onto another tenant's id is a conflict too, and changes nothing.
    third = create(api, admin)
    r = api.patch(f"{LIST}/{third}", key=admin.key, json={"externalId": ext})
    assert "externalId" in assert_problem(r, 409)["detail"]
    assert trow(db, third)["external_id"] is None


@pytest.mark.parametrize("fmt", FORMATS)
def test_by_external_id_of_another_account_is_404(api, admin, new_key, fmt):
    ext = f"ext-{uuid.uuid4().hex}"
    create(api, admin, externalId=ext)
    stranger = new_key("all")
    body = problem(call(api, stranger.key, "GET", f"{LIST}/by-external-id/{ext}", fmt), 404, fmt)
    assert body["code"] == "tenant_not_found"
    problem(call(api, admin.key, "GET", f"{LIST}/by-external-id/nope-{uuid.uuid4().hex}", fmt), 404, fmt)


def test_by_external_id_needs_view(api, admin, new_key):
    ext = f"ext-{uuid.uuid4().hex}"
    create(api, admin, externalId=ext)
    no_view = new_key(["Create"], account=admin.account)
    assert_problem(api.get(f"{LIST}/by-external-id/{ext}", key=no_view.key), 403)


@pytest.mark.parametrize("field,value", [
    ("externalId", ""), ("externalId", "a/b"), ("externalId", "x" * 256), ("externalId", 5),
    ("plan", "pro plan"), ("plan", "p" * 65), ("plan", ""),
    ("metadata", "text"), ("metadata", ["a"]), ("metadata", {"bad key": "v"}), ("metadata", {"k" * 41: "v"}),
    ("metadata", {"k": 1}), ("metadata", {"k": "v" * 501}), ("metadata", {f"k{i}": "v" for i in range(51)}),
])
def test_invalid_values_are_422(api, admin, db, field, value):
    slug = f"b1-{uuid.uuid4().hex[:12]}"
    body = assert_problem(api.post(LIST, key=admin.key, json=tenant_body(slug, **{field: value})), 422)
    assert field in body["errors"], body
    assert db.scalar(f"SELECT COUNT(*) FROM tenants WHERE slug = {sql_quote(slug)}") in (0, "0")


def test_limits_hold_exactly(api, admin, db):
    meta = {f"k{i:02d}": "v" * 500 for i in range(50)}
    meta["k00"] = "é" * 500
    slug = create(api, admin, externalId="e" * 255, plan="P" * 64, metadata=meta)
    assert meta_rows(db, slug) == meta
    assert assert_json(api.get(f"{LIST}/{slug}", key=admin.key), 200)["metadata"] == meta


# ---------------------------------------------------------------------------
# Merge patch


@pytest.mark.parametrize("fmt", FORMATS)
def test_merge_patch_removes_a_metadata_key(api, admin, db, fmt):
    slug = create(api, admin, fmt, metadata={"a": "1", "b": "2"}, plan="basic")
    r = call(api, admin.key, "PATCH", f"{LIST}/{slug}", fmt, {"metadata": {"a": None, "c": "3"}})
    t = decode(r, 200, fmt)
    assert t["metadata"] == {"b": "2", "c": "3"}, t
    assert t["plan"] == "basic"
    assert meta_rows(db, slug) == {"b": "2", "c": "3"}
    assert trow(db, slug)["metadata"] == '{"b":"2","c":"3"}'

    # A PATCH without metadata leaves it alone; "metadata": null removes every key.
    call(api, admin.key, "PATCH", f"{LIST}/{slug}", fmt, {"description": "x"})
    assert meta_rows(db, slug) == {"b": "2", "c": "3"}
    r = call(api, admin.key, "PATCH", f"{LIST}/{slug}", fmt, {"metadata": None})
    assert decode(r, 200, fmt)["metadata"] in ({}, "")
    assert meta_rows(db, slug) == {} and trow(db, slug)["metadata"] is None


def test_merge_patch_content_type_and_put_replaces(api, admin, db):
    slug = create(api, admin, metadata={"a": "1", "b": "2"}, externalId=f"x-{slug_suffix()}", plan="gold")
    r = api.patch(f"{LIST}/{slug}", key=admin.key, data=b'{"metadata": {"b": null, "d": "4"}}',
                  headers={"Content-Type": "application/merge-patch+json"})
    assert assert_json(r, 200)["metadata"] == {"a": "1", "d": "4"}
    assert meta_rows(db, slug) == {"a": "1", "d": "4"}

    # PUT is a whole representation: what it leaves out is reset.
    r = api.put(f"{LIST}/{slug}", key=admin.key, json=tenant_body(slug, metadata={"z": "26"}))
    t = assert_json(r, 200)
    assert t["metadata"] == {"z": "26"} and t["externalId"] is None and t["plan"] is None, t
    assert meta_rows(db, slug) == {"z": "26"}
    r = api.put(f"{LIST}/{slug}", key=admin.key, json=tenant_body(slug))
    assert assert_json(r, 200)["metadata"] == {}
    assert meta_rows(db, slug) == {}


def slug_suffix():
    return uuid.uuid4().hex[:12]


def test_merge_patch_beyond_50_keys_is_422(api, admin, db):
    slug = create(api, admin, metadata={f"a{i}": "v" for i in range(30)})
    before = trow(db, slug)
    r = api.patch(f"{LIST}/{slug}", key=admin.key, json={"metadata": {f"b{i}": "v" for i in range(21)}})
    assert "metadata" in assert_problem(r, 422)["errors"]
    assert trow(db, slug) == before and len(meta_rows(db, slug)) == 30
    # Removing as many as are added stays within the limit.
    patch = {f"b{i}": "v" for i in range(21)}
    patch.update({f"a{i}": None for i in range(1, 21)})
    r = api.patch(f"{LIST}/{slug}", key=admin.key, json=patch and {"metadata": patch})
    assert len(assert_json(r, 200)["metadata"]) == 31
    assert len(meta_rows(db, slug)) == 31


def test_delete_removes_metadata_rows(api, admin, db):
    slug = create(api, admin, metadata={"a": "1"}, displayName="Gone")
    pk = db.scalar(f"SELECT pk FROM tenants WHERE slug = {sql_quote(slug)}")
    r = api.delete(f"{LIST}/{slug}?confirmName=Tenant%20{slug}&confirmDisplayName=Gone", key=admin.key)
    assert r.status_code == 200, describe(r)
    assert db.scalar(f"SELECT COUNT(*) FROM tenant_metadata WHERE tenant_id = {pk}") in (0, "0")


# ---------------------------------------------------------------------------
# ?metadata.KEY=VALUE


@pytest.mark.parametrize("fmt", FORMATS)
def test_metadata_filter_on_list_and_count(api, new_key, fmt):
    who = new_key("all")
    team = f"t{uuid.uuid4().hex[:8]}"
    a = create(api, who, metadata={"team": team, "tier": "gold"})
    b = create(api, who, metadata={"team": team, "tier": "silver"})
    create(api, who, metadata={"team": "other", "tier": "gold"})
    create(api, who)
    # Another account's tenant with the same pair is not seen.
    create(api, new_key("all"), metadata={"team": team, "tier": "gold"})

    r = call(api, who.key, "GET", f"{LIST}?metadata.team={team}&sort=createdAt&pageSize=1", fmt)
    page = decode(r, 200, fmt, "tenants")
    assert [t["id"] for t in page["data"]] == [a]
    assert str(page["totalCount"]) == "2", page
    link = r.headers.get("Link", "")
    assert f"metadata.team={team}" in link, link

    r = call(api, who.key, "GET", f"{LIST}?metadata.team={team}&metadata.tier=silver", fmt)
    assert [t["id"] for t in decode(r, 200, fmt, "tenants")["data"]] == [b]

    r = call(api, who.key, "GET", f"{LIST}/count?metadata.team={team}", fmt)
    assert str(decode(r, 200, fmt, "count")["count"]) == "2"
    r = call(api, who.key, "GET", f"{LIST}/count?metadata.team={team}&isActive=true&metadata.tier=none", fmt)
    assert str(decode(r, 200, fmt, "count")["count"]) == "0"


def test_metadata_filter_values_are_exact(api, new_key):
    who = new_key("all")
    v = f"Mixed Case {uuid.uuid4().hex[:6]} & more"
    slug = create(api, who, metadata={"label": v})
    from urllib.parse import quote
    r = api.get(f"{LIST}?metadata.label={quote(v)}", key=who.key)
    assert [t["id"] for t in assert_json(r, 200)["data"]] == [slug]
    r = api.get(f"{LIST}?metadata.label={quote(v.lower())}", key=who.key)
    assert assert_json(r, 200)["data"] == []


@pytest.mark.parametrize("query", ["metadata.=x", "metadata.bad%20key=x", f"metadata.{'k' * 41}=x",
                                   "metadata.a=1&metadata.b=2&metadata.c=3&metadata.d=4&metadata.e=5"])
def test_bad_metadata_filters_are_422(api, admin, query):
    for path in (LIST, f"{LIST}/count"):
        body = assert_problem(api.get(f"{path}?{query}", key=admin.key), 422)
        assert "metadata" in body["errors"], body


# ---------------------------------------------------------------------------
# Compatibility surfaces keep their seeds' shapes


def test_other_surfaces_do_not_show_the_new_fields(api, admin):
    slug = create(api, admin, externalId=f"x-{slug_suffix()}", plan="gold", metadata={"a": "1"})
    r = api.get("/tenants", key=admin.key)
    text = r.text
    assert r.status_code == 200, describe(r)
    for word in ("externalId", "external_id", "metadata", '"plan"'):
        assert word not in text, f"{word} in {text[:300]}"
    assert slug
