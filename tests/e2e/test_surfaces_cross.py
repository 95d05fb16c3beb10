"""One tenant through every surface (issue 11): made through one, read, changed and deleted
through the others, with the same data everywhere and nothing left behind.

- A tenant made through seed 002 (/tenants) is read and disabled through seed 003
  (/api/tenant), changed through /api/v1, seen changed through seed 002, and deleted through
  seed 003's triple verification: gone on every surface and in the database.
- A Microsoft 365 tenant imported through /api/v1/connections shows on seeds 000 and 004, on
  /api/v1, seed 002 and seed 003; a change through /api/v1 shows on seed 000; seed 000's DELETE
  removes it, with its domains and mailboxes, from every surface.
"""

import uuid

from conftest import unique_name
from helpers import assert_json, assert_status, sql_quote, wait_provisioned
from m365_helpers import connection_body


def tenant_by_name(api, key, name):
    page = assert_json(api.get("/api/v1/tenants", key=key, params={"name": name}), 200)
    assert len(page["data"]) == 1, page
    return page["data"][0]


def laravel_item(api, key, name):
    page = assert_json(api.get("/tenants", key=key, params={"name": name}), 200)
    assert len(page["data"]) == 1, page
    return page["data"][0]


def test_made_on_seed_002_changed_everywhere_deleted_on_seed_003(api, new_key, db):
    owner = new_key("all")
    glob = new_key("all", kind="global")
    name = f"Cross {uuid.uuid4().hex[:10]}"
    made = assert_json(api.post("/tenants", key=owner.key, json={
        "name": name, "country_code": "NL", "city": "Utrecht", "address": "Oudegracht 1",
        "post_code": "3511", "description": "made on seed 002"}), 200)["data"]

    canon = tenant_by_name(api, owner.key, name)
    assert (canon["countryCode"], canon["countryName"], canon["city"], canon["description"]) == \
        ("NL", made["country_name"], "Utrecht", "made on seed 002")
    assert canon["isActive"] is True
    guid, slug = canon["tenantId"], canon["id"]
    wait_provisioned(db, slug)  # it is activated again below

    mz = assert_json(api.get(f"/api/tenant/{guid}", key=glob.key), 200)
    assert (mz["tenantId"], mz["name"], mz["displayName"], mz["isDisabled"]) == (guid, name, name, False)
    assert mz["description"] == "made on seed 002"

    changed = assert_json(api.put("/api/tenant", key=glob.key, json={
        "tenantId": guid, "isDisabled": True, "description": "disabled on seed 003"}), 200)
    assert changed["isDisabled"] is True
    item = laravel_item(api, owner.key, name)
    assert (item["id"], item["is_trashed"], item["description"]) == (made["id"], True, "disabled on seed 003")
    assert assert_json(api.get(f"/api/v1/tenants/{slug}", key=owner.key), 200)["isActive"] is False

    assert_json(api.patch(f"/api/v1/tenants/{slug}", key=owner.key, json={"city": "Rotterdam"}), 200)
    assert laravel_item(api, owner.key, name)["city"] == "Rotterdam"
    assert assert_json(api.put(f"/tenants/{made['id']}/activate", key=owner.key, json={}), 200) == \
        {"is_trashed": False}
    assert assert_json(api.get(f"/api/tenant/{guid}", key=glob.key), 200)["isDisabled"] is False

    r = api.delete("/api/tenant", key=glob.key, json={"tenantId": guid, "name": name, "displayName": name})
    assert_json(r, 200)
    assert_status(api.get(f"/api/v1/tenants/{slug}", key=owner.key), 404)
    assert_status(api.get(f"/api/tenant/{guid}", key=glob.key), 404)
    assert_status(api.put(f"/tenants/{made['id']}", key=owner.key, json={"name": name}), 404)
    assert assert_json(api.get("/tenants/count", key=owner.key, params={"name": name}), 200) == {"count": 0}
    assert db.scalar(f"SELECT COUNT(*) FROM tenants WHERE guid = {sql_quote(guid)}") == "0"
    assert db.scalar("SELECT COUNT(*) FROM tenant_locations l LEFT JOIN tenants t ON t.pk = l.tenant_pk "
                     "WHERE t.pk IS NULL") == "0"


def test_imported_m365_tenant_on_every_surface_then_deleted_on_seed_000(api, new_key, db):
    owner = new_key("all")
    glob = new_key("all", kind="global")
    ms = str(uuid.uuid4())
    body = connection_body(ms, label="Cross Production", tenantName="Cross Corp")
    conn = assert_json(api.post("/api/v1/connections", key=owner.key, json=body), 201)

    tc = assert_json(api.get(f"/v1/tenants/{ms}", key=owner.key), 200)
    assert (tc["tenant_id"], tc["tenant_name"], tc["domain_count"], tc["mailbox_count"]) == \
        (ms, "Cross Corp", len(body["domains"]), len(body["mailboxes"]))
    listed = assert_json(api.get("/tenants/me/connections", key=owner.key), 200)
    assert [(c["id"], c["msTenantId"], c["label"], c["isPrimary"]) for c in listed["data"]] == \
        [(conn["id"], ms, "Cross Production", True)]

    canon = assert_json(api.get(f"/api/v1/tenants/{tc['id']}", key=owner.key), 200)
    assert (canon["msTenantId"], canon["displayName"], canon["domainCount"]) == \
        (ms, "Cross Corp", len(body["domains"]))
    slug, guid = canon["id"], canon["tenantId"]
    assert guid == tc["id"]
    item = laravel_item(api, owner.key, canon["name"])
    mz = assert_json(api.get(f"/api/tenant/{guid}", key=glob.key), 200)
    assert (mz["name"], mz["displayName"]) == (canon["name"], "Cross Corp")

    assert_json(api.patch(f"/api/v1/tenants/{slug}", key=owner.key,
                          json={"exchangeBootstrapStatus": "failed"}), 200)
    assert assert_json(api.get(f"/v1/tenants/{ms}", key=owner.key), 200)["exchange_bootstrap_status"] == "failed"

    gone = assert_json(api.delete(f"/v1/tenants/{ms}", key=owner.key), 200)
    assert (gone["status"], gone["tenant_id"], gone["tenant_name"]) == ("deleted", ms, "Cross Corp")
    assert_status(api.get(f"/api/v1/tenants/{slug}", key=owner.key), 404)
    assert_status(api.get(f"/v1/tenants/{ms}", key=owner.key), 404)
    assert_status(api.get(f"/api/tenant/{guid}", key=glob.key), 404)
    assert_status(api.put(f"/tenants/{item['id']}", key=owner.key, json={"name": canon["name"]}), 404)
    assert assert_json(api.get("/tenants/me/connections", key=owner.key), 200)["data"] == []
    pk = sql_quote(guid)
    assert db.scalar(f"SELECT COUNT(*) FROM tenants WHERE guid = {pk}") == "0"
    for table in ("m365_domains", "m365_mailboxes"):
        assert db.scalar(f"SELECT COUNT(*) FROM {table} c LEFT JOIN tenants t ON t.pk = c.tenant_pk "
                         "WHERE t.pk IS NULL") == "0", table
    assert db.scalar(f"SELECT COUNT(*) FROM connections WHERE ms_tenant_id = {sql_quote(ms)}") == "0"


def test_foreign_tenant_is_404_on_every_surface(api, new_key):
    """Another account's tenant, by each surface's own identifier, is indistinguishable from a
    tenant that does not exist."""
    owner, other = new_key("all"), new_key("all")
    name = unique_name("Foreign")
    made = assert_json(api.post("/tenants", key=owner.key, json={"name": name, "country_code": "DE"}), 200)["data"]
    canon = tenant_by_name(api, owner.key, name)
    ms = str(uuid.uuid4())
    conn = assert_json(api.post("/api/v1/connections", key=owner.key, json=connection_body(ms)), 201)
    for method, path, body in (
            ("GET", f"/api/v1/tenants/{canon['id']}", None),
            ("PATCH", f"/api/v1/tenants/{canon['tenantId']}", {"city": "x"}),
            ("PUT", f"/tenants/{made['id']}", {"name": name}),
            ("PUT", f"/tenants/{made['id']}/switch", None),
            ("GET", f"/v1/tenants/{ms}", None),
            ("DELETE", f"/v1/tenants/{ms}", None),
            ("POST", f"/tenants/me/connections/{conn['id']}/activate", None),
            ("DELETE", f"/tenants/me/connections/{conn['id']}", None),
            ("GET", f"/api/v1/connections/{conn['id']}", None)):
        r = api.request(method, path, key=other.key, json=body)
        assert_status(r, 404)
        missing = path.replace(made["id"], "ZZZZZZZZZZZ").replace(ms, str(uuid.uuid4())) \
            .replace(conn["id"], "conn_" + "x" * 20).replace(canon["id"], unique_name("nope")) \
            .replace(canon["tenantId"], str(uuid.uuid4()))
        r2 = api.request(method, missing, key=other.key, json=body)
        assert_status(r2, 404)
        assert r.json() == r2.json() or set(r.json()) == set(r2.json()), (path, r.text, r2.text)
