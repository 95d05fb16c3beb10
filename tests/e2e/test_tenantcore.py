"""Seed 000 (TenantCore): GET /v1/tenants, GET and DELETE /v1/tenants/{tenant_id}.

Every example request of the seed document is replayed, in JSON and in XML, on tenants
imported through POST /api/v1/connections (tenants are connected by admin consent, never
through this surface); plus the foreign-account cases, the tc_live_ key tag, the error
envelope and the consistency with /api/v1."""

import uuid

import pytest

from helpers import assert_common_headers, child_text, describe, media_type
from m365_helpers import import_connection, ms_guid, names, types_of, xml_children

LIST_FIELDS = ["id", "tenant_id", "tenant_name", "tenant_domain", "default_domain", "domain_count",
               "mailbox_count", "status", "discovery_completed", "exchange_bootstrap_status", "consented_at",
               "last_sync_at"]
GET_FIELDS = ["id", "tenant_id", "tenant_name", "tenant_domain", "default_domain", "domain_count",
              "mailbox_count", "status", "discovery_completed", "exchange_bootstrap_status",
              "smtp_auth_org_enabled", "consented_at", "last_sync_at", "connected_by"]
# The seed's example item, by JSON type (status is null in the example: a nullable string).
LIST_TYPES = {"id": "str", "tenant_id": "str", "tenant_name": "str", "tenant_domain": "str",
              "default_domain": "str", "domain_count": "int", "mailbox_count": "int", "status": "NoneType",
              "discovery_completed": "bool", "exchange_bootstrap_status": "str", "consented_at": "str",
              "last_sync_at": "str"}
GET_TYPES = {**LIST_TYPES, "smtp_auth_org_enabled": "bool", "connected_by": "str"}
MESSAGE = "Tenant and all associated records removed. The Microsoft tenant itself was not affected."
XML = {"Accept": "application/xml"}


def tc(key):
    """The same key as TenantCore clients have it configured."""
    assert key.startswith("tk_live_")
    return "tc_live_" + key[len("tk_live_"):]


def tc_error(r, status, code):
    assert r.status_code == status, f"expected {status}{describe(r)}"
    assert media_type(r) == "application/json", describe(r)
    assert_common_headers(r)
    body = r.json()
    assert list(body) == ["error", "code"], describe(r)
    assert isinstance(body["error"], str) and body["error"]
    assert body["code"] == code, describe(r)
    return body


@pytest.fixture
def owner(new_key, api):
    """A fresh account with the seed's Acme Corp tenant (12 domains, 36 mailboxes)."""
    p = new_key("all")
    ms = ms_guid()
    import_connection(api, p, ms)
    return p, ms


def test_list_example(api, owner, db):
    p, ms = owner
    r = api.get("/v1/tenants", key=tc(p.key))
    assert r.status_code == 200, describe(r)
    assert media_type(r) == "application/json"
    body = r.json()
    assert list(body) == ["tenants", "count"]
    assert body["count"] == 1 and len(body["tenants"]) == 1
    t = body["tenants"][0]
    assert list(t) == LIST_FIELDS
    assert types_of(t) == LIST_TYPES
    pk_guid = db.scalar(f"SELECT guid FROM tenants WHERE ms_tenant_id = '{ms}' AND account_id = {p.account_id}")
    assert t["id"] == pk_guid and uuid.UUID(t["id"])
    assert t["tenant_id"] == ms
    assert (t["tenant_name"], t["domain_count"], t["mailbox_count"]) == ("Acme Corp", 12, 36)
    assert t["tenant_domain"] == f"acme{ms[:8]}.onmicrosoft.com"
    assert (t["discovery_completed"], t["exchange_bootstrap_status"]) == (True, "ready")
    assert (t["consented_at"], t["last_sync_at"]) == ("2025-01-15T14:32:00Z", "2025-04-20T08:00:00Z")

    rx = api.get("/v1/tenants", key=tc(p.key), headers=XML)
    assert rx.status_code == 200, describe(rx)
    doc, children = xml_children(rx, "tenantcoreTenants")
    assert children == ["tenants", "count"]
    items = list(doc.find("tenants"))
    assert [i.tag for i in items] == ["tenant"]
    assert names(items[0]) == LIST_FIELDS
    assert child_text(items[0], "tenant_id") == ms and child_text(doc, "count") == "1"
    assert items[0].find("status").get("{http://www.w3.org/2001/XMLSchema-instance}nil") == "true"


def test_list_is_newest_consent_first(api, new_key):
    p = new_key("all")
    order = ["2024-03-01T00:00:00Z", "2025-06-01T00:00:00Z", "2023-01-01T00:00:00Z"]
    ms = [ms_guid() for _ in order]
    for m, at in zip(ms, order):
        import_connection(api, p, m, consentedAt=at)
    body = api.get("/v1/tenants", key=p.key).json()
    assert [t["tenant_id"] for t in body["tenants"]] == [ms[1], ms[0], ms[2]]
    assert body["count"] == 3


def test_get_example(api, owner):
    p, ms = owner
    r = api.get(f"/v1/tenants/{ms}", key=tc(p.key))
    assert r.status_code == 200, describe(r)
    t = r.json()
    assert list(t) == GET_FIELDS
    assert types_of(t) == GET_TYPES
    assert (t["tenant_id"], t["smtp_auth_org_enabled"], t["connected_by"]) == (ms, True, "you@example.com")
    rx = api.get(f"/v1/tenants/{ms}", key=tc(p.key), headers=XML)
    doc, children = xml_children(rx, "tenantcoreTenant")
    assert children == GET_FIELDS
    assert child_text(doc, "smtp_auth_org_enabled") == "true"
    assert child_text(doc, "connected_by") == "you@example.com"


def test_get_is_by_microsoft_guid_not_row_id(api, owner):
    p, ms = owner
    row_id = api.get(f"/v1/tenants/{ms}", key=p.key).json()["id"]
    tc_error(api.get(f"/v1/tenants/{row_id}", key=p.key), 404, "tenant_not_found")


def test_delete_example_removes_every_record(api, owner, db):
    p, ms = owner
    pk = db.scalar(f"SELECT pk FROM tenants WHERE ms_tenant_id = '{ms}' AND account_id = {p.account_id}")
    db.query(f"INSERT INTO m365_sync_logs (tenant_pk, outcome) VALUES ({pk}, 'ok')")
    db.query(f"INSERT INTO m365_enforcement_events (tenant_pk, kind) VALUES ({pk}, 'smtp_block')")
    r = api.delete(f"/v1/tenants/{ms}", key=tc(p.key))
    assert r.status_code == 200, describe(r)
    body = r.json()
    assert body == {"status": "deleted", "tenant_id": ms, "tenant_name": "Acme Corp", "message": MESSAGE}
    assert list(body) == ["status", "tenant_id", "tenant_name", "message"]
    for table in ("m365_domains", "m365_mailboxes", "m365_sync_logs", "m365_enforcement_events"):
        assert db.scalar(f"SELECT COUNT(*) FROM {table} WHERE tenant_pk = {pk}") == "0", table
    assert db.scalar(f"SELECT COUNT(*) FROM tenants WHERE pk = {pk}") == "0"
    assert db.scalar(f"SELECT COUNT(*) FROM connections WHERE tenant_pk = {pk}") == "0"
    audit = db.one(f"SELECT action, outcome FROM audit_events WHERE account_id = {p.account_id} "
                   "ORDER BY id DESC LIMIT 1")
    assert audit == {"action": "connection.delete", "outcome": "ok"}
    tc_error(api.get(f"/v1/tenants/{ms}", key=p.key), 404, "tenant_not_found")
    tc_error(api.delete(f"/v1/tenants/{ms}", key=p.key), 404, "tenant_not_found")
    assert api.get("/v1/tenants", key=p.key).json() == {"tenants": [], "count": 0}


def test_delete_example_in_xml(api, owner):
    p, ms = owner
    r = api.delete(f"/v1/tenants/{ms}", key=tc(p.key), headers=XML)
    assert r.status_code == 200, describe(r)
    doc, children = xml_children(r, "tenantcoreDeletion")
    assert children == ["status", "tenant_id", "tenant_name", "message"]
    assert (child_text(doc, "status"), child_text(doc, "tenant_id"), child_text(doc, "message")) == (
        "deleted", ms, MESSAGE)


def test_foreign_tenant_is_not_found_on_every_route(api, owner, new_key):
    p, ms = owner
    other = new_key("all")
    import_connection(api, other)          # the other account has tenants of its own
    missing = ms_guid()
    for key in (other.key, tc(other.key)):
        a = tc_error(api.get(f"/v1/tenants/{ms}", key=key), 404, "tenant_not_found")
        b = tc_error(api.get(f"/v1/tenants/{missing}", key=key), 404, "tenant_not_found")
        assert a == b
        a = tc_error(api.delete(f"/v1/tenants/{ms}", key=key), 404, "tenant_not_found")
        b = tc_error(api.delete(f"/v1/tenants/{missing}", key=key), 404, "tenant_not_found")
        assert a == b
    assert ms not in [t["tenant_id"] for t in api.get("/v1/tenants", key=other.key).json()["tenants"]]
    # Still there for its owner.
    assert api.get(f"/v1/tenants/{ms}", key=p.key).status_code == 200


def test_same_microsoft_tenant_in_two_accounts(api, new_key):
    """Two accounts may connect the same Microsoft tenant, both called Acme Corp."""
    a, b = new_key("all"), new_key("all")
    ms = ms_guid()
    import_connection(api, a, ms)
    import_connection(api, b, ms)
    ra, rb = api.get(f"/v1/tenants/{ms}", key=a.key).json(), api.get(f"/v1/tenants/{ms}", key=b.key).json()
    assert ra["id"] != rb["id"] and ra["tenant_name"] == rb["tenant_name"] == "Acme Corp"
    assert api.delete(f"/v1/tenants/{ms}", key=a.key).status_code == 200
    assert api.get(f"/v1/tenants/{ms}", key=b.key).json()["id"] == rb["id"]


def test_error_envelope(api, owner, new_key, ctl):
    p, ms = owner
    r = api.get("/v1/tenants")
    tc_error(r, 401, "unauthorized")
    assert r.headers.get("WWW-Authenticate", "").startswith("Bearer")
    tc_error(api.get("/v1/tenants", key="tc_live_" + "x" * 43), 401, "unauthorized")
    tc_error(api.get("/v1/tenants", key="tc_live_short"), 401, "unauthorized")
    viewer = new_key("View")
    tc_error(api.delete(f"/v1/tenants/{ms}", key=viewer.key), 403, "forbidden")
    tc_error(api.get("/v1/tenants", key=new_key("Create").key), 403, "forbidden")
    r = api.put(f"/v1/tenants/{ms}", key=p.key, json={})
    tc_error(r, 405, "method_not_allowed")
    assert {m.strip() for m in r.headers["Allow"].split(",")} >= {"GET", "DELETE"}
    tc_error(api.post("/v1/tenants", key=p.key, json={}), 405, "method_not_allowed")
    tc_error(api.get("/v1/tenants", key=p.key, headers={"Accept": "text/plain"}), 406, "not_acceptable")
    r = api.get(f"/v1/tenants/{ms_guid()}", key=p.key, headers=XML)
    assert r.status_code == 404
    doc, children = xml_children(r, "tenantcoreError")
    assert children == ["error", "code"] and child_text(doc, "code") == "tenant_not_found"
    # A tenant-scoped key is refused, as on every tenant-management route.
    slug = api.get("/api/v1/connections", key=p.key).json()["data"][0]["tenant"]
    tkey = ctl.key(account=p.account, kind="tenant", tenant=slug, permissions="View").key
    tc_error(api.get("/v1/tenants", key=tkey), 401, "unauthorized")


def test_tc_live_key_from_tenantctl(api, ctl, owner):
    p, ms = owner
    out = ctl.run("key", "create", "--account", p.account, "--kind", "account", "--permissions", "View",
                  "--tag", "tc_live_").stdout.split()
    key = out[-1]
    assert key.startswith("tc_live_") and len(key) == len(p.key)
    assert api.get(f"/v1/tenants/{ms}", key=key).status_code == 200
    # The same key under tenantd's own tag works everywhere else.
    assert api.get("/api/v1/connections", key="tk_live_" + key[8:]).status_code == 200
    assert ctl.run("key", "create", "--account", p.account, "--kind", "account", "--permissions", "View",
                   "--tag", "xx_live_", check=False).returncode == 2


def test_changed_and_deleted_through_api_v1(api, owner):
    """The tenant row /v1/tenants serves is a tenant of /api/v1: a change there shows here,
    and a delete there (with its confirmation) removes it here."""
    p, ms = owner
    conn = api.get("/api/v1/connections", key=p.key).json()["data"][0]
    slug = conn["tenant"]
    t = api.get(f"/api/v1/tenants/{slug}", key=p.key).json()
    assert (t["msTenantId"], t["displayName"], t["domainCount"], t["mailboxCount"]) == (ms, "Acme Corp", 12, 36)
    r = api.patch(f"/api/v1/tenants/{slug}", key=p.key,
                  json={"displayName": "Acme Renamed", "exchangeBootstrapStatus": "failed",
                        "lastSyncAt": "2026-01-01T00:00:00Z"})
    assert r.status_code == 200, describe(r)
    got = api.get(f"/v1/tenants/{ms}", key=p.key).json()
    assert (got["tenant_name"], got["exchange_bootstrap_status"], got["last_sync_at"]) == (
        "Acme Renamed", "failed", "2026-01-01T00:00:00Z")
    assert got["id"] == t["tenantId"]
    r = api.delete(f"/api/v1/tenants/{slug}", key=p.key,
                   params={"confirmName": t["name"], "confirmDisplayName": "Acme Renamed"})
    assert r.status_code == 200, describe(r)
    tc_error(api.get(f"/v1/tenants/{ms}", key=p.key), 404, "tenant_not_found")
    assert api.get("/tenants/me/connections", key=p.key).json() == {"success": True, "data": []}


def test_deleted_here_is_gone_from_api_v1(api, owner):
    p, ms = owner
    slug = api.get("/api/v1/connections", key=p.key).json()["data"][0]["tenant"]
    assert api.delete(f"/v1/tenants/{ms}", key=p.key).status_code == 200
    assert api.get(f"/api/v1/tenants/{slug}", key=p.key).status_code == 404

