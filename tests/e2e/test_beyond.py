"""Issue 16, part A, end to end through nginx and MariaDB, in JSON and in XML.

externalId (unique per account, GET /api/v1/tenants/by-external-id/{externalId}),
metadata (an object of strings changed by JSON merge patch, filtered with
?metadata.KEY=VALUE through the tenant_metadata side table), and plan.
"""

import re
import time
import uuid
from xml.sax.saxutils import escape, quoteattr

import pytest

from helpers import assert_json, assert_problem, assert_xml, describe, localname, sql_quote, tenant_body, wait_settled

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


# ---------------------------------------------------------------------------
# Soft delete, restore, purge

CHILDREN = ("tenant_metadata", "tenant_users", "tenant_locations", "api_keys", "provisioning_jobs")
FK = {"tenant_metadata": "tenant_id"}


def rows_of(db, pk):
    """Every row of the tenant and of its children, for an exact before/after comparison."""
    out = {"tenants": db.query(f"SELECT * FROM tenants WHERE pk = {pk}")}
    for t in CHILDREN:
        cols = "id, account_id, prefix, HEX(hash) AS hash, kind, permissions, expires_at, revoked_at, created_at" \
            if t == "api_keys" else "*"
        out[t] = db.query(f"SELECT {cols} FROM {t} WHERE {FK.get(t, 'tenant_pk')} = {pk} ORDER BY 1, 2")
    out["provisioning_steps"] = db.query("SELECT * FROM provisioning_steps WHERE job_id IN (SELECT id FROM "
                                         f"provisioning_jobs WHERE tenant_pk = {pk}) ORDER BY 1, 2")
    return out


def delete_path(slug, display, extra=""):
    from urllib.parse import quote
    return f"{LIST}/{slug}?confirmName={quote('Tenant ' + slug)}&confirmDisplayName={quote(display)}{extra}"


def counts(db, account_id):
    return int(db.scalar(f"SELECT COALESCE(SUM(n), 0) FROM tenant_counts WHERE account_id = {account_id}"))


def words(db, pk):
    return sorted(r["word"] for r in db.query(f"SELECT word FROM tenant_words WHERE tenant_pk = {pk}"))


@pytest.mark.parametrize("fmt", FORMATS)
def test_delete_keeps_the_tenant_and_restore_brings_it_back(api, new_key, ctl, db, fmt):
    who = new_key("all")
    ext = f"ext-{uuid.uuid4().hex}"
    slug = create(api, who, fmt, displayName="Soft", externalId=ext, metadata={"team": "red"})
    wait_settled(db, slug)
    ctl.key(account=who.account, kind="tenant", tenant=slug, permissions="View")
    pk = db.scalar(f"SELECT pk FROM tenants WHERE slug = {sql_quote(slug)}")
    before = rows_of(db, pk)
    assert before["api_keys"] and before["tenant_metadata"] and before["provisioning_jobs"], before
    n = counts(db, who.account_id)
    indexed = words(db, pk)
    assert indexed, "the text-search words of a new tenant"

    r = call(api, who.key, "DELETE", delete_path(slug, "Soft"), fmt)
    d = decode(r, 200, fmt, "deletion")
    assert d["id"] == slug and str(d["deleted"]).lower() == "true" and str(d["purged"]).lower() == "false", d
    assert d["purgeAfter"].startswith(time.strftime("%Y-%m", time.gmtime(time.time() + 30 * 86400))), d

    # Gone from every read path, and from the counts.
    assert all(v == [] for v in rows_of(db, pk).values())
    assert counts(db, who.account_id) == n - 1
    problem(call(api, who.key, "GET", f"{LIST}/{slug}", fmt), 404, fmt)
    problem(call(api, who.key, "GET", f"{LIST}/by-external-id/{ext}", fmt), 404, fmt)
    assert slug not in api.get(LIST, key=who.key, params={"pageSize": 100}).text
    assert slug not in api.get("/tenants", key=who.key).text
    arch = db.one(f"SELECT slug, account_id, deleted_by FROM tenants_deleted WHERE pk = {pk}")
    assert arch["slug"] == slug and arch["account_id"] == who.account_id and arch["deleted_by"].startswith("key:")

    # Listed for an operator; its slug and name stay taken.
    page = decode(call(api, who.key, "GET", f"{LIST}/deleted", fmt), 200, fmt, "deletedTenants")
    assert [t["id"] for t in page["data"]] == [slug] and str(page["totalCount"]) == "1", page
    assert page["data"][0]["displayName"] == "Soft"
    body = assert_problem(api.post(LIST, key=who.key, json=tenant_body(slug)), 409)
    assert "id" in body["detail"]
    other = f"b1-{uuid.uuid4().hex[:12]}"
    body = assert_problem(api.post(LIST, key=who.key, json=tenant_body(other, name=f"Tenant {slug}")), 409)
    assert "name" in body["detail"]
    # Refused whole: no row, no count, no logged change left behind.
    assert db.scalar(f"SELECT COUNT(*) FROM tenants WHERE slug IN ({sql_quote(slug)}, {sql_quote(other)})") == "0"
    assert counts(db, who.account_id) == n - 1
    assert db.scalar("SELECT COUNT(*) FROM tenant_list_changes c LEFT JOIN tenants t ON t.pk = c.tenant_pk "
                     f"WHERE c.account_id = {who.account_id} AND c.was_active IS NULL AND t.pk IS NULL "
                     "AND c.tenant_pk NOT IN (SELECT pk FROM tenants_deleted)") == "0"

    # Restore: the same rows, keys and all.
    r = call(api, who.key, "POST", f"{LIST}/{slug}/restore", fmt)
    t = decode(r, 200, fmt)
    assert t["id"] == slug and t["externalId"] == ext and t["metadata"] == {"team": "red"}, t
    assert rows_of(db, pk) == before
    assert counts(db, who.account_id) == n
    # Back in text search and in the isActive counts, as if never gone.
    assert words(db, pk) == indexed
    found = api.get(LIST, key=who.key, params={"q": slug}).json()
    assert [x["id"] for x in found["data"]] == [slug], found
    active = api.get(f"{LIST}/count", key=who.key, params={"isActive": "true"}).json()["count"]
    assert active == int(db.scalar(f"SELECT COUNT(*) FROM tenants WHERE account_id = {who.account_id} "
                                   "AND is_active = 1")), active
    assert db.scalar(f"SELECT COUNT(*) FROM tenants_deleted WHERE pk = {pk}") == "0"
    actions = [r["action"] for r in db.query(
        f"SELECT action FROM audit_events WHERE target_id = {sql_quote(slug)} ORDER BY id")]
    assert actions[-2:] == ["tenant.delete", "tenant.restore"], actions
    problem(call(api, who.key, "POST", f"{LIST}/{slug}/restore", fmt), 404, fmt)


def test_restore_and_deleted_list_are_per_account(api, admin, new_key, db):
    slug = create(api, admin, displayName="Mine")
    assert api.delete(delete_path(slug, "Mine"), key=admin.key).status_code == 200
    stranger = new_key("all")
    assert_problem(api.post(f"{LIST}/{slug}/restore", key=stranger.key), 404)
    assert assert_json(api.get(f"{LIST}/deleted", key=stranger.key), 200)["data"] == []
    no_delete = new_key(["View", "Update"], account=admin.account)
    assert_problem(api.post(f"{LIST}/{slug}/restore", key=no_delete.key), 403)
    assert db.scalar(f"SELECT COUNT(*) FROM tenants_deleted WHERE slug = {sql_quote(slug)}") == "1"


@pytest.mark.parametrize("fmt", FORMATS)
def test_purge_removes_for_good(api, admin, db, fmt):
    # A live tenant, purged at once: nothing is archived.
    slug = create(api, admin, fmt, displayName="P1", metadata={"a": "1"})
    pk = db.scalar(f"SELECT pk FROM tenants WHERE slug = {sql_quote(slug)}")
    problem(call(api, admin.key, "DELETE", f"{LIST}/{slug}?purge=true", fmt), 422, fmt)
    problem(call(api, admin.key, "DELETE", delete_path(slug, "P1", "&purge=maybe"), fmt), 422, fmt)
    d = decode(call(api, admin.key, "DELETE", delete_path(slug, "P1", "&purge=true"), fmt), 200, fmt, "deletion")
    assert str(d["purged"]).lower() == "true" and d.get("purgeAfter") in (None, ""), d
    assert all(v == [] for v in rows_of(db, pk).values())
    assert db.scalar(f"SELECT COUNT(*) FROM tenants_deleted WHERE pk = {pk}") == "0"

    # A deleted one, purged from the archive (the confirmations still apply).
    slug = create(api, admin, fmt, displayName="P2")
    pk = db.scalar(f"SELECT pk FROM tenants WHERE slug = {sql_quote(slug)}")
    assert call(api, admin.key, "DELETE", delete_path(slug, "P2"), fmt).status_code == 200
    body = problem(call(api, admin.key, "DELETE", delete_path(slug, "Wrong", "&purge=true"), fmt), 422, fmt)
    assert "confirmDisplayName" in body["errors"], body
    d = decode(call(api, admin.key, "DELETE", delete_path(slug, "P2", "&purge=true"), fmt), 200, fmt, "deletion")
    assert str(d["purged"]).lower() == "true"
    assert db.scalar(f"SELECT COUNT(*) FROM tenants_deleted WHERE pk = {pk}") == "0"
    problem(call(api, admin.key, "POST", f"{LIST}/{slug}/restore", fmt), 404, fmt)
    actions = [r["action"] for r in db.query(
        f"SELECT action FROM audit_events WHERE target_id = {sql_quote(slug)} ORDER BY id")]
    assert actions[-2:] == ["tenant.delete", "tenant.purge"], actions
    # The slug is free again.
    create_again = api.post(LIST, key=admin.key, json=tenant_body(slug))
    assert create_again.status_code == 202, describe(create_again)


def test_retention_job_purges_expired(api, admin, db):
    slug = create(api, admin, displayName="Old")
    assert api.delete(delete_path(slug, "Old"), key=admin.key).status_code == 200
    db.query("UPDATE tenants_deleted SET purge_after = UTC_TIMESTAMP(3) - INTERVAL 1 SECOND "
             f"WHERE slug = {sql_quote(slug)}")
    deadline = time.monotonic() + 60
    while db.scalar(f"SELECT COUNT(*) FROM tenants_deleted WHERE slug = {sql_quote(slug)}") != "0":
        assert time.monotonic() < deadline, "the provisioning process did not purge an expired tenant in 60 s"
        time.sleep(0.5)
    row = db.one("SELECT principal, detail FROM audit_events WHERE action = 'tenant.purge' "
                 f"AND target_id = {sql_quote(slug)}")
    assert row is not None and "retention" in row["detail"], row


def test_name_of_a_deleted_tenant_cannot_be_taken_by_a_rename(api, admin, db):
    gone = create(api, admin, displayName="Gone")
    assert api.delete(delete_path(gone, "Gone"), key=admin.key).status_code == 200
    live = create(api, admin)
    body = assert_problem(api.patch(f"{LIST}/{live}", key=admin.key, json={"name": f"Tenant {gone}"}), 409)
    assert "name" in body["detail"]
    assert assert_json(api.post(f"{LIST}/{gone}/restore", key=admin.key), 200)["name"] == f"Tenant {gone}"


# ---------------------------------------------------------------------------
# State history


def history(api, key, slug, fmt="json", query=""):
    r = call(api, key, "GET", f"{LIST}/{slug}/history{query}", fmt)
    return decode(r, 200, fmt, "history")


@pytest.mark.parametrize("fmt", FORMATS)
def test_history_records_every_state_change_with_actor_and_reason(api, admin, db, fmt):
    slug = create(api, admin, fmt, displayName="Hist")
    wait_settled(db, slug)
    call(api, admin.key, "POST", f"{LIST}/{slug}/deactivate", fmt, {"reason": "unpaid <invoice>"})
    call(api, admin.key, "POST", f"{LIST}/{slug}/activate?reason=paid", fmt)
    r = call(api, admin.key, "POST", f"{LIST}/{slug}/upgrade", fmt,
             {"extendedExpiryDate": "2031-01-31T00:00:00Z", "reason": "renewal"})
    assert r.status_code == 200, describe(r)
    call(api, admin.key, "PATCH", f"{LIST}/{slug}", fmt, {"description": "not a state change"})
    r = call(api, admin.key, "PATCH", f"{LIST}/{slug}?reason=manual", fmt, {"isActive": False})
    assert r.status_code == 200, describe(r)

    h = history(api, admin.key, slug, fmt)
    events = [e["event"] for e in h["data"]]
    assert events[:4] == ["update", "upgrade", "activate", "deactivate"], events
    assert set(events[4:]) == {"provisioning.completed", "create"}, events
    assert str(h["totalCount"]) == "6"
    created = next(e for e in h["data"] if e["event"] == "create")
    assert str(created["isActive"]).lower() == "true" and created["validUpto"] is None, created
    top = h["data"][0]
    assert top["reason"] == "manual" and str(top["isActive"]).lower() == "false", top
    assert top["actor"].startswith("key:") and top["at"].endswith("Z"), top
    up = h["data"][1]
    assert up["reason"] == "renewal" and up["validUpto"] == "2031-01-31T00:00:00Z", up
    assert h["data"][3]["reason"] == "unpaid <invoice>"
    assert h["data"][2]["reason"] == "paid" and str(h["data"][2]["isActive"]).lower() == "true"

    page = history(api, admin.key, slug, fmt, "?pageSize=2&pageNumber=2")
    assert [e["event"] for e in page["data"]] == events[2:4]

    # Deleted and restored: still there, with the reasons.
    assert call(api, admin.key, "DELETE", delete_path(slug, "Hist", "&reason=closed"), fmt).status_code == 200
    h = history(api, admin.key, slug, fmt)
    assert h["data"][0]["event"] == "delete" and h["data"][0]["reason"] == "closed", h["data"][0]
    call(api, admin.key, "POST", f"{LIST}/{slug}/restore", fmt, {"reason": "by mistake"})
    h = history(api, admin.key, slug, fmt)
    assert [(e["event"], e.get("reason")) for e in h["data"][:2]] == [("restore", "by mistake"),
                                                                      ("delete", "closed")], h["data"][:2]


def test_history_is_per_account_and_checks_reason(api, admin, new_key):
    slug = create(api, admin)
    assert_problem(api.get(f"{LIST}/{slug}/history", key=new_key("all").key), 404)
    body = assert_problem(api.post(f"{LIST}/{slug}/deactivate", key=admin.key, json={"reason": "x" * 501}), 422)
    assert "reason" in body["errors"]
    assert_problem(api.post(f"{LIST}/{slug}/deactivate", key=admin.key, json={"reason": 5}), 422)
    assert_problem(api.post(f"{LIST}/{slug}/deactivate?reason=a%0Ab", key=admin.key), 422)
    assert [e["event"] for e in assert_json(api.get(f"{LIST}/{slug}/history", key=admin.key), 200)["data"]] \
        in (["create"], ["provisioning.completed", "create"], ["provisioning.failed", "create"])


# ---------------------------------------------------------------------------
# Status, "me" and the grace header (fullstackhero)

STATUS_FIELDS = ["id", "tenantId", "name", "isActive", "validUpto", "expiryState", "graceEndsAt", "plan",
                 "hasConnectionString"]


def rfc(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


@pytest.mark.parametrize("fmt", FORMATS)
def test_status_of_a_tenant(api, admin, fmt):
    until = int(time.time()) // 60 * 60 + 30 * 86400
    slug = create(api, admin, fmt, plan="gold", validUpto=rfc(until))
    r = call(api, admin.key, "GET", f"{LIST}/{slug}/status", fmt)
    st = decode(r, 200, fmt, "tenantStatus")
    assert list(st) == STATUS_FIELDS, list(st)
    want = {"id": slug, "isActive": True, "validUpto": rfc(until), "expiryState": "Active",
            "graceEndsAt": rfc(until + 7 * 86400), "plan": "gold", "hasConnectionString": False}
    for k, v in want.items():
        got = st[k]
        assert (str(got).lower() if isinstance(v, bool) and fmt == "xml" else got) == \
            (str(v).lower() if isinstance(v, bool) and fmt == "xml" else v), (k, got, v)
    assert "X-Subscription-Grace" not in r.headers
    problem(call(api, admin.key, "GET", f"{LIST}/nope-{uuid.uuid4().hex[:8]}/status", fmt), 404, fmt)


@pytest.mark.parametrize("fmt", FORMATS)
def test_my_status_and_grace_header_for_a_tenant_key(api, new_key, ctl, fmt):
    who = new_key("all")
    until = int(time.time()) - 86400
    slug = create(api, who, fmt, validUpto=rfc(until))
    tk = ctl.key(account=who.account, kind="tenant", tenant=slug, permissions="View")
    r = call(api, tk.key, "GET", f"{LIST}/me/status", fmt)
    st = decode(r, 200, fmt, "tenantStatus")
    assert st["id"] == slug and st["expiryState"] == "InGrace", st
    assert st["graceEndsAt"] == rfc(until + 7 * 86400)
    assert r.headers.get("X-Subscription-Grace") == rfc(until + 7 * 86400), r.headers
    # Tenant keys still manage nothing, but are told of the grace there too.
    r = call(api, tk.key, "GET", f"{LIST}/{slug}/status", fmt)
    assert r.status_code == 401 and r.headers.get("X-Subscription-Grace") == rfc(until + 7 * 86400)

    # Account credentials: "me" is the current tenant, set by switch.
    problem(call(api, who.key, "GET", f"{LIST}/me/status", fmt), 404, fmt)
    other = create(api, who, fmt)
    assert call(api, who.key, "POST", f"{LIST}/{other}/switch", fmt).status_code == 200
    r = call(api, who.key, "GET", f"{LIST}/me/status", fmt)
    assert decode(r, 200, fmt, "tenantStatus")["id"] == other
    assert "X-Subscription-Grace" not in r.headers


def test_no_grace_header_when_active_or_expired(api, new_key, ctl):
    who = new_key("all")
    for until, state in ((int(time.time()) + 86400, "Active"), (int(time.time()) - 30 * 86400, "Expired")):
        slug = create(api, who, validUpto=rfc(until))
        tk = ctl.key(account=who.account, kind="tenant", tenant=slug, permissions="View")
        r = api.get(f"{LIST}/me/status", key=tk.key)
        assert assert_json(r, 200)["expiryState"] == state
        assert "X-Subscription-Grace" not in r.headers


# ---------------------------------------------------------------------------
# Theme

DEFAULT_THEME = {"primaryColor": "#2563EB", "secondaryColor": "#64748B", "backgroundColor": "#FFFFFF",
                 "textColor": "#0F172A", "logoUrl": None, "faviconUrl": None, "isDefault": True}


def theme_of(r, fmt, status=200):
    t = decode(r, status, fmt, "theme")
    if fmt == "xml":
        t["isDefault"] = t["isDefault"] == "true"
    return t


@pytest.mark.parametrize("fmt", FORMATS)
def test_theme_put_get_reset(api, admin, db, fmt):
    slug = create(api, admin, fmt, displayName="Themed")
    path = f"{LIST}/{slug}/theme"
    assert theme_of(call(api, admin.key, "GET", path, fmt), fmt) == DEFAULT_THEME
    body = {"primaryColor": "#112233", "textColor": "#abcdef", "logoUrl": "https://cdn.example/logo.svg?v=2&x=1"}
    t = theme_of(call(api, admin.key, "PUT", path, fmt, body, root="theme"), fmt)
    want = dict(DEFAULT_THEME, isDefault=False, **body)
    assert t == want, t
    assert theme_of(call(api, admin.key, "GET", path, fmt), fmt) == want
    pk = db.scalar(f"SELECT pk FROM tenants WHERE slug = {sql_quote(slug)}")
    row = db.one(f"SELECT primary_color, logo_url FROM tenant_themes WHERE tenant_pk = {pk}")
    assert row == {"primary_color": "#112233", "logo_url": body["logoUrl"]}

    # The theme goes into the archive with its tenant and comes back.
    assert call(api, admin.key, "DELETE", delete_path(slug, "Themed"), fmt).status_code == 200
    assert db.scalar(f"SELECT COUNT(*) FROM tenant_themes WHERE tenant_pk = {pk}") == "0"
    problem(call(api, admin.key, "GET", path, fmt), 404, fmt)
    assert call(api, admin.key, "POST", f"{LIST}/{slug}/restore", fmt).status_code == 200
    assert theme_of(call(api, admin.key, "GET", path, fmt), fmt) == want

    assert theme_of(call(api, admin.key, "POST", f"{path}/reset", fmt), fmt) == DEFAULT_THEME
    assert db.scalar(f"SELECT COUNT(*) FROM tenant_themes WHERE tenant_pk = {pk}") == "0"
    actions = [r["action"] for r in db.query(
        f"SELECT action FROM audit_events WHERE target_id = {sql_quote(slug)} AND action LIKE 'tenant.theme.%'")]
    assert actions == ["tenant.theme.update", "tenant.theme.reset"], actions


@pytest.mark.parametrize("field,value", [
    ("primaryColor", "red"), ("primaryColor", "#12345"), ("primaryColor", "#GGGGGG"), ("textColor", None),
    ("logoUrl", "http://cdn.example/logo.png"), ("logoUrl", "javascript:alert(1)"),
    ("faviconUrl", "https://x.example/" + "a" * 2040), ("logoUrl", "https://x.example/a b"), ("font", "Inter"),
])
def test_theme_validation(api, admin, db, field, value):
    slug = create(api, admin)
    body = assert_problem(api.put(f"{LIST}/{slug}/theme", key=admin.key, json={field: value}), 422)
    assert field in body["errors"], body
    assert db.scalar("SELECT COUNT(*) FROM tenant_themes t JOIN tenants n ON n.pk = t.tenant_pk "
                     f"WHERE n.slug = {sql_quote(slug)}") == "0"


def test_theme_permissions_and_accounts(api, admin, new_key):
    slug = create(api, admin)
    path = f"{LIST}/{slug}/theme"
    viewer = new_key(["ViewTheme"], account=admin.account)
    assert_json(api.get(path, key=viewer.key), 200)
    assert_problem(api.put(path, key=viewer.key, json={"primaryColor": "#000000"}), 403)
    assert_problem(api.post(f"{path}/reset", key=viewer.key), 403)
    plain = new_key(["View", "Update"], account=admin.account)
    assert_problem(api.get(path, key=plain.key), 403)
    designer = new_key(["UpdateTheme"], account=admin.account)
    assert assert_json(api.put(path, key=designer.key, json={"primaryColor": "#000000"}), 200)[
        "primaryColor"] == "#000000"
    stranger = new_key("all")
    assert_problem(api.get(path, key=stranger.key), 404)
    assert_problem(api.put(path, key=stranger.key, json={"primaryColor": "#FFFFFF"}), 404)
    assert assert_json(api.get(path, key=admin.key), 200)["primaryColor"] == "#000000"


def test_seed_003_delete_stays_irreversible(api, ctl, db):
    gkey = ctl.key(kind="global", permissions="all").key
    slug = f"b1-{uuid.uuid4().hex[:12]}"
    assert api.post(LIST, key=gkey, json=tenant_body(slug, displayName="Seed3")).status_code == 202
    t = assert_json(api.get(f"{LIST}/{slug}", key=gkey), 200)
    r = api.delete("/api/tenant", key=gkey, json={"tenantId": t["tenantId"], "name": t["name"],
                                                 "displayName": "Seed3"})
    assert r.status_code == 200, describe(r)
    assert db.scalar(f"SELECT COUNT(*) FROM tenants_deleted WHERE slug = {sql_quote(slug)}") == "0"
    assert db.scalar(f"SELECT COUNT(*) FROM tenants WHERE slug = {sql_quote(slug)}") == "0"
    assert_problem(api.post(f"{LIST}/{slug}/restore", key=gkey), 404)


def test_tenantctl_purge_deleted(api, admin, ctl, db):
    slug = create(api, admin, displayName="Ctl")
    assert api.delete(delete_path(slug, "Ctl"), key=admin.key).status_code == 200
    keep = create(api, admin, displayName="Keep")
    assert api.delete(delete_path(keep, "Keep"), key=admin.key).status_code == 200
    db.query("UPDATE tenants_deleted SET purge_after = UTC_TIMESTAMP(3) - INTERVAL 1 SECOND "
             f"WHERE slug = {sql_quote(slug)}")
    out = ctl.run("purge", "deleted").stdout
    assert re.search(r"purged \d+ deleted tenants", out), out
    assert db.scalar(f"SELECT COUNT(*) FROM tenants_deleted WHERE slug = {sql_quote(slug)}") == "0"
    assert db.scalar(f"SELECT COUNT(*) FROM tenants_deleted WHERE slug = {sql_quote(keep)}") == "1"
