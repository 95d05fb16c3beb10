"""/api/v1/connections: the consent service's import path (also `tenantctl connection
import`) and the canonical view of the connections seeds 000 and 004 serve."""

import concurrent.futures
import json

import pytest

from helpers import assert_problem, child_text, describe, localname, parse_xml
from m365_helpers import connection_body, import_connection, ms_guid, names

FIELDS = ["id", "msTenantId", "label", "status", "connectedAt", "isPrimary", "tenant", "tenantName"]
XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"


def test_import_creates_then_updates(api, admin, db):
    ms = ms_guid()
    r = api.post("/api/v1/connections", key=admin.key, json=connection_body(ms))
    assert r.status_code == 201, describe(r)
    first = r.json()
    assert list(first) == FIELDS
    assert first["id"].startswith("conn_") and len(first["id"]) == 25
    assert r.headers["Location"] == f"/api/v1/connections/{first['id']}"
    assert (first["msTenantId"], first["isPrimary"], first["tenantName"]) == (ms, True, "Acme Corp")
    # The same Microsoft tenant again: the same connection, updated.
    body = connection_body(ms, tenantName="Acme Corp Ltd", domains=["only.example.com"],
                           mailboxes=["a@only.example.com"], status="active", label=None)
    del body["label"]
    r = api.post("/api/v1/connections", key=admin.key, json=body)
    assert r.status_code == 200, describe(r)
    again = r.json()
    assert (again["id"], again["tenantName"], again["label"], again["status"]) == (
        first["id"], "Acme Corp Ltd", first["label"], "active")
    assert db.scalar(f"SELECT COUNT(*) FROM connections WHERE account_id = {admin.account_id}") == "1"
    t = api.get(f"/api/v1/tenants/{first['tenant']}", key=admin.key).json()
    assert (t["domainCount"], t["mailboxCount"], t["displayName"]) == (1, 1, "Acme Corp Ltd")
    actions = [r["action"] for r in db.query(
        f"SELECT action FROM audit_events WHERE account_id = {admin.account_id} ORDER BY id")]
    assert actions == ["connection.import", "connection.import"]


def test_import_without_children_keeps_them(api, admin):
    ms = ms_guid()
    c = import_connection(api, admin, ms)
    body = {"msTenantId": ms, "tenantName": "Acme Corp", "lastSyncAt": "2026-02-02T00:00:00Z"}
    r = api.post("/api/v1/connections", key=admin.key, json=body)
    assert r.status_code == 200, describe(r)
    t = api.get(f"/api/v1/tenants/{c['tenant']}", key=admin.key).json()
    assert (t["domainCount"], t["mailboxCount"], t["lastSyncAt"]) == (12, 36, "2026-02-02T00:00:00Z")


def test_import_validation(api, admin):
    r = api.post("/api/v1/connections", key=admin.key,
                 json={"msTenantId": "not-a-guid", "domains": "a.com", "mailboxes": [""], "label": 5,
                       "exchangeBootstrapStatus": "maybe", "discoveryCompleted": "yes", "bogus": 1})
    p = assert_problem(r, 422)
    assert set(p["errors"]) == {"msTenantId", "tenantName", "domains", "mailboxes", "label",
                                "exchangeBootstrapStatus", "discoveryCompleted", "bogus"}
    p = assert_problem(api.post("/api/v1/connections", key=admin.key, json={"tenantName": "X"}), 422)
    assert p["errors"] == {"msTenantId": ["is required"]}
    assert_problem(api.post("/api/v1/connections", key=admin.key, json=[1]), 400)
    assert_problem(api.post("/api/v1/connections", key=admin.key, data=b"{", headers={
        "Content-Type": "application/json"}), 400)
    assert_problem(api.post("/api/v1/connections", key=admin.key, data=b"x", headers={
        "Content-Type": "text/plain"}), 415)


def test_import_in_xml(api, admin):
    ms = ms_guid()
    xml = (f'<?xml version="1.0"?><connectionImport xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
           f'<msTenantId>{ms}</msTenantId><label>From XML</label><tenantName>Acme &amp; Co</tenantName>'
           f'<domains><domain>x.example.com</domain></domains>'
           f'<mailboxes><mailbox>a@x.example.com</mailbox><mailbox>b@x.example.com</mailbox></mailboxes>'
           f'<discoveryCompleted>true</discoveryCompleted><smtpAuthOrgEnabled xsi:nil="true"/>'
           f'<consentedAt>2025-01-15T14:32:00Z</consentedAt></connectionImport>').encode()
    r = api.post("/api/v1/connections", key=admin.key, data=xml,
                 headers={"Content-Type": "application/xml", "Accept": "application/xml"})
    assert r.status_code == 201, describe(r)
    doc = parse_xml(r)
    assert localname(doc) == "connection" and names(doc) == FIELDS
    assert child_text(doc, "tenantName") == "Acme & Co" and doc.find("status").get(XSI_NIL) == "true"
    t = api.get(f"/v1/tenants/{ms}", key=admin.key).json()
    assert (t["domain_count"], t["mailbox_count"], t["smtp_auth_org_enabled"]) == (1, 2, None)


def test_list_get_activate_delete(api, admin, db):
    a = import_connection(api, admin)
    b = import_connection(api, admin)
    r = api.get("/api/v1/connections", key=admin.key)
    assert r.status_code == 200, describe(r)
    assert [(c["id"], c["isPrimary"]) for c in r.json()["data"]] == [(a["id"], True), (b["id"], False)]
    rx = api.get("/api/v1/connections", key=admin.key, headers={"Accept": "application/xml"})
    doc = parse_xml(rx)
    assert localname(doc) == "connections" and [localname(i) for i in doc.find("data")] == ["connection"] * 2
    assert api.get(f"/api/v1/connections/{b['id']}", key=admin.key).json() == b
    r = api.post(f"/api/v1/connections/{b['id']}/activate", key=admin.key)
    assert r.status_code == 200 and r.json()["isPrimary"] is True, describe(r)
    r = api.delete(f"/api/v1/connections/{b['id']}", key=admin.key)
    assert r.status_code == 204 and not r.content, describe(r)
    assert [(c["id"], c["isPrimary"]) for c in api.get("/api/v1/connections", key=admin.key).json()["data"]] == [
        (a["id"], True)]
    p = assert_problem(api.delete(f"/api/v1/connections/{a['id']}", key=admin.key), 409)
    assert p["code"] == "last_connection"
    assert_problem(api.get(f"/api/v1/connections/{b['id']}", key=admin.key), 404)


def test_foreign_connection_is_not_found(api, admin, new_key):
    mine = import_connection(api, admin)
    import_connection(api, admin)
    other = new_key("all")
    import_connection(api, other)
    for method, path in (("GET", ""), ("DELETE", ""), ("POST", "/activate")):
        r = api.request(method, f"/api/v1/connections/{mine['id']}{path}", key=other.key)
        assert assert_problem(r, 404)["code"] == "connection_not_found"
    assert mine["id"] not in [c["id"] for c in api.get("/api/v1/connections", key=other.key).json()["data"]]
    # The same Microsoft tenant imported by the other account is its own connection.
    theirs = import_connection(api, other, mine["msTenantId"])
    assert theirs["id"] != mine["id"] and theirs["tenant"] != mine["tenant"]


def test_permissions_and_tenant_keys(api, admin, new_key, ctl):
    c = import_connection(api, admin)
    viewer = new_key("View", account=admin.account)
    assert_problem(api.post("/api/v1/connections", key=viewer.key, json=connection_body()), 403)
    assert_problem(api.delete(f"/api/v1/connections/{c['id']}", key=viewer.key), 403)
    assert api.post(f"/api/v1/connections/{c['id']}/activate", key=viewer.key).status_code == 200
    tkey = ctl.key(account=admin.account, kind="tenant", tenant=c["tenant"], permissions="all").key
    assert_problem(api.get("/api/v1/connections", key=tkey), 401)


def test_concurrent_imports_are_idempotent_and_counts_exact(api, admin, db):
    ms = ms_guid()

    def one(i):
        n = 1 + i % 5
        body = connection_body(ms, domains=[f"d{j}.example.com" for j in range(n)],
                               mailboxes=[f"m{j}@d0.example.com" for j in range(2 * n)])
        return api.post("/api/v1/connections", key=admin.key, json=body)

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        rs = list(pool.map(one, range(16)))
    assert sorted(r.status_code for r in rs) == [200] * 15 + [201], [describe(r) for r in rs]
    assert len({r.json()["id"] for r in rs}) == 1
    rows = db.query(f"SELECT t.pk, t.domain_count, t.mailbox_count, "
                    f"(SELECT COUNT(*) FROM m365_domains d WHERE d.tenant_pk = t.pk) AS d, "
                    f"(SELECT COUNT(*) FROM m365_mailboxes m WHERE m.tenant_pk = t.pk) AS m "
                    f"FROM tenants t WHERE t.account_id = {admin.account_id}")
    assert len(rows) == 1
    row = rows[0]
    assert (row["domain_count"], row["mailbox_count"]) == (row["d"], row["m"])
    assert int(row["m"]) == 2 * int(row["d"])


def test_tenantctl_import_is_the_same_import(api, admin, ctl, tmp_path):
    ms = ms_guid()
    f = tmp_path / "consent.json"
    f.write_text(json.dumps(connection_body(ms, label="From the CLI")))
    out = ctl.run("connection", "import", "--account", admin.account, str(f)).stdout.split()
    assert out[1] == "created" and out[0].startswith("conn_")
    got = api.get(f"/api/v1/connections/{out[0]}", key=admin.key).json()
    assert (got["msTenantId"], got["label"], got["isPrimary"]) == (ms, "From the CLI", True)
    again = ctl.run("connection", "import", "--account", admin.account, str(f)).stdout.split()
    assert again == [out[0], "updated"]
    r = api.post("/api/v1/connections", key=admin.key, json=connection_body(ms))
    assert r.status_code == 200 and r.json()["id"] == out[0]
    f.write_text(json.dumps({"tenantName": "x"}))
    p = ctl.run("connection", "import", "--account", admin.account, str(f), check=False)
    assert p.returncode == 2 and "msTenantId" in p.stderr


def test_removal_keeps_the_data_for_the_retention_period(api, admin, db, stack):
    """By default (connections.retention_days = 30) a removal keeps the data 30 days; see
    test_aether365.py for the background purge once they are over."""
    conf = open(stack.config).read() if stack.config else ""
    if "connections.retention_days" in conf:
        pytest.skip("the stack sets connections.retention_days")
    a = import_connection(api, admin)
    b = import_connection(api, admin)
    assert api.delete(f"/api/v1/connections/{b['id']}", key=admin.key).status_code == 204
    row = db.one(f"SELECT DATEDIFF(purge_after, disconnected_at) AS days FROM connections WHERE id = '{b['id']}'")
    assert row == {"days": "30"}
    assert api.get(f"/api/v1/connections/{a['id']}", key=admin.key).status_code == 200


def test_api_v1_tenant_list_shows_the_imported_tenant(api, admin):
    c = import_connection(api, admin)
    r = api.get("/api/v1/tenants", key=admin.key)
    assert [t["id"] for t in r.json()["data"]] == [c["tenant"]]
    t = r.json()["data"][0]
    assert (t["msTenantId"], t["provisioningStatus"], t["isActive"]) == (c["msTenantId"], "Completed", True)
