"""Idempotency-Key and ?dryRun=true on every mutation of every surface (issue 16, part B).

A replay within the window answers the first answer (status, body, Location/ETag) with
Idempotent-Replayed: true and changes nothing (no audit row); the same key with another request
is 422 in the surface's envelope; 409s are not kept. A dry run answers what the request would
have answered, with Dry-Run: true, and writes nothing (rows, audit, counts, generations, keys,
jobs), checked in the database.
"""

import threading
import time
import uuid

import pytest
import requests

from helpers import describe, sql_quote, tenant_body
from m365_helpers import import_connection, ms_guid

LIST = "/api/v1/tenants"
XML = {"Accept": "application/xml"}


def accounts_of(db, principals):
    names = ", ".join(sql_quote(p.account) for p in principals)
    return ", ".join(r["id"] for r in db.query(f"SELECT id FROM accounts WHERE name IN ({names})"))


def settle(db, accs, bound=60):
    """Waits (at most bound seconds) until the provisioner has no due job of these accounts, so only
    requests change their rows."""
    deadline = time.monotonic() + bound
    while db.scalar("SELECT COUNT(*) FROM provisioning_jobs j JOIN tenants t ON t.pk = j.tenant_pk"
                    f" WHERE t.account_id IN ({accs}) AND (j.status = 'InProgress' OR"
                    " (j.status = 'Pending' AND j.next_attempt_at <= UTC_TIMESTAMP(3)))") != "0":
        assert time.monotonic() < deadline, "provisioning jobs did not settle"
        time.sleep(0.2)


def snapshot(db, *principals):
    """Everything a mutation may write in these accounts: rows, tenant contents, counts, generations."""
    accs = accounts_of(db, principals)
    settle(db, accs)
    mine = f"(SELECT pk FROM tenants WHERE account_id IN ({accs}))"
    counts = {
        "tenants": f"SELECT COUNT(*) FROM tenants WHERE account_id IN ({accs})",
        "audit": f"SELECT COUNT(*) FROM audit_events WHERE account_id IN ({accs})",
        "jobs": f"SELECT COUNT(*) FROM provisioning_jobs WHERE tenant_pk IN {mine}",
        "api_keys": f"SELECT COUNT(*) FROM api_keys WHERE account_id IN ({accs})",
        "idem": f"SELECT COUNT(*) FROM idempotency_keys WHERE account_id IN ({accs})",
        "users": f"SELECT COUNT(*) FROM tenant_users WHERE tenant_pk IN {mine}",
        "locations": f"SELECT COUNT(*) FROM tenant_locations WHERE tenant_pk IN {mine}",
        "connections": f"SELECT COUNT(*) FROM connections WHERE account_id IN ({accs})",
        "tenant_state": "SELECT COALESCE(SUM(CRC32(CONCAT_WS('|', slug, name, display_name, city, is_active,"
                        f" valid_upto, version, updated_at))), 0) FROM tenants WHERE account_id IN ({accs})",
        "counts": "SELECT CONCAT(COALESCE(SUM(n), 0), '/', COALESCE(SUM(gen), 0)) FROM tenant_counts"
                  f" WHERE account_id IN ({accs})",
        "current": f"SELECT COALESCE(SUM(CRC32(CONCAT_WS('|', id, current_tenant_pk))), 0) FROM accounts"
                   f" WHERE id IN ({accs})",
        "revoked": f"SELECT COALESCE(SUM(CRC32(CONCAT_WS('|', id, revoked_at))), 0) FROM api_keys"
                   f" WHERE account_id IN ({accs})",
        "user_status": f"SELECT COALESCE(SUM(CRC32(CONCAT_WS('|', id, status))), 0) FROM tenant_users"
                       f" WHERE tenant_pk IN {mine}",
    }
    return db.one("SELECT " + ", ".join(f"({q}) AS {k}" for k, q in counts.items()))


def created(api, p, fmt_headers=None):
    slug = f"i-{uuid.uuid4().hex[:12]}"
    r = api.post(LIST, key=p.key, json=tenant_body(slug))
    assert r.status_code == 202, describe(r)
    return slug


def mz_tenant(api, gkey):
    name = f"Idem Mz {uuid.uuid4().hex[:10]}"
    r = api.post("/api/tenant", key=gkey, json={"name": name, "displayName": name})
    assert r.status_code == 201, describe(r)
    return r.json()


def lv_tenant(api, p):
    r = api.post("/tenants", key=p.key, json={"name": f"Idem Lv {uuid.uuid4().hex[:10]}", "city": "Ghent",
                                              "country_code": "BE"})
    assert r.status_code == 200, describe(r)
    return r.json()["data"]


@pytest.fixture(scope="module")
def gp(ctl):
    """A global key (seed 003 takes no other), in an account of its own."""
    return ctl.key(kind="global", permissions="all")


@pytest.fixture(scope="module")
def gkey(gp):
    return gp.key


def tc(key):
    return "tc_live_" + key[len("tk_live_"):]


# Each case: (name, setup(api, principal, gkey) -> (method, path, key, kwargs, other_kwargs)).
# other_kwargs: the same route with another body or query, for the 422.
def _v1_patch(api, p, g):
    s = created(api, p)
    return "PATCH", f"{LIST}/{s}", p.key, {"json": {"city": "Oslo"}}, {"json": {"city": "Bergen"}}


def _v1_put(api, p, g):
    s = created(api, p)
    body = {"name": f"Tenant {s}", "adminEmail": f"x@{s}.example", "city": "Rome"}
    return "PUT", f"{LIST}/{s}", p.key, {"json": body}, {"json": {**body, "city": "Milan"}}


def _v1_create(api, p, g):
    s = f"i-{uuid.uuid4().hex[:12]}"
    return "POST", LIST, p.key, {"json": tenant_body(s)}, {"json": tenant_body(s + "x")}


def _v1_delete(api, p, g):
    s = created(api, p)
    q = f"?confirmName=Tenant%20{s}&confirmDisplayName=Tenant%20{s}"
    return "DELETE", f"{LIST}/{s}{q}", p.key, {}, {"params": {"x": "1"}}


def _v1_deactivate(api, p, g):
    s = created(api, p)
    return "POST", f"{LIST}/{s}/deactivate", p.key, {}, {"json": {"userStatus": 2}}


def _v1_upgrade(api, p, g):
    s = created(api, p)
    return ("POST", f"{LIST}/{s}/upgrade", p.key, {"json": {"extendedExpiryDate": "2031-01-01T00:00:00Z"}},
            {"json": {"extendedExpiryDate": "2032-01-01T00:00:00Z"}})


def _v1_key(api, p, g):
    return ("POST", "/api/v1/api-keys", p.key, {"json": {"label": "idem", "permissions": ["View"]}},
            {"json": {"label": "idem2", "permissions": ["View"]}})


def _v1_connection(api, p, g):
    from m365_helpers import connection_body
    ms = ms_guid()
    return "POST", "/api/v1/connections", p.key, {"json": connection_body(ms)}, {"json": connection_body(ms_guid())}


def _laravel_create(api, p, g):
    name = f"Idem Lv {uuid.uuid4().hex[:10]}"
    return "POST", "/tenants", p.key, {"json": {"name": name}}, {"json": {"name": name + "x"}}


def _laravel_update(api, p, g):
    t = lv_tenant(api, p)
    return ("PUT", f"/tenants/{t['id']}", p.key, {"json": {"name": t["name"], "city": "Leuven"}},
            {"json": {"name": t["name"], "city": "Namur"}})


def _laravel_activate(api, p, g):
    t = lv_tenant(api, p)
    return "PUT", f"/tenants/{t['id']}/deactivate", p.key, {}, {"json": {"user_status": 2}}


def _mindzie_create(api, p, g):
    name = f"Idem Mz {uuid.uuid4().hex[:10]}"
    return ("POST", "/api/tenant", g, {"json": {"name": name, "displayName": name}},
            {"json": {"name": name + "x", "displayName": name}})


def _mindzie_update(api, p, g):
    t = mz_tenant(api, g)
    return ("PUT", "/api/tenant", g, {"json": {"tenantId": t["tenantId"], "displayName": "After"}},
            {"json": {"tenantId": t["tenantId"], "displayName": "Other"}})


def _mindzie_delete(api, p, g):
    t = mz_tenant(api, g)
    body = {"tenantId": t["tenantId"], "name": t["name"], "displayName": t["displayName"]}
    return "DELETE", "/api/tenant", g, {"json": body}, {"params": {"x": "1"}, "json": body}


def _tenantcore_delete(api, p, g):
    ms = ms_guid()
    import_connection(api, p, ms)
    return "DELETE", f"/v1/tenants/{ms}", tc(p.key), {}, {"params": {"x": "1"}}


def _aether_activate(api, p, g):
    a = import_connection(api, p, ms_guid())
    import_connection(api, p, ms_guid())
    return "POST", f"/tenants/me/connections/{a['id']}/activate", p.key, {}, {"params": {"x": "1"}}


def _v1_key_revoke(api, p, g):
    k = api.post("/api/v1/api-keys", key=p.key, json={"permissions": ["View"]}).json()
    return "DELETE", f"/api/v1/api-keys/{k['id']}", p.key, {}, {"params": {"x": "1"}}


def _aether_delete(api, p, g):
    a = import_connection(api, p, ms_guid())
    import_connection(api, p, ms_guid())
    return "DELETE", f"/tenants/me/connections/{a['id']}", p.key, {}, {"params": {"x": "1"}}


def _v1_connection_delete(api, p, g):
    a = import_connection(api, p, ms_guid())
    import_connection(api, p, ms_guid())
    return "DELETE", f"/api/v1/connections/{a['id']}", p.key, {}, {"params": {"x": "1"}}


CASES = {f.__name__[1:]: f for f in (_v1_create, _v1_patch, _v1_put, _v1_delete, _v1_deactivate, _v1_upgrade,
                                     _v1_key, _v1_key_revoke, _v1_connection, _v1_connection_delete,
                                     _laravel_create, _laravel_update, _laravel_activate, _mindzie_create,
                                     _mindzie_update, _mindzie_delete, _tenantcore_delete, _aether_activate,
                                     _aether_delete)}


def send(api, method, path, key, kw, idem=None, fmt="json"):
    h = dict(kw.pop("headers", {}) or {})
    if idem:
        h["Idempotency-Key"] = idem
    if fmt == "xml":
        h.update(XML)
    return api.request(method, path, key=key, headers=h, **kw)


@pytest.mark.parametrize("fmt", ("json", "xml"))
@pytest.mark.parametrize("case", sorted(CASES))
def test_replay_on_every_surface(api, admin, gp, gkey, db, case, fmt):
    method, path, key, kw, other = CASES[case](api, admin, gkey)
    idem = f"idem-{uuid.uuid4()}"
    first = send(api, method, path, key, dict(kw), idem, fmt)
    assert first.status_code < 300, describe(first)
    assert "Idempotent-Replayed" not in first.headers
    before = snapshot(db, admin, gp)
    again = send(api, method, path, key, dict(kw), idem, fmt)
    assert again.status_code == first.status_code, describe(again)
    assert again.headers.get("Idempotent-Replayed") == "true", describe(again)
    assert again.headers.get("Content-Type") == first.headers.get("Content-Type")
    for h in ("Location", "ETag"):
        assert again.headers.get(h) == first.headers.get(h), h
    if case == "v1_key":      # the secret is shown once: its replay goes without it
        a, b = first.json() if fmt == "json" else None, again.json() if fmt == "json" else None
        if fmt == "json":
            assert "key" in a and "key" not in b and {**b, "key": a["key"]} == a
    else:
        assert again.content == first.content, describe(again)
    assert snapshot(db, admin, gp) == before     # no audit row, nothing written
    # The same key with another request: 422, nothing written.
    r = send(api, method, path, key, dict(other), idem, fmt)
    assert r.status_code == 422, describe(r)
    assert "Idempotent-Replayed" not in r.headers
    assert snapshot(db, admin, gp) == before


def test_refused_answers_are_kept_but_not_conflicts(api, admin, db):
    taken = created(api, admin)
    # A 409 (the name is taken) depends on the moment: not kept, the key can be used again.
    idem = f"idem-{uuid.uuid4()}"
    r = api.post(LIST, key=admin.key, json=tenant_body(taken), headers={"Idempotency-Key": idem})
    assert r.status_code == 409, describe(r)
    assert db.scalar(f"SELECT COUNT(*) FROM idempotency_keys WHERE idem_key = {sql_quote(idem)}") == "0"
    fresh = f"i-{uuid.uuid4().hex[:12]}"
    assert api.post(LIST, key=admin.key, json=tenant_body(taken),
                    headers={"Idempotency-Key": idem}).status_code == 409
    # A 422 is decided by the request alone: kept and replayed.
    idem = f"idem-{uuid.uuid4()}"
    bad = {"id": fresh, "name": "x"}
    r1 = api.post(LIST, key=admin.key, json=bad, headers={"Idempotency-Key": idem})
    r2 = api.post(LIST, key=admin.key, json=bad, headers={"Idempotency-Key": idem})
    assert (r1.status_code, r2.status_code) == (422, 422)
    assert r2.headers.get("Idempotent-Replayed") == "true" and r2.content == r1.content
    assert r2.headers["Content-Type"].startswith("application/problem+json")


def test_records_past_their_day_are_purged(api, admin, db):
    """The provisioning process removes records older than a day with its other purges (every
    connections.purge_interval seconds); a record of the day stays."""
    keys = [f"idem-{uuid.uuid4()}" for _ in range(2)]
    for idem in keys:
        r = api.post(LIST, key=admin.key, json={"id": f"i-{uuid.uuid4().hex[:12]}", "name": "x"},
                     headers={"Idempotency-Key": idem})
        assert r.status_code == 422, describe(r)
    count = f"SELECT COUNT(*) FROM idempotency_keys WHERE idem_key = {{}}"
    assert [db.scalar(count.format(sql_quote(k))) for k in keys] == ["1", "1"]
    db.query("UPDATE idempotency_keys SET created_at = UTC_TIMESTAMP(3) - INTERVAL 25 HOUR "
               f"WHERE idem_key = {sql_quote(keys[0])}")
    deadline = time.monotonic() + 90
    while db.scalar(count.format(sql_quote(keys[0]))) != "0":
        assert time.monotonic() < deadline, "a record past its day was not purged within 90 s"
        time.sleep(0.5)
    assert db.scalar(count.format(sql_quote(keys[1]))) == "1"


def test_key_too_long_and_envelopes(api, admin, gkey):
    r = api.post(LIST, key=admin.key, json=tenant_body(f"i-{uuid.uuid4().hex[:12]}"),
                 headers={"Idempotency-Key": "k" * 256})
    assert r.status_code == 422 and r.json()["code"] == "validation_failed", describe(r)
    # Another request under a key: the surface's own envelope (Laravel: message first).
    idem = f"idem-{uuid.uuid4()}"
    name = f"Idem Lv {uuid.uuid4().hex[:10]}"
    assert api.post("/tenants", key=admin.key, json={"name": name}, headers={"Idempotency-Key": idem}).ok
    r = api.post("/tenants", key=admin.key, json={"name": name + "y"}, headers={"Idempotency-Key": idem})
    assert r.status_code == 422 and list(r.json())[0] == "message", describe(r)


def test_concurrent_patches_with_one_key_run_once(api, stack, admin, db):
    s = created(api, admin)
    idem, n = f"burst-{uuid.uuid4()}", 8
    barrier, results = threading.Barrier(n), [None] * n

    def worker(i):
        with requests.Session() as sess:
            barrier.wait(timeout=10)
            results[i] = sess.patch(stack.url + f"{LIST}/{s}", json={"city": "Turku"}, timeout=60,
                                    headers={"Authorization": f"Bearer {admin.key}", "Idempotency-Key": idem})

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    assert [r.status_code for r in results] == [200] * n, [describe(r) for r in results]
    assert sorted(r.headers.get("Idempotent-Replayed", "") for r in results) == [""] + ["true"] * (n - 1)
    assert len({r.text for r in results}) == 1
    assert db.scalar(f"SELECT version FROM tenants WHERE slug = {sql_quote(s)}") == "2"
    assert db.scalar(f"SELECT COUNT(*) FROM audit_events WHERE target_id = {sql_quote(s)}"
                     " AND action <> 'tenant.create'") == "1"


# ---------------------------------------------------------------------------
# ?dryRun=true


def _dry(setup):
    """A dry run's case: (method, path, key, kwargs) from a replay case."""
    def make(api, p, g):
        method, path, key, kw, _ = setup(api, p, g)
        return method, path + ("&" if "?" in path else "?") + "dryRun=true", key, kw
    return make


DRY = {name: _dry(f) for name, f in CASES.items()}


@pytest.mark.parametrize("fmt", ("json", "xml"))
@pytest.mark.parametrize("case", sorted(DRY))
def test_dry_run_writes_nothing_and_answers_as_the_real_one(api, admin, gp, gkey, db, case, fmt):
    method, path, key, kw = DRY[case](api, admin, gkey)
    before = snapshot(db, admin, gp)
    dry = send(api, method, path, key, dict(kw), f"idem-{uuid.uuid4()}", fmt)
    assert dry.status_code < 300, describe(dry)
    assert dry.headers.get("Dry-Run") == "true", describe(dry)
    assert snapshot(db, admin, gp) == before, describe(dry)
    real = send(api, method, path.replace("dryRun=true", "dryRun=false"), key, dict(kw), None, fmt)
    assert real.status_code == dry.status_code, describe(real)
    assert "Dry-Run" not in real.headers
    assert real.headers.get("Content-Type") == dry.headers.get("Content-Type")
    assert snapshot(db, admin, gp) != before


def test_dry_run_validates_and_authorizes(api, admin, new_key, db):
    s = created(api, admin)
    viewer = new_key("View", account=admin.account)
    before = snapshot(db, admin)
    r = api.patch(f"{LIST}/{s}?dryRun=true", key=admin.key, json={"adminEmail": "not-an-email"})
    assert r.status_code == 422 and r.headers.get("Dry-Run") == "true", describe(r)
    r = api.delete(f"{LIST}/{s}?dryRun=true&confirmName=Tenant%20{s}", key=viewer.key)
    assert r.status_code == 403, describe(r)
    r = api.post(LIST + "?dryRun=true", key=admin.key, json=tenant_body(s))
    assert r.status_code == 409 and r.json()["code"] == "tenant_exists", describe(r)
    r = api.post(LIST + "?dryRun=maybe", key=admin.key, json=tenant_body(s))
    assert r.status_code == 422 and "dryRun" in r.json()["errors"], describe(r)
    # The denied delete is audited (as any 403 on a mutation), nothing else.
    after = snapshot(db, admin)
    assert int(after.pop("audit")) == int(before.pop("audit")) + 1
    assert after == before


def test_dry_run_create_answers_the_would_be_tenant(api, admin, db):
    s = f"i-{uuid.uuid4().hex[:12]}"
    r = api.post(LIST + "?dryRun=true", key=admin.key, json=tenant_body(s))
    assert r.status_code == 202, describe(r)
    body = r.json()
    assert body["id"] == s and body["status"] == "Pending" and r.headers.get("Location")
    assert db.scalar(f"SELECT COUNT(*) FROM tenants WHERE slug = {sql_quote(s)}") == "0"
    assert api.get(f"{LIST}/{s}", key=admin.key).status_code == 404
    # A revoke that is only tried leaves the key working.
    k = api.post("/api/v1/api-keys", key=admin.key, json={"label": "dry", "permissions": ["View"]}).json()
    assert api.delete(f"/api/v1/api-keys/{k['id']}?dryRun=true", key=admin.key).status_code in (200, 204)
    assert api.get(LIST, key=k["key"]).status_code == 200


def test_an_expired_key_runs_again(api, admin, db):
    """Past the 24-hour window a key is new again, whatever it was sent with before."""
    s = created(api, admin)
    idem = f"idem-{uuid.uuid4()}"
    r = api.patch(f"{LIST}/{s}", key=admin.key, json={"city": "Kyiv"}, headers={"Idempotency-Key": idem})
    assert r.status_code == 200, describe(r)
    db.query("UPDATE idempotency_keys SET created_at = created_at - INTERVAL 25 HOUR"
             f" WHERE idem_key = {sql_quote(idem)}")
    r = api.patch(f"{LIST}/{s}", key=admin.key, json={"city": "Lviv"}, headers={"Idempotency-Key": idem})
    assert r.status_code == 200 and "Idempotent-Replayed" not in r.headers, describe(r)
    assert r.json()["city"] == "Lviv"
    assert db.scalar(f"SELECT COUNT(*) FROM idempotency_keys WHERE idem_key = {sql_quote(idem)}"
                     " AND created_at > UTC_TIMESTAMP() - INTERVAL 1 HOUR") == "1"
