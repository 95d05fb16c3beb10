"""Seed 002: the Laravel-style tenant API at /tenants.

Every example request of the seed is replayed (JSON and XML), then the edge cases: another
account's tenant on every route, per_page and page bounds, each 422 wording, Laravel's error
envelopes and rate-limit headers, and tenants crossing between /tenants and /api/v1.
"""

import json
import uuid

import pytest

from helpers import assert_json, assert_xml, child_text, describe, localname, sql_quote, tenant_body, wait_provisioned

LIST = "/tenants"
ITEM_FIELDS = ["id", "name", "address", "city", "country_code", "country_name", "description", "is_trashed",
               "group_id", "group_name"]
DATA_FIELDS = ITEM_FIELDS[:8]
ITEM_TYPES = {"id": str, "name": str, "address": str, "city": str, "country_code": str, "country_name": str,
              "description": str, "is_trashed": bool, "group_id": str, "group_name": str}
INVALID = "The given data was invalid."
NOT_FOUND = "No query results for model [Tenant]."
COUNTRY = "The country code field is invalid. It must be ISO 3166-1 alpha-2 country code."
XML = {"Accept": "application/xml"}


def company(**over):
    """The seed's example tenant, under a name of its own."""
    body = {"name": f"Company {uuid.uuid4().hex[:10]}", "address": "115 East 23rd Street 5th Floor",
            "city": "New York", "country_code": "US", "post_code": "10010", "description": "New York"}
    body.update(over)
    return body


def xml_body(root, fields):
    parts = "".join(f"<{k}>{v}</{k}>" for k, v in fields.items())
    return f'<?xml version="1.0" encoding="UTF-8"?><{root}>{parts}</{root}>'.encode()


def xml_headers():
    return {"Accept": "application/xml", "Content-Type": "application/xml"}


def create(api, who, **over):
    body = company(**over)
    r = api.post(LIST, key=who.key, json=body)
    data = assert_json(r, 200)["data"]
    return data, body


def assert_laravel_error(r, status, message=None):
    body = assert_json(r, status)
    assert list(body)[0] == "message" and isinstance(body["message"], str), describe(r)
    if message is not None:
        assert body["message"] == message, describe(r)
    return body


def assert_invalid(r, errors):
    """A 422 with exactly these errors (field -> [messages])."""
    body = assert_laravel_error(r, 422, INVALID)
    assert list(body) == ["message", "errors"], describe(r)
    assert body["errors"] == errors, describe(r)


def assert_item(item, fields):
    assert list(item) == fields, item
    for k in fields:
        assert item[k] is None or isinstance(item[k], ITEM_TYPES[k]), f"{k}: {item[k]!r}"
    assert len(item["id"]) == 11 and item["id"].isalnum(), item


def xml_children(el):
    return [localname(c) for c in el if isinstance(c.tag, str)]


def short_id_of(db, slug):
    return db.scalar(f"SELECT short_id FROM tenants WHERE slug = {sql_quote(slug)}")


# ---------------------------------------------------------------------------
# The seed's examples


def test_create_tenant_example(api, admin, db):
    data, body = create(api, admin)
    assert_item(data, DATA_FIELDS)
    assert data == {"id": data["id"], "name": body["name"], "address": body["address"], "city": "New York",
                    "country_code": "US", "country_name": "United States", "description": "New York",
                    "is_trashed": False}
    row = db.one(f"SELECT pk, post_code, is_active, account_id FROM tenants WHERE short_id = {sql_quote(data['id'])}")
    assert row["post_code"] == "10010" and row["is_active"] == "1", row
    # The API user is moved to the new tenant, and it has a default location, as the 200 is answered.
    assert db.scalar(f"SELECT current_tenant_pk FROM accounts WHERE id = {row['account_id']}") == row["pk"]
    assert db.scalar(f"SELECT COUNT(*) FROM tenant_locations WHERE tenant_pk = {row['pk']} AND is_default = 1") == "1"


def test_create_tenant_example_xml(api, admin):
    body = company()
    r = api.post(LIST, key=admin.key, data=xml_body("tenant", body), headers=xml_headers())
    doc = assert_xml(r, 200, "laravelTenant")
    assert xml_children(doc) == ["data"]
    assert xml_children(doc[0]) == DATA_FIELDS
    assert child_text(doc[0], "name") == body["name"]
    assert child_text(doc[0], "country_name") == "United States"
    assert child_text(doc[0], "is_trashed") == "false"


def test_create_422_example(api, admin):
    r = api.post(LIST, key=admin.key, json={"country_code": "XX", "city": "Nowhere"})
    assert_invalid(r, {"name": ["The name field is required."], "country_code": [COUNTRY]})
    r = api.post(LIST, key=admin.key, data=xml_body("tenant", {"country_code": "XX"}), headers=xml_headers())
    doc = assert_xml(r, 422, "laravelError")
    assert xml_children(doc) == ["message", "errors"]
    assert child_text(doc, "message") == INVALID
    errors = doc[1]
    assert xml_children(errors) == ["name", "country_code"]
    assert [m.text for m in errors[0]] == ["The name field is required."]
    assert [m.text for m in errors[1]] == [COUNTRY]
    assert xml_children(errors[0]) == ["message"]


def test_list_example(api, new_key):
    """Eleven tenants: page 1 of the seed's example (10, next = page 2), then page 2."""
    who = new_key("all")
    made = [create(api, who)[0] for _ in range(11)]
    page = assert_json(api.get(LIST, key=who.key), 200)
    assert list(page) == ["data", "links", "meta"]
    assert len(page["data"]) == 10
    for item in page["data"]:
        assert_item(item, ITEM_FIELDS)
    assert [t["id"] for t in page["data"]] == [t["id"] for t in made[:10]]
    first = page["data"][0]
    assert first["group_id"] == "0" and first["group_name"] == "" and first["is_trashed"] is False
    base = api.base
    assert page["links"] == {"first": f"{base}/tenants?page=1", "last": None, "prev": None,
                             "next": f"{base}/tenants?page=2"}
    assert page["meta"] == {"current_page": 1, "from": 1, "path": f"{base}/tenants", "per_page": 10, "to": 10}
    assert list(page["meta"]) == ["current_page", "from", "path", "per_page", "to"]
    assert list(page["links"]) == ["first", "last", "prev", "next"]

    two = assert_json(api.get(page["links"]["next"], key=who.key), 200)
    assert [t["id"] for t in two["data"]] == [made[10]["id"]]
    assert two["links"] == {"first": f"{base}/tenants?page=1", "last": None, "prev": f"{base}/tenants?page=1",
                            "next": None}
    assert two["meta"] == {"current_page": 2, "from": 11, "path": f"{base}/tenants", "per_page": 10, "to": 11}

    empty = assert_json(api.get(LIST, key=who.key, params={"page": 3}), 200)
    assert empty["data"] == [] and empty["meta"]["from"] is None and empty["meta"]["to"] is None
    assert empty["links"]["next"] is None and empty["links"]["prev"] == f"{base}/tenants?page=2"


def test_list_example_xml(api, new_key):
    who = new_key("all")
    made, _ = create(api, who)
    r = api.get(LIST, key=who.key, headers=XML)
    doc = assert_xml(r, 200, "laravelTenants")
    assert xml_children(doc) == ["data", "links", "meta"]
    assert xml_children(doc[0]) == ["tenant"]
    assert xml_children(doc[0][0]) == ITEM_FIELDS
    assert child_text(doc[0][0], "id") == made["id"]
    assert child_text(doc[0][0], "group_id") == "0"
    assert xml_children(doc[1]) == ["first", "last", "prev", "next"]
    assert child_text(doc[1], "first") == f"{api.base}/tenants?page=1"
    nil = "{http://www.w3.org/2001/XMLSchema-instance}nil"
    assert doc[1][1].get(nil) == "true" and doc[1][3].get(nil) == "true"
    assert xml_children(doc[2]) == ["current_page", "from", "path", "per_page", "to"]
    assert child_text(doc[2], "per_page") == "10"


def test_list_filters(api, new_key):
    who = new_key("all")
    a, _ = create(api, who, description="Head office in Amsterdam")
    b, _ = create(api, who, description="Branch in Rotterdam")
    page = assert_json(api.get(LIST, key=who.key, params={"description": "amsterdam"}), 200)
    assert [t["id"] for t in page["data"]] == [a["id"]]
    # name: the exact name, ignoring case and trailing spaces (the collation).
    page = assert_json(api.get(LIST, key=who.key, params={"name": b["name"].upper() + "  "}), 200)
    assert [t["id"] for t in page["data"]] == [b["id"]]
    assert assert_json(api.get(LIST, key=who.key, params={"name": b["name"][:-1]}), 200)["data"] == []
    # A description search matches the description only, not the name.
    assert assert_json(api.get(LIST, key=who.key, params={"description": "Company"}), 200)["data"] == []
    # The links carry the filters, percent-encoded.
    page = assert_json(api.get(LIST, key=who.key, params={"description": "in &page=9#x", "per_page": 1}), 200)
    assert page["links"]["first"] == f"{api.base}/tenants?description=in%20%26page%3D9%23x&per_page=1&page=1"


def test_count_example(api, new_key):
    who = new_key("all")
    a, _ = create(api, who, description="counted here")
    create(api, who, description="elsewhere")
    r = api.get(f"{LIST}/count", key=who.key)
    assert assert_json(r, 200) == {"count": 2}
    assert assert_json(api.get(f"{LIST}/count", key=who.key, params={"description": "counted"}), 200) == {"count": 1}
    assert assert_json(api.get(f"{LIST}/count", key=who.key, params={"name": a["name"]}), 200) == {"count": 1}
    doc = assert_xml(api.get(f"{LIST}/count", key=who.key, headers=XML), 200, "count")
    assert xml_children(doc) == ["count"] and child_text(doc, "count") == "2"


def test_update_example(api, admin, db):
    data, _ = create(api, admin)
    change = company(city="Boston", country_code="NL", description="Updated", post_code="1011")
    r = api.put(f"{LIST}/{data['id']}", key=admin.key, json=change)
    out = assert_json(r, 200)
    assert list(out) == ["data"]
    assert_item(out["data"], DATA_FIELDS)
    assert out["data"]["id"] == data["id"] and out["data"]["name"] == change["name"]
    assert out["data"]["country_name"] == "Netherlands" and out["data"]["city"] == "Boston"
    assert db.scalar(f"SELECT post_code FROM tenants WHERE short_id = {sql_quote(data['id'])}") == "1011"
    # Fields not sent are left as they are.
    r = api.put(f"{LIST}/{data['id']}", key=admin.key, json={"name": change["name"]})
    assert assert_json(r, 200)["data"]["city"] == "Boston"
    r = api.put(f"{LIST}/{data['id']}", key=admin.key, data=xml_body("tenant", {"name": change["name"],
                                                                                "city": "Utrecht"}),
                headers=xml_headers())
    doc = assert_xml(r, 200, "laravelTenant")
    assert xml_children(doc[0]) == DATA_FIELDS and child_text(doc[0], "city") == "Utrecht"


def test_update_422_example(api, admin):
    data, _ = create(api, admin)
    r = api.put(f"{LIST}/{data['id']}", key=admin.key, json={"country_code": "USA"})
    assert_invalid(r, {"name": ["The name field is required."], "country_code": [COUNTRY]})
    r = api.put(f"{LIST}/{data['id']}", key=admin.key, data=xml_body("tenant", {"country_code": "XX"}),
                headers=xml_headers())
    doc = assert_xml(r, 422, "laravelError")
    assert xml_children(doc[1]) == ["name", "country_code"]


def test_deactivate_and_activate_examples(api, admin, db):
    data, _ = create(api, admin)
    pk = db.scalar(f"SELECT pk FROM tenants WHERE short_id = {sql_quote(data['id'])}")
    wait_provisioned(db, db.scalar(f"SELECT slug FROM tenants WHERE pk = {pk}"))  # it is activated again
    db.query(f"INSERT INTO tenant_users (tenant_pk, email, status, is_support) VALUES ({pk}, 'u@x.example', 1, 0),"
             f" ({pk}, 'support@x.example', 1, 1)")

    def statuses():
        rows = db.query(f"SELECT email, status FROM tenant_users WHERE tenant_pk = {pk} ORDER BY email")
        return {r["email"]: r["status"] for r in rows}

    r = api.put(f"{LIST}/{data['id']}/deactivate", key=admin.key, json={"user_status": 2})
    assert assert_json(r, 200) == {"is_trashed": True}
    assert db.scalar(f"SELECT is_active FROM tenants WHERE pk = {pk}") == "0"
    assert statuses() == {"support@x.example": "1", "u@x.example": "2"}
    page = assert_json(api.get(LIST, key=admin.key, params={"name": data["name"]}), 200)
    assert page["data"][0]["is_trashed"] is True

    r = api.put(f"{LIST}/{data['id']}/activate", key=admin.key, data=xml_body("tenant", {"user_status": 1}),
                headers=xml_headers())
    doc = assert_xml(r, 200, "laravelActivation")
    assert xml_children(doc) == ["is_trashed"] and child_text(doc, "is_trashed") == "false"
    assert db.scalar(f"SELECT is_active FROM tenants WHERE pk = {pk}") == "1"
    assert statuses() == {"support@x.example": "1", "u@x.example": "1"}

    # Without a body the users are left alone; XML answers for deactivate too.
    r = api.put(f"{LIST}/{data['id']}/deactivate", key=admin.key, headers=XML)
    assert child_text(assert_xml(r, 200, "laravelActivation"), "is_trashed") == "true"
    assert statuses() == {"support@x.example": "1", "u@x.example": "1"}
    r = api.put(f"{LIST}/{data['id']}/activate", key=admin.key)
    assert assert_json(r, 200) == {"is_trashed": False}


def test_switch_example(api, admin, db):
    a, _ = create(api, admin)
    b, _ = create(api, admin)
    current = f"SELECT t.short_id FROM accounts a JOIN tenants t ON t.pk = a.current_tenant_pk WHERE a.name = " \
              f"{sql_quote(admin.account)}"
    assert db.scalar(current) == b["id"]
    r = api.put(f"{LIST}/{a['id']}/switch", key=admin.key)
    assert assert_json(r, 200) == {"success": True}
    assert db.scalar(current) == a["id"]
    doc = assert_xml(api.put(f"{LIST}/{b['id']}/switch", key=admin.key, headers=XML), 200, "laravelSwitch")
    assert xml_children(doc) == ["success"] and child_text(doc, "success") == "true"
    assert db.scalar(current) == b["id"]


def test_switch_to_a_deactivated_tenant_is_refused(api, admin, db):
    """A deactivated tenant refuses its users, so the caller is not moved into it: 409 in
    Laravel's envelope, JSON and XML, the current tenant unchanged and no switch audited."""
    a, _ = create(api, admin)
    b, _ = create(api, admin)
    current = f"SELECT t.short_id FROM accounts a JOIN tenants t ON t.pk = a.current_tenant_pk WHERE a.name = " \
              f"{sql_quote(admin.account)}"
    assert db.scalar(current) == b["id"]
    assert assert_json(api.put(f"{LIST}/{a['id']}/deactivate", key=admin.key), 200) == {"is_trashed": True}
    audited = f"SELECT COUNT(*) FROM audit_events WHERE action = 'tenant.switch' AND target_id = " \
              f"(SELECT slug FROM tenants WHERE short_id = {sql_quote(a['id'])})"
    r = api.put(f"{LIST}/{a['id']}/switch", key=admin.key)
    assert assert_json(r, 409) == {"message": "The tenant is deactivated: activate it before switching to it."}
    doc = assert_xml(api.put(f"{LIST}/{a['id']}/switch", key=admin.key, headers=XML), 409, "laravelError")
    assert child_text(doc, "message").startswith("The tenant is deactivated")
    assert db.scalar(current) == b["id"]
    assert int(db.scalar(audited)) == 0
    wait_provisioned(db, db.scalar(f"SELECT slug FROM tenants WHERE short_id = {sql_quote(a['id'])}"))
    assert assert_json(api.put(f"{LIST}/{a['id']}/activate", key=admin.key), 200) == {"is_trashed": False}
    assert assert_json(api.put(f"{LIST}/{a['id']}/switch", key=admin.key), 200) == {"success": True}
    assert db.scalar(current) == a["id"]
    assert int(db.scalar(audited)) == 1


# ---------------------------------------------------------------------------
# Edge cases


def test_foreign_tenant_is_not_found_on_every_route(api, new_key):
    owner, other = new_key("all"), new_key("all")
    data, body = create(api, owner)
    missing = "AAAAAAAAAAA"
    for tid in (data["id"], missing):
        for path, kw in ((f"{LIST}/{tid}", {"json": company()}), (f"{LIST}/{tid}/deactivate", {}),
                         (f"{LIST}/{tid}/activate", {}), (f"{LIST}/{tid}/switch", {})):
            r = api.put(path, key=other.key, **kw)
            assert_laravel_error(r, 404, NOT_FOUND)
            doc = assert_xml(api.put(path, key=other.key, headers=XML, **kw), 404, "laravelError")
            assert child_text(doc, "message") == NOT_FOUND
    assert assert_json(api.get(LIST, key=other.key, params={"name": body["name"]}), 200)["data"] == []
    assert assert_json(api.get(f"{LIST}/count", key=other.key, params={"name": body["name"]}), 200) == {"count": 0}
    # Still the owner's, unchanged.
    page = assert_json(api.get(LIST, key=owner.key, params={"name": body["name"]}), 200)
    assert page["data"][0]["is_trashed"] is False and page["data"][0]["city"] == "New York"


def test_per_page_and_page_bounds(api, new_key):
    who = new_key("all")
    create(api, who)
    page = assert_json(api.get(LIST, key=who.key, params={"per_page": 101}), 200)
    assert page["meta"]["per_page"] == 100, "per_page above 100 is capped to 100"
    assert page["links"]["first"] == f"{api.base}/tenants?per_page=100&page=1"
    assert assert_json(api.get(LIST, key=who.key, params={"per_page": 100}), 200)["meta"]["per_page"] == 100
    for bad, msg in ((0, "The per page must be at least 1."), (-5, "The per page must be at least 1."),
                     ("abc", "The per page must be an integer."), ("1.5", "The per page must be an integer.")):
        assert_invalid(api.get(LIST, key=who.key, params={"per_page": bad}), {"per_page": [msg]})
    # Laravel's paginator reads any page that is not an integer from 1 as page 1.
    far = assert_json(api.get(LIST, key=who.key, params={"page": 1000000000, "per_page": 100}), 200)
    assert far["data"] == [] and far["meta"]["current_page"] == 1000000000 and far["links"]["next"] is None
    for p in (0, -1, "abc", "1e3", 1000000001):
        page = assert_json(api.get(LIST, key=who.key, params={"page": p}), 200)
        assert page["meta"]["current_page"] == 1 and len(page["data"]) == 1, p


def test_each_422_wording(api, admin):
    taken, _ = create(api, admin)
    cases = [
        ({"name": "   "}, {"name": ["The name field is required."]}),
        ({"name": None}, {"name": ["The name field is required."]}),
        ({"name": " Abcd "}, {"name": ["The name must be at least 5 characters."]}),
        ({"name": "x" * 201}, {"name": ["The name may not be greater than 200 characters."]}),
        ({"name": 12345}, {"name": ["The name must be a string."]}),
        ({"name": taken["name"]}, {"name": ["The name has already been taken."]}),
        ({"name": taken["name"].lower() + " "}, {"name": ["The name has already been taken."]}),
        (company(country_code="us1"), {"country_code": [COUNTRY]}),
        (company(city=["x"]), {"city": ["The city must be a string."]}),
        (company(address="a" * 301), {"address": ["The address may not be greater than 300 characters."]}),
        (company(post_code="1" * 21), {"post_code": ["The post code may not be greater than 20 characters."]}),
        (company(description=True), {"description": ["The description must be a string."]}),
    ]
    for body, errors in cases:
        assert_invalid(api.post(LIST, key=admin.key, json=body), errors)
    other, _ = create(api, admin)
    assert_invalid(api.put(f"{LIST}/{other['id']}", key=admin.key, json={"name": taken["name"]}),
                   {"name": ["The name has already been taken."]})
    for status, msg in ((3, "The selected user status is invalid."), (-1, "The selected user status is invalid."),
                        ("x", "The user status must be an integer."), (True, "The user status must be an integer.")):
        assert_invalid(api.put(f"{LIST}/{other['id']}/deactivate", key=admin.key, json={"user_status": status}),
                       {"user_status": [msg]})
    assert_invalid(api.get(LIST, key=admin.key, params={"name": "n" * 201}),
                   {"name": ["The name may not be greater than 200 characters."]})


def test_input_is_trimmed_and_unknown_fields_ignored(api, admin, db):
    name = f"  Trimmed {uuid.uuid4().hex[:8]}  "
    r = api.post(LIST, key=admin.key, json={"name": name, "city": "   ", "id": "ignored-slug", "is_trashed": True,
                                            "adminEmail": "nobody"})
    data = assert_json(r, 200)["data"]
    assert data["name"] == name.strip() and data["city"] is None and data["is_trashed"] is False
    slug = db.scalar(f"SELECT slug FROM tenants WHERE short_id = {sql_quote(data['id'])}")
    assert slug.startswith("trimmed-"), slug


def test_names_with_one_slug_get_distinct_slugs(api, admin, db):
    """The /api/v1 slug is made from the name; a taken one gets a random suffix."""
    base = f"Collide {uuid.uuid4().hex[:8]}"
    a, _ = create(api, admin, name=base)
    b, _ = create(api, admin, name=base.replace(" ", "-") + "!")
    slugs = [db.scalar(f"SELECT slug FROM tenants WHERE short_id = {sql_quote(t['id'])}") for t in (a, b)]
    assert slugs[0] == base.lower().replace(" ", "-"), slugs
    assert slugs[1].startswith(slugs[0] + "-") and len(slugs[1]) == len(slugs[0]) + 7, slugs


def test_error_envelopes(api, admin, new_key, ctl):
    data, _ = create(api, admin)
    assert_laravel_error(api.get(LIST), 401, "Unauthenticated.")
    assert_laravel_error(api.get(LIST, key="tk_live_" + "x" * 43), 401, "Unauthenticated.")
    tenant_key = ctl.key(account=admin.account, kind="tenant", permissions="all",
                         tenant=api.get(f"/api/v1/tenants?name={data['name']}", key=admin.key).json()["data"][0]["id"])
    assert_laravel_error(api.get(LIST, key=tenant_key.key), 401, "Unauthenticated.")
    viewer = new_key("View")
    assert_laravel_error(api.post(LIST, key=viewer.key, json=company()), 403, "This action is unauthorized.")
    assert_laravel_error(api.put(f"{LIST}/{data['id']}/deactivate", key=viewer.key), 403,
                         "This action is unauthorized.")
    r = api.delete(f"{LIST}/{data['id']}", key=admin.key)
    assert_laravel_error(r, 405, "The DELETE method is not supported for this route. Supported methods: PUT.")
    assert r.headers.get("Allow") == "PUT"
    assert_laravel_error(api.patch(LIST, key=admin.key), 405,
                         "The PATCH method is not supported for this route. Supported methods: GET, HEAD, POST.")
    assert_laravel_error(api.get(f"{LIST}/{data['id']}/nothing/here", key=admin.key), 404,
                         f"The route tenants/{data['id']}/nothing/here could not be found.")
    assert_laravel_error(api.get(LIST, key=admin.key, headers={"Accept": "text/plain"}), 406)
    assert_laravel_error(api.post(LIST, key=admin.key, data=b"name=x", headers={"Content-Type": "text/plain"}), 415)
    assert_laravel_error(api.post(LIST, key=admin.key, data=b'{"name": ', headers={"Content-Type": "application/json"}),
                         400)
    big = b'{"name":"' + b"a" * (1100 * 1024) + b'"}'
    assert_laravel_error(api.post(LIST, key=admin.key, data=big, headers={"Content-Type": "application/json"}), 413)
    assert_laravel_error(api.put(f"{LIST}/count/switch", key=admin.key), 404, NOT_FOUND)
    assert_laravel_error(api.get(f"{LIST}/%FF/x/y", key=admin.key), 404, "Not Found")


def test_links_do_not_trust_the_host_header(api, new_key):
    """A Host that is not a plain host[:port] is left out: the links are absolute paths."""
    who = new_key("all")
    create(api, who)
    for host in ('ev"il<x>', "evil@x", "ev%il"):
        page = assert_json(api.get(LIST, key=who.key, headers={"Host": host}), 200)
        assert page["links"]["first"] == "/tenants?page=1", page["links"]
        assert page["meta"]["path"] == "/tenants", page["meta"]


def test_rate_limit_61st_request(api, ctl):
    key = ctl.key(permissions="View").key
    r = api.get(f"{LIST}/count", key=key)
    assert_json(r, 200)
    limit = int(r.headers.get("X-RateLimit-Limit", "0"))
    if limit <= 0 or limit > 1000:
        pytest.skip(f"rate limiting is off or too high to reach here (X-RateLimit-Limit {limit})")
    assert "RateLimit-Limit" not in r.headers and "X-RateLimit-Reset" not in r.headers
    assert int(r.headers["X-RateLimit-Remaining"]) == limit - 1
    # A slow run may cross into the next window: the bound allows for two.
    for _ in range(3 * limit):
        r = api.get(f"{LIST}/count", key=key)
        if r.status_code == 429:
            break
    assert_laravel_error(r, 429, "Too Many Attempts.")
    assert int(r.headers["Retry-After"]) >= 0
    assert r.headers["X-RateLimit-Remaining"] == "0"
    assert int(r.headers["X-RateLimit-Reset"]) > 1_600_000_000
    # Per endpoint: the list has a budget of its own.
    assert_json(api.get(LIST, key=key), 200)


# ---------------------------------------------------------------------------
# One tenant, two surfaces


def test_created_here_then_read_changed_deleted_through_api_v1(api, admin, db):
    data, body = create(api, admin)
    slug = db.scalar(f"SELECT slug FROM tenants WHERE short_id = {sql_quote(data['id'])}")
    t = assert_json(api.get(f"/api/v1/tenants/{slug}", key=admin.key), 200)
    assert (t["name"], t["city"], t["address"], t["countryCode"], t["postCode"], t["description"], t["isActive"]) == \
        (body["name"], "New York", body["address"], "US", "10010", "New York", True)
    r = api.patch(f"/api/v1/tenants/{slug}", key=admin.key, json={"city": "Chicago", "groupId": "7",
                                                                  "groupName": "Midwest"})
    assert_json(r, 200)
    item = assert_json(api.get(LIST, key=admin.key, params={"name": body["name"]}), 200)["data"][0]
    assert (item["id"], item["city"], item["group_id"], item["group_name"]) == (data["id"], "Chicago", "7", "Midwest")
    r = api.delete(f"/api/v1/tenants/{slug}", key=admin.key, params={"confirmName": body["name"],
                                                                     "confirmDisplayName": body["name"]})
    assert_json(r, 200)
    assert assert_json(api.get(LIST, key=admin.key, params={"name": body["name"]}), 200)["data"] == []
    assert_laravel_error(api.put(f"{LIST}/{data['id']}/switch", key=admin.key), 404, NOT_FOUND)


def test_created_through_api_v1_then_listed_updated_deactivated_here(api, admin, slug):
    name = f"Canonical {slug}"
    r = api.post("/api/v1/tenants", key=admin.key, json=tenant_body(slug, name=name))
    assert r.status_code == 202, describe(r)
    page = assert_json(api.get(LIST, key=admin.key, params={"name": name}), 200)
    item = page["data"][0]
    assert item["name"] == name and item["city"] is None and item["country_name"] is None
    assert item["group_id"] == "0" and item["group_name"] == ""
    r = api.put(f"{LIST}/{item['id']}", key=admin.key, json={"name": name, "city": "Lyon", "country_code": "FR"})
    assert assert_json(r, 200)["data"]["country_name"] == "France"
    assert assert_json(api.put(f"{LIST}/{item['id']}/deactivate", key=admin.key), 200) == {"is_trashed": True}
    t = assert_json(api.get(f"/api/v1/tenants/{slug}", key=admin.key), 200)
    assert (t["city"], t["countryCode"], t["isActive"], t["adminEmail"]) == ("Lyon", "FR", False,
                                                                              f"admin@{slug}.example")


def test_links_follow_mount_prefix_and_surface_prefix(stack, tmp_path, new_key):
    """Under mount_prefix and a surface prefix (surface.laravel.prefix) the page links lead
    back to where the list was asked, so a client following them does not get 404."""
    from helpers import cgi
    owner = new_key("all")
    conf = "mount_prefix = /api-host\nsurface.laravel.prefix = /legacy\n"
    env = {"REQUEST_URI": "/api-host/legacy/tenants?per_page=1", "HTTP_AUTHORIZATION": f"Bearer {owner.key}",
           "HTTP_HOST": "example.test", "REQUEST_SCHEME": "https", "SERVER_PORT": "443"}
    status, _, body = cgi(stack, tmp_path, env, extra_conf=conf)
    assert status == 200, body[:300]
    page = json.loads(body)
    assert page["meta"]["path"] == "https://example.test/api-host/legacy/tenants", page
    assert page["links"]["first"] == "https://example.test/api-host/legacy/tenants?per_page=1&page=1", page
    env["REQUEST_URI"] = "/api-host/legacy/tenants/count"
    env["REQUEST_METHOD"] = "DELETE"
    status, _, body = cgi(stack, tmp_path, env, extra_conf=conf)
    assert status == 405, body[:300]
    assert "Supported methods: GET, HEAD" in json.loads(body)["message"], body
