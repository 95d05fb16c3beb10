"""POST /api/v1/tenants/bulk (issue 16, part B): up to 1,000 operations, each answered as its single
request would be, in a 207; ?atomic=true keeps nothing when one fails; per-item idempotency keys;
each item's own permission; size limits. Checked in the database (rows, audit, counts), JSON and XML.
"""

import time
import uuid

import pytest
from lxml import etree

from helpers import describe, localname, sql_quote, tenant_body

BULK = "/api/v1/tenants/bulk"
LIST = "/api/v1/tenants"


def new_slug():
    return f"b-{uuid.uuid4().hex[:12]}"


def settle(db, acc, bound=60):
    """Waits until the provisioner has no due job of the account, so only requests change its rows."""
    deadline = time.monotonic() + bound
    while db.scalar("SELECT COUNT(*) FROM provisioning_jobs j JOIN tenants t ON t.pk = j.tenant_pk"
                    f" WHERE t.account_id = {acc} AND (j.status = 'InProgress' OR"
                    " (j.status = 'Pending' AND j.next_attempt_at <= UTC_TIMESTAMP(3)))") != "0":
        assert time.monotonic() < deadline, "provisioning jobs did not settle"
        time.sleep(0.2)


def state(db, account):
    """The account's tenants (slug -> is_active/city), its counted total, audit rows and jobs."""
    acc = db.scalar(f"SELECT id FROM accounts WHERE name = {sql_quote(account)}")
    settle(db, acc)
    rows = db.query(f"SELECT slug, is_active, city, version FROM tenants WHERE account_id = {acc} ORDER BY slug")
    return {
        "tenants": {r["slug"]: (r["is_active"], r["city"], r["version"]) for r in rows},
        "count": db.scalar(f"SELECT COALESCE(SUM(n), 0) FROM tenant_counts WHERE account_id = {acc}"),
        "gen": db.scalar(f"SELECT COALESCE(SUM(gen), 0) FROM tenant_counts WHERE account_id = {acc}"),
        "audit": db.scalar(f"SELECT COUNT(*) FROM audit_events WHERE account_id = {acc}"),
        "jobs": db.scalar("SELECT COUNT(*) FROM provisioning_jobs j JOIN tenants t ON t.pk = j.tenant_pk"
                          f" WHERE t.account_id = {acc}"),
        "idem": db.scalar(f"SELECT COUNT(*) FROM idempotency_keys WHERE account_id = {acc}"),
    }


def xml_value(v, name):
    if isinstance(v, dict):
        inner = "".join(xml_value(x, k) for k, x in v.items())
        return f"<{name}>{inner}</{name}>"
    if isinstance(v, list):
        singular = name[:-1]
        return f"<{name}>" + "".join(xml_value(x, singular) for x in v) + f"</{name}>"
    if isinstance(v, bool):
        v = "true" if v else "false"
    return f"<{name}>{v}</{name}>"


def bulk(api, key, ops, fmt="json", params=None, headers=None):
    h = dict(headers or {})
    if fmt == "xml":
        h.update({"Content-Type": "application/xml", "Accept": "application/xml"})
        data = ('<?xml version="1.0" encoding="UTF-8"?>' + xml_value({"operations": ops}, "bulk")).encode()
        return api.post(BULK, key=key, data=data, params=params, headers=h)
    return api.post(BULK, key=key, json={"operations": ops}, params=params, headers=h)


def results(r, fmt):
    """[(index, op, status, id, code)] of a 207 or of an atomic failure's problem."""
    if fmt == "json":
        items = r.json()["results"]
        return [(i["index"], i["op"], i["status"], i["id"], (i.get("problem") or {}).get("code")) for i in items]
    doc = etree.fromstring(r.content)
    out = []
    for res in doc.find("results"):
        assert localname(res) == "result"
        p = res.find("problem")
        out.append((int(res.findtext("index")), res.findtext("op"), int(res.findtext("status")),
                    res.findtext("id") or None, p.findtext("code") if p is not None else None))
    return out


def mixed(existing, taken):
    """Seven operations: four succeed, three fail (invalid, name taken, no such tenant)."""
    a, b = new_slug(), new_slug()
    return a, b, [
        {"op": "create", "body": tenant_body(a)},
        {"op": "create", "body": {"id": b, "name": "x", "adminEmail": "not-an-email"}},
        {"op": "create", "body": tenant_body(taken)},
        {"op": "update", "id": existing, "body": {"city": "Lisbon"}},
        {"op": "deactivate", "id": existing},
        {"op": "delete", "id": "no-such-tenant-here"},
        {"op": "delete", "id": a, "body": {"confirmName": f"Tenant {a}", "confirmDisplayName": f"Tenant {a}"}},
    ]


@pytest.mark.parametrize("fmt", ("json", "xml"))
def test_partial_failure_keeps_the_rest(api, admin, create_tenant, db, fmt):
    existing, taken = new_slug(), new_slug()
    create_tenant(admin, existing)
    create_tenant(admin, taken)
    before = state(db, admin.account)
    a, b, ops = mixed(existing, taken)
    r = bulk(api, admin.key, ops, fmt)
    assert r.status_code == 207, describe(r)
    assert results(r, fmt) == [
        (0, "create", 202, a, None), (1, "create", 422, b, "validation_failed"),
        (2, "create", 409, taken, "tenant_exists"), (3, "update", 200, existing, None),
        (4, "deactivate", 200, existing, None), (5, "delete", 404, "no-such-tenant-here", "tenant_not_found"),
        (6, "delete", 200, a, None)]
    if fmt == "json":
        body = r.json()
        assert (body["atomic"], body["succeeded"], body["failed"]) == (False, 4, 3)
        assert body["results"][3]["body"]["city"] == "Lisbon"
        assert body["results"][1]["problem"]["errors"]["adminEmail"]
    after = state(db, admin.account)
    # a was created then deleted; existing changed twice; b and the taken one untouched.
    assert set(after["tenants"]) == set(before["tenants"])
    assert after["tenants"][existing][:2] == ("0", "Lisbon")
    assert after["tenants"][taken] == before["tenants"][taken]
    assert after["count"] == before["count"]
    actions = [x["action"] for x in db.query(
        "SELECT action FROM audit_events WHERE request_id = "
        f"{sql_quote(r.headers['X-Request-Id'])} ORDER BY id")]
    assert actions == ["tenant.create", "tenant.update", "tenant.deactivate", "tenant.delete"], actions


@pytest.mark.parametrize("fmt", ("json", "xml"))
def test_atomic_failure_writes_nothing(api, admin, create_tenant, db, fmt):
    existing, taken = new_slug(), new_slug()
    create_tenant(admin, existing)
    create_tenant(admin, taken)
    before = state(db, admin.account)
    a, b, ops = mixed(existing, taken)
    r = bulk(api, admin.key, ops, fmt, params={"atomic": "true"})
    assert r.status_code == 409, describe(r)     # one operation met a taken name
    assert r.headers["Content-Type"].startswith("application/problem+" + fmt)
    code = r.json()["code"] if fmt == "json" else etree.fromstring(r.content).findtext("code")
    assert code == "bulk_failed"
    assert [x[2] for x in results(r, fmt)] == [202, 422, 409, 200, 200, 404, 200]
    assert state(db, admin.account) == before
    assert db.scalar(f"SELECT COUNT(*) FROM audit_events WHERE request_id = "
                     f"{sql_quote(r.headers['X-Request-Id'])}") == "0"
    # Without the 409: 422.
    r = bulk(api, admin.key, [o for i, o in enumerate(ops) if i != 2], fmt, params={"atomic": "true"})
    assert r.status_code == 422, describe(r)
    assert state(db, admin.account) == before


def test_atomic_success_writes_everything(api, admin, db):
    before = state(db, admin.account)
    slugs = [new_slug() for _ in range(5)]
    r = bulk(api, admin.key, [{"op": "create", "body": tenant_body(s)} for s in slugs], params={"atomic": "true"})
    assert r.status_code == 207, describe(r)
    assert r.json()["succeeded"] == 5
    after = state(db, admin.account)
    assert set(after["tenants"]) - set(before["tenants"]) == set(slugs)
    assert int(after["count"]) == int(before["count"]) + 5
    assert int(after["jobs"]) == int(before["jobs"]) + 5
    assert int(after["audit"]) == int(before["audit"]) + 5


def test_each_operation_needs_its_own_permission(api, admin, new_key, create_tenant, db):
    existing = new_slug()
    create_tenant(admin, existing)
    limited = new_key("View,Create", account=admin.account)
    s = new_slug()
    r = bulk(api, limited.key, [
        {"op": "create", "body": tenant_body(s)},
        {"op": "delete", "id": existing, "body": {"confirmName": f"Tenant {existing}"}},
        {"op": "update", "id": existing, "body": {"city": "Nope"}},
    ])
    assert r.status_code == 207, describe(r)
    assert [(x[2], x[4]) for x in results(r, "json")] == [(202, None), (403, "forbidden"), (403, "forbidden")]
    assert "Delete" in r.json()["results"][1]["problem"]["detail"]
    assert db.scalar(f"SELECT COUNT(*) FROM tenants WHERE slug IN ({sql_quote(s)}, {sql_quote(existing)})") == "2"
    # Without View, not even the request.
    nothing = new_key("Create", account=admin.account)
    assert bulk(api, nothing.key, [{"op": "create", "body": tenant_body(new_slug())}]).status_code == 403


@pytest.mark.parametrize("fmt", ("json", "xml"))
def test_per_item_idempotency_keys(api, admin, create_tenant, db, fmt):
    existing = new_slug()
    create_tenant(admin, existing)
    s = new_slug()
    k1, k2 = f"item-{uuid.uuid4()}", f"item-{uuid.uuid4()}"
    ops = [{"op": "create", "idempotencyKey": k1, "body": tenant_body(s)},
           {"op": "update", "idempotencyKey": k2, "id": existing, "body": {"city": "Graz"}}]
    first = bulk(api, admin.key, ops, fmt)
    assert first.status_code == 207 and [x[2] for x in results(first, fmt)] == [202, 200], describe(first)
    before = state(db, admin.account)
    again = bulk(api, admin.key, ops, fmt)
    assert again.status_code == 207 and [x[2] for x in results(again, fmt)] == [202, 200], describe(again)
    if fmt == "json":
        assert [x.get("replayed") for x in again.json()["results"]] == [True, True]
        assert [x["body"] for x in again.json()["results"]] == [x["body"] for x in first.json()["results"]]
    assert state(db, admin.account) == before        # no row, no audit, no job, no version
    # The same key with another operation: that item is 422, the others run.
    ops2 = [{"op": "update", "idempotencyKey": k2, "id": existing, "body": {"city": "Linz"}},
            {"op": "activate", "id": existing}]
    r = bulk(api, admin.key, ops2, fmt)
    assert [(x[2], x[4]) for x in results(r, fmt)] == [(422, "idempotency_key_reused"), (200, None)]
    assert db.scalar(f"SELECT city FROM tenants WHERE slug = {sql_quote(existing)}") == "Graz"


def test_limits_and_malformed_lists(api, admin, db):
    one = {"op": "activate", "id": "x"}
    r = bulk(api, admin.key, [one] * 1001)
    assert r.status_code == 413 and r.json()["code"] == "too_many_operations", describe(r)
    big = [{"op": "create", "body": tenant_body(new_slug(), description="d" * 2000)} for _ in range(600)]
    r = bulk(api, admin.key, big)
    assert r.status_code == 413, describe(r)
    for body in ({}, {"operations": []}, {"operations": {"op": "create"}}):
        r = api.post(BULK, key=admin.key, json=body)
        assert r.status_code == 422 and "operations" in r.json()["errors"], describe(r)
    r = bulk(api, admin.key, [1, {"op": "update"}, {"op": "create", "body": "x"},
                              {"op": "create", "idempotencyKey": "k" * 256, "body": {}}])
    assert r.status_code == 207
    items = r.json()["results"]
    assert [i["status"] for i in items] == [422] * 4
    assert "id" in items[1]["problem"]["errors"] and "body" in items[2]["problem"]["errors"]
    assert "idempotencyKey" in items[3]["problem"]["errors"]
    assert bulk(api, admin.key, [one], params={"atomic": "maybe"}).status_code == 422


def test_dry_run_bulk_writes_nothing(api, admin, create_tenant, db):
    existing = new_slug()
    create_tenant(admin, existing)
    before = state(db, admin.account)
    s = new_slug()
    r = bulk(api, admin.key, [{"op": "create", "idempotencyKey": f"d-{uuid.uuid4()}", "body": tenant_body(s)},
                              {"op": "deactivate", "id": existing}], params={"dryRun": "true"})
    assert r.status_code == 207 and r.headers.get("Dry-Run") == "true", describe(r)
    assert [x[2] for x in results(r, "json")] == [202, 200]
    assert state(db, admin.account) == before


def test_thousand_creates_in_one_request(api, admin, db):
    """The limit, in one request: every tenant, job, count and audit row (bench/results.md has the timing)."""
    acc = db.scalar(f"SELECT id FROM accounts WHERE name = {sql_quote(admin.account)}")
    count = int(db.scalar(f"SELECT COALESCE(SUM(n), 0) FROM tenant_counts WHERE account_id = {acc}"))
    slugs = [new_slug() for _ in range(1000)]
    t0 = time.monotonic()
    r = bulk(api, admin.key, [{"op": "create", "body": tenant_body(s)} for s in slugs])
    elapsed = time.monotonic() - t0
    assert r.status_code == 207, describe(r)
    assert r.json()["succeeded"] == 1000
    assert [i["id"] for i in r.json()["results"]] == slugs
    assert int(db.scalar(f"SELECT COALESCE(SUM(n), 0) FROM tenant_counts WHERE account_id = {acc}")) == count + 1000
    assert db.scalar(f"SELECT COUNT(*) FROM tenants WHERE account_id = {acc} AND slug LIKE 'b-%'") == "1000"
    assert db.scalar("SELECT COUNT(*) FROM provisioning_jobs j JOIN tenants t ON t.pk = j.tenant_pk"
                     f" WHERE t.account_id = {acc}") == "1000"
    assert db.scalar("SELECT COUNT(*) FROM audit_events WHERE action = 'tenant.create' AND request_id = "
                     f"{sql_quote(r.headers['X-Request-Id'])}") == "1000"
    print(f"\n1000 creates in one bulk request: {elapsed:.2f}s")
    # And 1,000 deletes, which also leave the provisioner no backlog for the tests after this one.
    r = bulk(api, admin.key, [{"op": "delete", "id": s, "body": {"confirmName": f"Tenant {s}", "confirmDisplayName": f"Tenant {s}"}}
                            for s in slugs])
    assert r.status_code == 207 and r.json()["succeeded"] == 1000, describe(r)
    assert int(db.scalar(f"SELECT COALESCE(SUM(n), 0) FROM tenant_counts WHERE account_id = {acc}")) == count
    assert db.scalar("SELECT COUNT(*) FROM provisioning_jobs j JOIN tenants t ON t.pk = j.tenant_pk"
                     f" WHERE t.account_id = {acc}") == "0"


def test_an_expired_item_key_runs_again(api, admin, create_tenant, db):
    existing = new_slug()
    create_tenant(admin, existing)
    k = f"item-{uuid.uuid4()}"
    r = bulk(api, admin.key, [{"op": "update", "idempotencyKey": k, "id": existing, "body": {"city": "Pula"}}])
    assert [x[2] for x in results(r, "json")] == [200], describe(r)
    db.query(f"UPDATE idempotency_keys SET created_at = created_at - INTERVAL 25 HOUR WHERE idem_key = {sql_quote(k)}")
    r = bulk(api, admin.key, [{"op": "update", "idempotencyKey": k, "id": existing, "body": {"city": "Split"}}])
    assert [x[2] for x in results(r, "json")] == [200] and "replayed" not in r.json()["results"][0], describe(r)
    assert db.scalar(f"SELECT city FROM tenants WHERE slug = {sql_quote(existing)}") == "Split"
