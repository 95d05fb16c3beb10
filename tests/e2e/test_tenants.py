"""Creating and reading tenants through /api/v1/tenants: bodies, permissions, ownership."""

import json

from helpers import (assert_json, assert_problem, assert_xml, child_text, describe, is_uuid, sql_quote,
                     tenant_body)

LIST = "/api/v1/tenants"
TENANT_FIELDS = ("id", "name", "adminEmail", "isActive", "validUpto", "connectionString", "issuer")


def tenant_row(db, slug):
    return db.one(f"SELECT * FROM tenants WHERE slug = {sql_quote(slug)}")


def test_create_then_read(api, admin, slug, db):
    body = tenant_body(slug, name=f"Acme {slug}")
    r = api.post(LIST, key=admin.key, json=body)
    created = assert_json(r, 202)
    assert created.get("id") == slug, f"id{describe(r)}"
    assert created.get("provisioningCorrelationId"), f"no provisioningCorrelationId{describe(r)}"
    assert created.get("status"), f"no status{describe(r)}"
    assert r.headers.get("Location"), f"no Location header{describe(r)}"

    t = assert_json(api.get(f"{LIST}/{slug}", key=admin.key), 200)
    for field in TENANT_FIELDS:
        assert field in t, f"tenant lacks {field!r}: {t}"
    assert t["id"] == slug
    assert t["name"] == body["name"]
    assert t["adminEmail"] == body["adminEmail"]
    assert t["issuer"] == body["issuer"]

    row = db.one(f"SELECT slug, name, admin_email FROM tenants WHERE slug = {sql_quote(slug)}")
    assert row == {"slug": slug, "name": body["name"], "admin_email": body["adminEmail"]}, row


def test_created_tenant_is_owned_by_the_keys_account(api, admin, slug, db, create_tenant):
    create_tenant(admin, slug)
    row = db.one("SELECT t.account_id, a.name FROM tenants t JOIN accounts a ON a.id = t.account_id"
                 f" WHERE t.slug = {sql_quote(slug)}")
    assert row is not None, f"no tenants row for {slug}"
    assert row["name"] == admin.account, f"owner {row}, expected account {admin.account}"
    if admin.account_id:
        assert row["account_id"] == admin.account_id, f"owner {row}, tenantctl printed id {admin.account_id}"


def test_list_shows_own_tenants_only(api, new_key, create_tenant, slug):
    a, b = new_key("all"), new_key("all")
    create_tenant(a, slug)
    page = assert_json(api.get(LIST, key=a.key), 200)
    assert [t.get("id") for t in page["data"]] == [slug], page
    assert page["totalCount"] == 1
    page_b = assert_json(api.get(LIST, key=b.key), 200)
    assert slug not in [t.get("id") for t in page_b["data"]], page_b


def test_location_leads_to_provisioning_status(api, admin, slug):
    r = api.post(LIST, key=admin.key, json=tenant_body(slug))
    created = assert_json(r, 202)
    s = assert_json(api.get(r.headers["Location"], key=admin.key), 200)
    assert s.get("correlationId") == created["provisioningCorrelationId"], s
    assert s.get("status") in ("Pending", "InProgress", "Completed", "Failed"), s


def test_create_without_create_permission_403(api, new_key, slug, db):
    p = new_key("View")
    assert_problem(api.post(LIST, key=p.key, json=tenant_body(slug)), 403)
    assert tenant_row(db, slug) is None, "a tenant row was written despite the 403"


def test_duplicate_slug_409(api, admin, new_key, slug, create_tenant):
    create_tenant(admin, slug)
    assert_problem(api.post(LIST, key=admin.key, json=tenant_body(slug, name=f"Other {slug}")), 409)
    # Slugs are unique across accounts, too.
    other = new_key("all")
    assert_problem(api.post(LIST, key=other.key, json=tenant_body(slug, name=f"Third {slug}")), 409)


def test_create_with_xml_body(api, admin, slug, db):
    xml = (f"<tenant><id>{slug}</id><name>XML {slug}</name>"
           f"<adminEmail>admin@{slug}.example</adminEmail></tenant>")
    r = api.post(LIST, key=admin.key, data=xml.encode(), headers={"Content-Type": "application/xml"})
    created = assert_json(r, 202)
    assert created.get("id") == slug
    t = assert_json(api.get(f"{LIST}/{slug}", key=admin.key), 200)
    assert t["name"] == f"XML {slug}"
    assert t["adminEmail"] == f"admin@{slug}.example"


def test_read_as_xml(api, admin, slug, create_tenant):
    create_tenant(admin, slug)
    doc = assert_xml(api.get(f"{LIST}/{slug}", key=admin.key, headers={"Accept": "application/xml"}), 200, "tenant")
    assert child_text(doc, "id") == slug


def test_create_text_plain_415(api, admin, slug, db):
    r = api.post(LIST, key=admin.key, data=json.dumps(tenant_body(slug)), headers={"Content-Type": "text/plain"})
    assert_problem(r, 415)
    assert tenant_row(db, slug) is None


def test_create_malformed_json_400(api, admin):
    r = api.post(LIST, key=admin.key, data=b'{"id": "x", "name": ', headers={"Content-Type": "application/json"})
    assert_problem(r, 400)


def test_create_body_over_limit_413(api, admin, slug, db):
    body = tenant_body(slug, description="x" * 1_500_000)
    r = api.post(LIST, key=admin.key, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    assert_problem(r, 413)  # problem+json from tenantd, not nginx's HTML page
    assert tenant_row(db, slug) is None


def test_get_unknown_tenant_404(api, admin):
    assert_problem(api.get(f"{LIST}/does-not-exist", key=admin.key), 404)


def test_other_accounts_tenant_404(api, new_key, slug, create_tenant):
    a, b = new_key("all"), new_key("all")
    create_tenant(a, slug)
    assert_json(api.get(f"{LIST}/{slug}", key=a.key), 200)
    assert_problem(api.get(f"{LIST}/{slug}", key=b.key), 404)


def test_read_by_guid(api, admin, slug, create_tenant):
    create_tenant(admin, slug)
    t = assert_json(api.get(f"{LIST}/{slug}", key=admin.key), 200)
    guid = t.get("tenantId")
    assert is_uuid(guid), f"tenantId {guid!r} is not a GUID"
    assert assert_json(api.get(f"{LIST}/{guid}", key=admin.key), 200)["id"] == slug


def test_jwt_subject_creates_with_create_permission(api, tokens, slug, db):
    token = tokens.mint(permissions=["View", "Create"])
    assert_json(api.post(LIST, token=token, json=tenant_body(slug)), 202)
    assert_json(api.get(f"{LIST}/{slug}", token=token), 200)
    assert tenant_row(db, slug) is not None



def test_blank_name_is_required(api, admin, slug, db):
    """An empty name, or one of white space only, is missing (issue 11): 422, nothing written."""
    for name in ("", "   ", "\t"):
        body = assert_problem(api.post(LIST, key=admin.key, json=tenant_body(slug, name=name)), 422)
        assert body["errors"].get("name") == ["is required"], body
        assert tenant_row(db, slug) is None
    xml = f"<tenant><id>{slug}</id><name>  </name><adminEmail>a@{slug}.example</adminEmail></tenant>"
    body = assert_problem(api.post(LIST, key=admin.key, data=xml,
                                   headers={"Content-Type": "application/xml"}), 422)
    assert "name" in body["errors"], body
    assert tenant_row(db, slug) is None


def test_name_compares_as_documented(api, admin, slug, create_tenant):
    """Names are unique and filtered ignoring case and trailing spaces, as docs/openapi.yaml says."""
    create_tenant(admin, slug, name=f"Acme Case {slug}")
    page = assert_json(api.get(LIST, key=admin.key, params={"name": f"ACME case {slug.upper()}  "}), 200)
    assert [t["id"] for t in page["data"]] == [slug], page
    body = assert_problem(api.post(LIST, key=admin.key, json=tenant_body(f"{slug}-2", name=f"acme CASE {slug} ")),
                          409)
    assert body["code"] == "tenant_exists", body


def test_conflicts_are_rate_limited_per_principal(api, new_key, create_tenant, slug, db):
    """A 409 says a slug or name exists in some account: each principal may meet
    rate_limit.conflicts_per_minute (30) of them a minute, then its mutations get 429 (issue 14:
    enumeration); its reads and other principals are unaffected."""
    owner, prober, bystander = new_key("all"), new_key("all"), new_key("all")
    create_tenant(owner, slug)
    statuses = [api.post(LIST, key=prober.key, json=tenant_body(slug, name=f"Probe {slug} {i}")).status_code
                for i in range(30)]
    assert statuses == [409] * 30, statuses
    r = api.post(LIST, key=prober.key, json=tenant_body(f"{slug}-free"))
    body = assert_problem(r, 429)
    assert body["code"] == "rate_limited", body
    assert int(r.headers["Retry-After"]) > 0
    assert tenant_row(db, f"{slug}-free") is None
    assert_json(api.get(LIST, key=prober.key), 200)
    create_tenant(bystander, f"{slug}-by")
