"""Seed 004 (Aether365): GET /tenants/me/connections, POST .../{connectionId}/activate,
DELETE .../{connectionId}.

The seed's examples are replayed, in JSON and in XML, on connections imported through
POST /api/v1/connections; plus the foreign-account cases, the last connection, exactly one
primary, retention and purge, and the consistency with seed 000 and /api/v1."""

import concurrent.futures
import time

import pytest

from helpers import assert_common_headers, child_text, describe, media_type
from m365_helpers import import_connection, ms_guid, names, types_of, xml_children

FIELDS = ["id", "msTenantId", "label", "connectedAt", "isPrimary"]
TYPES = {"id": "str", "msTenantId": "str", "label": "str", "connectedAt": "str", "isPrimary": "bool"}
XML = {"Accept": "application/xml"}
BASE = "/tenants/me/connections"


def ae_error(r, status, code):
    assert r.status_code == status, f"expected {status}{describe(r)}"
    assert media_type(r) == "application/json", describe(r)
    assert_common_headers(r)
    body = r.json()
    assert list(body) == ["success", "error"] and body["success"] is False, describe(r)
    assert list(body["error"]) == ["code", "message"] and body["error"]["code"] == code, describe(r)
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body


@pytest.fixture
def contoso(api, new_key):
    """The seed's two connections: Contoso Production (first, so primary) and Contoso Staging."""
    p = new_key("all")
    prod = import_connection(api, p, label="Contoso Production")
    staging = import_connection(api, p, label="Contoso Staging")
    return p, prod, staging


def listed(api, p):
    r = api.get(BASE, key=p.key)
    assert r.status_code == 200, describe(r)
    return r.json()["data"]


def test_list_example(api, contoso):
    p, prod, staging = contoso
    r = api.get(BASE, key=p.key)
    assert r.status_code == 200 and media_type(r) == "application/json", describe(r)
    body = r.json()
    assert list(body) == ["success", "data"] and body["success"] is True
    assert [list(c) for c in body["data"]] == [FIELDS, FIELDS]
    assert all(types_of(c) == TYPES for c in body["data"])
    assert [(c["id"], c["label"], c["isPrimary"]) for c in body["data"]] == [
        (prod["id"], "Contoso Production", True), (staging["id"], "Contoso Staging", False)]
    assert all(c["id"].startswith("conn_") for c in body["data"])
    assert body["data"][1]["msTenantId"] == staging["msTenantId"]

    rx = api.get(BASE, key=p.key, headers=XML)
    doc, children = xml_children(rx, "aether365Connections")
    assert children == ["success", "data"] and child_text(doc, "success") == "true"
    items = list(doc.find("data"))
    assert [i.tag for i in items] == ["connection", "connection"]
    assert all(names(i) == FIELDS for i in items)
    assert [child_text(i, "isPrimary") for i in items] == ["true", "false"]


def test_activate_example(api, contoso, db):
    p, prod, staging = contoso
    r = api.post(f"{BASE}/{staging['id']}/activate", key=p.key)
    assert r.status_code == 200, describe(r)
    body = r.json()
    assert list(body) == ["success", "data"] and body["success"] is True
    assert list(body["data"]) == FIELDS and types_of(body["data"]) == TYPES
    assert (body["data"]["id"], body["data"]["label"], body["data"]["isPrimary"]) == (
        staging["id"], "Contoso Staging", True)
    assert [c["isPrimary"] for c in listed(api, p)] == [False, True]
    # Activate makes it the current tenant as well.
    cur = db.scalar(f"SELECT t.ms_tenant_id FROM accounts a JOIN tenants t ON t.pk = a.current_tenant_pk "
                    f"WHERE a.id = {p.account_id}")
    assert cur == staging["msTenantId"]
    assert db.one(f"SELECT action FROM audit_events WHERE account_id = {p.account_id} ORDER BY id DESC LIMIT 1") \
        == {"action": "connection.activate"}

    rx = api.post(f"{BASE}/{prod['id']}/activate", key=p.key, headers=XML)
    assert rx.status_code == 200, describe(rx)
    doc, children = xml_children(rx, "aether365Connection")
    assert children == ["success", "data"] and names(doc.find("data")) == FIELDS
    assert child_text(doc.find("data"), "isPrimary") == "true"
    assert [c["isPrimary"] for c in listed(api, p)] == [True, False]


def test_remove_example(api, contoso, db):
    p, prod, staging = contoso
    r = api.delete(f"{BASE}/{staging['id']}", key=p.key)
    assert r.status_code == 200, describe(r)
    assert r.json() == {"success": True, "data": None}
    assert [c["id"] for c in listed(api, p)] == [prod["id"]]
    row = db.one(f"SELECT disconnected_at IS NOT NULL AS d, purge_after > UTC_TIMESTAMP() AS later "
                 f"FROM connections WHERE id = '{staging['id']}'")
    assert row == {"d": "1", "later": "1"}, "removal keeps the data for the retention period"
    # Not served anywhere any more.
    ae_error(api.delete(f"{BASE}/{staging['id']}", key=p.key), 404, "CONNECTION_NOT_FOUND")
    ae_error(api.post(f"{BASE}/{staging['id']}/activate", key=p.key), 404, "CONNECTION_NOT_FOUND")
    assert api.get(f"/v1/tenants/{staging['msTenantId']}", key=p.key).status_code == 404
    assert api.get(f"/api/v1/connections/{staging['id']}", key=p.key).status_code == 404


def test_remove_example_in_xml(api, contoso):
    p, prod, staging = contoso
    r = api.delete(f"{BASE}/{staging['id']}", key=p.key, headers=XML)
    assert r.status_code == 200, describe(r)
    doc, children = xml_children(r, "aether365Result")
    assert children == ["success", "data"]
    assert doc.find("data").get("{http://www.w3.org/2001/XMLSchema-instance}nil") == "true"


def test_last_connection_cannot_be_removed(api, contoso):
    p, prod, staging = contoso
    assert api.delete(f"{BASE}/{prod['id']}", key=p.key).status_code == 200
    body = ae_error(api.delete(f"{BASE}/{staging['id']}", key=p.key), 409, "CANNOT_REMOVE_LAST_CONNECTION")
    assert body["error"]["message"] == "Cannot remove the only remaining connection"
    # Removing the primary moved the primary to the one left.
    assert [(c["id"], c["isPrimary"]) for c in listed(api, p)] == [(staging["id"], True)]
    rx = api.delete(f"{BASE}/{staging['id']}", key=p.key, headers=XML)
    doc, children = xml_children(rx, "aether365Error")
    assert children == ["success", "error"] and names(doc.find("error")) == ["code", "message"]


def test_foreign_connection_is_not_found_on_every_route(api, contoso, new_key):
    p, prod, staging = contoso
    other = new_key("all")
    import_connection(api, other)
    import_connection(api, other)
    for cid in (prod["id"], staging["id"]):
        a = ae_error(api.post(f"{BASE}/{cid}/activate", key=other.key), 404, "CONNECTION_NOT_FOUND")
        b = ae_error(api.post(f"{BASE}/conn_doesnotexist0000000/activate", key=other.key), 404,
                     "CONNECTION_NOT_FOUND")
        assert a == b
        a = ae_error(api.delete(f"{BASE}/{cid}", key=other.key), 404, "CONNECTION_NOT_FOUND")
        b = ae_error(api.delete(f"{BASE}/conn_doesnotexist0000000", key=other.key), 404, "CONNECTION_NOT_FOUND")
        assert a == b
    assert {c["id"] for c in listed(api, other)}.isdisjoint({prod["id"], staging["id"]})
    assert [c["isPrimary"] for c in listed(api, p)] == [True, False], "nothing changed for the owner"


def test_error_envelope(api, contoso, new_key):
    p, prod, staging = contoso
    r = api.get(BASE)
    ae_error(r, 401, "UNAUTHORIZED")
    assert r.headers.get("WWW-Authenticate", "").startswith("Bearer")
    ae_error(api.get(BASE, key="tk_live_" + "y" * 43), 401, "UNAUTHORIZED")
    ae_error(api.delete(f"{BASE}/{staging['id']}", key=new_key("View").key), 403, "FORBIDDEN")
    ae_error(api.get(BASE, key=new_key("Delete").key), 403, "FORBIDDEN")
    r = api.post(BASE, key=p.key, json={})
    ae_error(r, 405, "METHOD_NOT_ALLOWED")
    assert "GET" in r.headers["Allow"]
    ae_error(api.get(f"{BASE}/{staging['id']}", key=p.key), 405, "METHOD_NOT_ALLOWED")
    ae_error(api.get(BASE, key=p.key, headers={"Accept": "image/png"}), 406, "NOT_ACCEPTABLE")
    ae_error(api.get("/tenants/me/nothing-here", key=p.key), 404, "NOT_FOUND")


def test_exactly_one_primary_under_concurrent_activations(api, new_key, db):
    p = new_key("all")
    conns = [import_connection(api, p) for _ in range(4)]
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        rs = list(pool.map(lambda c: api.post(f"{BASE}/{c['id']}/activate", key=p.key), conns * 3))
    assert all(r.status_code == 200 for r in rs), [describe(r) for r in rs if r.status_code != 200]
    flags = [c["isPrimary"] for c in listed(api, p)]
    assert flags.count(True) == 1, flags
    primary = db.scalar(f"SELECT primary_connection_id FROM accounts WHERE id = {p.account_id}")
    assert [c["id"] for c in listed(api, p) if c["isPrimary"]] == [primary]


def test_purged_after_retention(api, contoso, db):
    """A removed connection's data stays until purge_after; then the provisioning process's
    purge removes the tenant and every record below it."""
    p, prod, staging = contoso
    pk = db.scalar(f"SELECT tenant_pk FROM connections WHERE id = '{staging['id']}'")
    db.query(f"INSERT INTO m365_sync_logs (tenant_pk, outcome) VALUES ({pk}, 'ok')")
    assert api.delete(f"{BASE}/{staging['id']}", key=p.key).status_code == 200
    assert db.scalar(f"SELECT COUNT(*) FROM m365_mailboxes WHERE tenant_pk = {pk}") == "36"
    db.query(f"UPDATE connections SET purge_after = UTC_TIMESTAMP() - INTERVAL 1 SECOND "
             f"WHERE id = '{staging['id']}'")
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if db.scalar(f"SELECT COUNT(*) FROM tenants WHERE pk = {pk}") == "0":
            break
        time.sleep(0.5)
    assert db.scalar(f"SELECT COUNT(*) FROM tenants WHERE pk = {pk}") == "0", "not purged within 90 s"
    for table in ("connections", "m365_domains", "m365_mailboxes", "m365_sync_logs"):
        assert db.scalar(f"SELECT COUNT(*) FROM {table} WHERE tenant_pk = {pk}") == "0", table
    assert db.scalar(f"SELECT COUNT(*) FROM audit_events WHERE action = 'connection.purge' "
                     f"AND target_id = '{staging['id']}'") == "1"
    assert [c["id"] for c in listed(api, p)] == [prod["id"]]


def test_reimport_reconnects(api, contoso):
    p, prod, staging = contoso
    assert api.delete(f"{BASE}/{staging['id']}", key=p.key).status_code == 200
    again = import_connection(api, p, staging["msTenantId"], status=200, label="Contoso Staging")
    assert again["id"] == staging["id"]
    assert [c["id"] for c in listed(api, p)] == [prod["id"], staging["id"]]


def test_shows_on_seed_000_and_api_v1(api, contoso):
    p, prod, staging = contoso
    tc = api.get("/v1/tenants", key=p.key).json()
    assert {t["tenant_id"] for t in tc["tenants"]} == {prod["msTenantId"], staging["msTenantId"]}
    canon = api.get("/api/v1/connections", key=p.key).json()["data"]
    assert [(c["id"], c["isPrimary"]) for c in canon] == [(c["id"], c["isPrimary"]) for c in listed(api, p)]
    # Seed 000's delete of the primary: the other connection becomes primary at once.
    assert api.delete(f"/v1/tenants/{prod['msTenantId']}", key=p.key).status_code == 200
    assert [(c["id"], c["isPrimary"]) for c in listed(api, p)] == [(staging["id"], True)]


def test_bearer_jwt_works_like_a_key(api, tokens):
    """Aether365 clients send `Authorization: Bearer <token>`: a JWT of a configured issuer."""
    token = tokens.mint(permissions=("View", "Create", "Delete"))
    r = api.post("/api/v1/connections", token=token, json={"msTenantId": ms_guid(), "tenantName": "Jwt Corp",
                                                           "label": "Contoso Production"})
    assert r.status_code == 201, describe(r)
    data = api.get(BASE, token=token).json()["data"]
    assert [(c["id"], c["label"], c["isPrimary"]) for c in data] == [(r.json()["id"], "Contoso Production", True)]
    ae_error(api.delete(f"{BASE}/{data[0]['id']}", token=token), 409, "CANNOT_REMOVE_LAST_CONNECTION")
