"""Races through nginx (issue 14, concurrency): many requests at once on the same tenant,
each on its own connection and released together by a barrier.

- 50 creates of one slug: exactly one 2xx, the rest 409 (or 429 past the principal's conflict
  budget), one row.
- 50 PATCHes with the same If-Match: exactly one 200, the rest 412, the version moved once.
- A delete racing updates and activations: no orphan child rows, and the counter rows in
  tenant_counts equal COUNT(*) afterwards.
"""

import threading

import requests

from conftest import unique_name
from helpers import assert_json, sql_quote, tenant_body

LIST = "/api/v1/tenants"


def together(stack, calls):
    """Runs calls [(method, path, key, kwargs)] at once; returns their responses in order."""
    barrier = threading.Barrier(len(calls))
    out = [None] * len(calls)

    def run(i, method, path, key, kw):
        with requests.Session() as s:
            barrier.wait(timeout=30)
            try:
                out[i] = s.request(method, stack.url + path, timeout=60,
                                   headers={"Authorization": f"Bearer {key}", **kw.pop("headers", {})}, **kw)
            except requests.RequestException as e:
                out[i] = e

    threads = [threading.Thread(target=run, args=(i, *c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return out


def statuses(rs):
    return sorted(getattr(r, "status_code", repr(r)) for r in rs)


def test_fifty_creates_of_one_slug_make_exactly_one(stack, new_key, db, slug):
    owner = new_key("all")
    calls = [("POST", LIST, owner.key, {"json": tenant_body(slug, name=f"Race {slug} {i}")}) for i in range(50)]
    got = statuses(together(stack, calls))
    # The rest are 409, or 429 once the principal has met rate_limit.conflicts_per_minute.
    assert got.count(202) == 1 and set(got) <= {202, 409, 429} and got.count(409) >= 29, got
    assert db.scalar(f"SELECT COUNT(*) FROM tenants WHERE slug = {sql_quote(slug)}") == "1"


def test_fifty_patches_with_one_if_match_make_exactly_one(stack, api, new_key, create_tenant, db, slug):
    owner = new_key("all")
    create_tenant(owner, slug)
    etag = api.get(f"{LIST}/{slug}", key=owner.key).headers["ETag"]
    version = db.scalar(f"SELECT version FROM tenants WHERE slug = {sql_quote(slug)}")
    calls = [("PATCH", f"{LIST}/{slug}", owner.key, {"json": {"city": f"City {i}"}, "headers": {"If-Match": etag}})
             for i in range(50)]
    rs = together(stack, calls)
    got = statuses(rs)
    assert got == [200] + [412] * 49, got
    winner = next(r for r in rs if r.status_code == 200).json()["city"]
    row = db.one(f"SELECT version, city FROM tenants WHERE slug = {sql_quote(slug)}")
    assert row == {"version": str(int(version) + 1), "city": winner}, row


def test_delete_racing_updates_and_activations_leaves_nothing_behind(stack, api, new_key, create_tenant, db):
    owner = new_key("all")
    for round_ in range(3):
        slug = unique_name("race")
        create_tenant(owner, slug, displayName="Racer")
        # Its children: a default location and an admin user once provisioned, a tenant key.
        assert_json(api.post("/api/v1/api-keys", key=owner.key,
                             json={"kind": "tenant", "tenant": slug, "permissions": ["View"]}), 201)
        calls = [("DELETE", f"{LIST}/{slug}?confirmName=Tenant%20{slug}&confirmDisplayName=Racer", owner.key, {})]
        calls += [("PATCH", f"{LIST}/{slug}", owner.key, {"json": {"city": f"c{i}"}}) for i in range(6)]
        # Forced: the activations race the provisioner too, which may not have completed the job.
        calls += [("POST", f"{LIST}/{slug}/{'activate?force=true' if i % 2 else 'deactivate'}", owner.key,
                   {"json": {}}) for i in range(6)]
        rs = together(stack, calls)
        for r in rs:
            assert getattr(r, "status_code", None) in (200, 404), f"round {round_}: {r!r} {getattr(r, 'text', '')}"
        assert rs[0].status_code == 200, rs[0].text
        assert db.scalar(f"SELECT COUNT(*) FROM tenants WHERE slug = {sql_quote(slug)}") == "0"
    for table in ("tenant_users", "tenant_locations", "provisioning_jobs", "api_keys"):
        column = "tenant_pk"
        orphans = db.scalar(f"SELECT COUNT(*) FROM {table} c LEFT JOIN tenants t ON t.pk = c.{column} "
                            f"WHERE c.{column} IS NOT NULL AND t.pk IS NULL")
        assert orphans == "0", f"{orphans} orphan rows in {table}"
    acc = db.scalar(f"SELECT id FROM accounts WHERE name = {sql_quote(owner.account)}")
    counted = db.scalar(f"SELECT COALESCE(SUM(n), 0) FROM tenant_counts WHERE account_id = {acc}")
    assert counted == db.scalar(f"SELECT COUNT(*) FROM tenants WHERE account_id = {acc}")
    assert db.scalar("SELECT COALESCE(SUM(n), 0) FROM tenant_counts WHERE account_id = 0") == \
        db.scalar("SELECT COUNT(*) FROM tenants")
