"""Activation before provisioning is done (issue 15): 409 on every route that can activate.

An inactive tenant with its own database (a connectionString) whose provisioning has not
Completed, or any tenant whose provisioning has Failed, cannot be made active: POST
/api/v1/tenants/{id}/activate, PUT and PATCH with isActive true (and PUT without isActive,
whose default is active), Laravel's PUT /tenants/{id}/activate and mindzie's PUT /api/tenant
with isDisabled false all answer 409 provisioning_incomplete in their own envelope and change
nothing.  A tenant created active stays active while it is provisioned; deactivating is always
allowed; once the job has Completed, activation works.  A tenant in the shared database has
its rows from the create on, so it may be activated while its job runs.  provision.allow_activate_unprovisioned
(an operator's override, here through tenantd in CGI mode) lets the activation through.

A tenant that never finishes provisioning: its connection string names an allowed host and a
port in provision.db_ports where nothing listens, so its job is retried with backoff.
"""
import json

import pytest

from helpers import assert_json, assert_problem, cgi, describe, parse_xml, sql_quote, tenant_body
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
    # Moved to the shared database (a replace without connectionString), it may be activated.
    t = assert_json(api.put(f"{LIST}/{slug}", key=admin.key, json=tenant_body(slug, isActive=True)), 200)
    assert t["isActive"] is True and t["connectionString"] is None, t


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


def test_shared_database_tenant_unless_failed(api, admin, db, slug):
    assert_json(api.post(LIST, key=admin.key, json=tenant_body(slug, isActive=False)), 202)
    # Whatever its job's state: the shared database holds it already.
    assert assert_json(api.post(f"{LIST}/{slug}/activate", key=admin.key), 200)["isActive"] is True
    poll(lambda: row(db, slug)["provisioning_status"] == "Completed", f"{slug} is provisioned")
    assert_json(api.post(f"{LIST}/{slug}/deactivate", key=admin.key), 200)
    db.query(f"UPDATE tenants SET provisioning_status = 'Failed' WHERE slug = {sql_quote(slug)}")
    refused(api.post(f"{LIST}/{slug}/activate", key=admin.key))
    refused(api.patch(f"{LIST}/{slug}", key=admin.key, json={"isActive": True},
                      headers={"Accept": "application/xml"}), "xml")
    assert row(db, slug)["is_active"] == "0"


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
