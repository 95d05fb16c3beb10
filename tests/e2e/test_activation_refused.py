"""Activation before provisioning is done (issue 15): 409 on every route that can activate.

An inactive tenant whose provisioning job has not Completed (Pending, InProgress or Failed),
in its own database or in the shared one, cannot be made active: POST
/api/v1/tenants/{id}/activate, PUT and PATCH with isActive true (and PUT without isActive,
whose default is active), Laravel's PUT /tenants/{id}/activate and mindzie's PUT /api/tenant
with isDisabled false all answer 409 provisioning_incomplete in their own envelope and change
nothing.  A tenant created active stays active while it is provisioned; deactivating is always
allowed; once the job has Completed, activation works.  ?force=true on the canonical activate,
PUT and PATCH (Update, as the route) lets one activation through, audited with "forced": true;
provision.allow_activate_unprovisioned (an operator's override for the installation, here
through tenantd in CGI mode) lets every activation through.

A tenant that never finishes provisioning: its connection string names an allowed host and a
port in provision.db_ports where nothing listens, so its job is retried with backoff.  A
shared-database tenant whose job is held: its job put back to Pending (or under a live lease,
InProgress) with its next attempt an hour away, which the provisioner leaves alone.
"""
import json

import pytest

from helpers import assert_json, assert_problem, cgi, describe, parse_xml, sql_quote, tenant_body, \
    wait_provisioned
from test_bulk import bulk, results
from test_connection_string import dbname, dead_port
from test_provisioning_ops import poll

LIST = "/api/v1/tenants"
XML = {"Accept": "application/xml"}


def row(db, slug):
    return db.one("SELECT is_active, version, provisioning_status, short_id, guid, connection_string FROM tenants "
                  f"WHERE slug = {sql_quote(slug)}")


def unchanged(db, slug, before):
    """The row as before, but for its provisioning status (the provisioner's to change)."""
    now = {k: v for k, v in row(db, slug).items() if k != "provisioning_status"}
    assert now == {k: v for k, v in before.items() if k != "provisioning_status"}


def dead_conn(stack, slug):
    return f"Server=127.0.0.1;Port={dead_port(stack)};Database={dbname(slug)}"


def unprovisioned(api, key, stack, slug, active=False):
    conn = dead_conn(stack, slug)
    assert_json(api.post(LIST, key=key, json=tenant_body(slug, connectionString=conn, isActive=active)), 202)
    return slug


def refused(r, fmt="json"):
    if fmt == "xml":
        assert r.status_code == 409, describe(r)
        doc = parse_xml(r)
        assert doc.find("code").text == "provisioning_incomplete", describe(r)
        return
    p = assert_problem(r, 409)
    assert p["code"] == "provisioning_incomplete" and "provisioning" in p["detail"], p


@pytest.fixture
def gkey(ctl):
    return ctl.key(kind="global", permissions="all").key


def test_every_activation_is_refused_until_provisioned(api, admin, db, stack, slug, gkey):
    unprovisioned(api, admin.key, stack, slug)
    before = row(db, slug)
    assert before["is_active"] == "0" and before["provisioning_status"] != "Completed", before
    body = tenant_body(slug, isActive=True, connectionString=dead_conn(stack, slug))
    put_default = tenant_body(slug, connectionString=dead_conn(stack, slug))
    put_default.pop("isActive", None)
    attempts = [
        ("POST", f"{LIST}/{slug}/activate", {"userStatus": 1}),
        ("POST", f"{LIST}/{slug}/activate", None),
        ("PATCH", f"{LIST}/{slug}", {"isActive": True}),
        ("PUT", f"{LIST}/{slug}", body),
        ("PUT", f"{LIST}/{slug}", put_default),
    ]
    for method, path, js in attempts:
        refused(api.request(method, path, key=admin.key, json=js))
    refused(api.post(f"{LIST}/{slug}/activate", key=admin.key, headers=XML), "xml")
    # Laravel (seed 002): its envelope is {message}.
    r = api.put(f"/tenants/{before['short_id']}/activate", key=admin.key, json={})
    assert r.status_code == 409, describe(r)
    assert r.json() == {"message": "The tenant cannot be activated before its provisioning has completed."}
    # mindzie (seed 003): a ProblemDetails with the code.
    r = api.put("/api/tenant", key=gkey, json={"tenantId": before["guid"], "isDisabled": False})
    assert r.status_code == 409, describe(r)
    assert r.json()["code"] == "provisioning_incomplete", r.json()
    # Nothing changed; a change that does not activate still goes through.
    unchanged(db, slug, before)
    t = assert_json(api.patch(f"{LIST}/{slug}", key=admin.key, json={"city": "Ghent"}), 200)
    assert t["isActive"] is False and t["city"] == "Ghent", t
    assert assert_json(api.post(f"{LIST}/{slug}/deactivate", key=admin.key), 200)["isActive"] is False
    # Moved to the shared database (a replace without connectionString), its job still runs:
    # refused as well, unless forced.
    refused(api.put(f"{LIST}/{slug}", key=admin.key, json=tenant_body(slug, isActive=True)))
    t = assert_json(api.put(f"{LIST}/{slug}?force=true", key=admin.key, json=tenant_body(slug, isActive=True)), 200)
    assert t["isActive"] is True and t["connectionString"] is None, t
    assert last_state(db, slug, "tenant.replace") == {"isActive": True, "forced": True}


def test_created_active_stays_active_and_may_be_deactivated(api, admin, db, stack, slug):
    unprovisioned(api, admin.key, stack, slug, active=True)
    assert row(db, slug)["is_active"] == "1"
    t = assert_json(api.get(f"{LIST}/{slug}", key=admin.key), 200)
    assert t["isActive"] is True, t
    assert assert_json(api.post(f"{LIST}/{slug}/deactivate", key=admin.key), 200)["isActive"] is False
    refused(api.post(f"{LIST}/{slug}/activate", key=admin.key))
    assert row(db, slug)["is_active"] == "0"


def test_activation_works_once_provisioned(api, admin, db, slug):
    conn = "Server=localhost;User Id=app;Password=app-pw"
    assert_json(api.post(LIST, key=admin.key, json=tenant_body(slug, isActive=False, connectionString=conn)), 202)
    poll(lambda: row(db, slug)["provisioning_status"] == "Completed", f"{slug} is provisioned", secs=90)
    t = assert_json(api.post(f"{LIST}/{slug}/activate", key=admin.key), 200)
    assert t["isActive"] is True, t
    assert row(db, slug)["is_active"] == "1"


def last_state(db, slug, action):
    """The state the tenant's newest audit event of action records (tenants.c change_detail), but
    for its null members."""
    detail = db.scalar(f"SELECT detail FROM audit_events WHERE target_id = {sql_quote(slug)} "
                       f"AND action = {sql_quote(action)} ORDER BY id DESC LIMIT 1")
    return {k: v for k, v in json.loads(detail).items() if v is not None}


def hold_job(db, slug, status):
    """The tenant's (Completed) job as if it had not run yet (Pending) or were running under a live
    lease (InProgress): its next attempt an hour away, so the provisioner leaves it alone."""
    pk = db.scalar(f"SELECT pk FROM tenants WHERE slug = {sql_quote(slug)}")
    db.query(f"UPDATE provisioning_jobs SET status = {sql_quote(status)}, completed_at = NULL, "
             f"next_attempt_at = UTC_TIMESTAMP(3) + INTERVAL 1 HOUR WHERE tenant_pk = {pk}; "
             f"UPDATE tenants SET provisioning_status = {sql_quote(status)} WHERE pk = {pk}")
    return pk


@pytest.mark.parametrize("status", ["Pending", "InProgress"])
def test_shared_database_tenant_waits_for_its_job(api, admin, db, slug, gkey, status):
    assert_json(api.post(LIST, key=admin.key, json=tenant_body(slug, isActive=False)), 202)
    wait_provisioned(db, slug)
    pk = hold_job(db, slug, status)
    before = row(db, slug)
    assert before["connection_string"] is None and before["is_active"] == "0", before
    job = assert_json(api.get(f"{LIST}/{slug}/provisioning", key=admin.key), 200)
    assert job["status"] == status, job
    refused(api.post(f"{LIST}/{slug}/activate", key=admin.key))
    refused(api.post(f"{LIST}/{slug}/activate?force=false", key=admin.key, headers=XML), "xml")
    refused(api.patch(f"{LIST}/{slug}", key=admin.key, json={"isActive": True}, headers=XML), "xml")
    refused(api.put(f"{LIST}/{slug}", key=admin.key, json=tenant_body(slug, isActive=True)))
    r = api.put(f"/tenants/{before['short_id']}/activate", key=admin.key, json={})
    assert r.status_code == 409, describe(r)
    assert r.json() == {"message": "The tenant cannot be activated before its provisioning has completed."}
    r = api.put("/api/tenant", key=gkey, json={"tenantId": before["guid"], "isDisabled": False})
    assert r.status_code == 409 and r.json()["code"] == "provisioning_incomplete", describe(r)
    unchanged(db, slug, before)
    # A force flag that is not a boolean is refused before anything is looked at.
    p = assert_problem(api.post(f"{LIST}/{slug}/activate?force=yes", key=admin.key), 422)
    assert "force" in p["errors"], p
    # Forced, in XML: active, audited as forced; the job is left as it was.
    r = api.post(f"{LIST}/{slug}/activate?force=true&reason=support", key=admin.key, headers=XML)
    assert r.status_code == 200, describe(r)
    assert parse_xml(r).find("isActive").text == "true", describe(r)
    assert row(db, slug)["is_active"] == "1"
    assert last_state(db, slug, "tenant.activate") == {"reason": "support", "isActive": True, "forced": True}
    assert db.scalar(f"SELECT status FROM provisioning_jobs WHERE tenant_pk = {pk}") == status
    # PATCH forced, in JSON; a deactivation needs no force.
    assert_json(api.post(f"{LIST}/{slug}/deactivate", key=admin.key), 200)
    t = assert_json(api.patch(f"{LIST}/{slug}?force=true", key=admin.key, json={"isActive": True}), 200)
    assert t["isActive"] is True, t
    assert last_state(db, slug, "tenant.update") == {"isActive": True, "forced": True}
    # Once the job is let run and has Completed, activation needs no force and is not audited as forced.
    assert_json(api.post(f"{LIST}/{slug}/deactivate", key=admin.key), 200)
    db.query(f"UPDATE provisioning_jobs SET status = 'Pending', next_attempt_at = UTC_TIMESTAMP(3) "
             f"WHERE tenant_pk = {pk}")
    wait_provisioned(db, slug)
    assert assert_json(api.post(f"{LIST}/{slug}/activate?force=false", key=admin.key), 200)["isActive"] is True
    assert last_state(db, slug, "tenant.activate") == {"isActive": True}


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_bulk_activation_is_refused_item_by_item(api, admin, db, slug, fmt):
    held, done = f"{slug}-held", f"{slug}-done"
    for s in (held, done):
        assert_json(api.post(LIST, key=admin.key, json=tenant_body(s, isActive=False)), 202)
    wait_provisioned(db, held, done)
    hold_job(db, held, "Pending")
    ops = [{"op": "activate", "id": held}, {"op": "activate", "id": done}]
    r = bulk(api, admin.key, ops, fmt)
    assert r.status_code == 207, describe(r)
    assert [x[2:] for x in results(r, fmt)] == [(409, held, "provisioning_incomplete"), (200, done, None)]
    assert (row(db, held)["is_active"], row(db, done)["is_active"]) == ("0", "1")


def test_failed_provisioning_refuses_activation(api, admin, db, slug):
    assert_json(api.post(LIST, key=admin.key, json=tenant_body(slug, isActive=False)), 202)
    wait_provisioned(db, slug)
    db.query(f"UPDATE tenants SET provisioning_status = 'Failed' WHERE slug = {sql_quote(slug)}")
    refused(api.post(f"{LIST}/{slug}/activate", key=admin.key))
    refused(api.patch(f"{LIST}/{slug}", key=admin.key, json={"isActive": True}, headers=XML), "xml")
    assert row(db, slug)["is_active"] == "0"
    t = assert_json(api.patch(f"{LIST}/{slug}?force=true", key=admin.key, json={"isActive": True}), 200)
    assert t["isActive"] is True, t


def test_operator_override(api, admin, db, stack, slug, tmp_path):
    unprovisioned(api, admin.key, stack, slug)
    env = {"REQUEST_URI": f"{LIST}/{slug}/activate", "REQUEST_METHOD": "POST",
           "HTTP_AUTHORIZATION": f"Bearer {admin.key}", "CONTENT_LENGTH": "0"}
    status, _, body = cgi(stack, tmp_path, env)
    assert status == 409 and json.loads(body)["code"] == "provisioning_incomplete", body[:300]
    status, _, body = cgi(stack, tmp_path, env, extra_conf="provision.allow_activate_unprovisioned = 1\n")
    assert status == 200, body[:300]
    assert json.loads(body)["isActive"] is True
    assert row(db, slug)["is_active"] == "1"
    assert last_state(db, slug, "tenant.activate") == {"isActive": True, "forced": True}
