"""Migrations of tenants' own databases (issue 15).

provision.sql_dir (sql/tenant/) holds NNNN_*.sql files; each tenant database records the ones
it has applied in its own schema_migrations.  The provisioning `database` step applies them all
to a new tenant; GET /api/v1/tenants/migrations (View) lists every tenant with its own database:
the database, the newest migration applied, the pending ones and an error category when the
database cannot be read; `tenantctl migrate --tenants [--only SLUG]` applies the pending ones,
one tenant at a time, and running it again applies nothing.

A new migration is added in a copy of sql/tenant/ in a temporary directory; tenantd in CGI mode
and tenantctl read it through provision.sql_dir, so the stack's own directory is left alone.
"""
import json
import shutil
from pathlib import Path

import pytest

from helpers import assert_json, cgi, describe, parse_xml, sql_quote, tenant_body
from test_connection_string import ctl_with, dbname, dead_port, root_sql, run_ctl
from test_provisioning_ops import poll

LIST = "/api/v1/tenants"
MIGRATIONS = "/api/v1/tenants/migrations"
ROOT = Path(__file__).resolve().parents[2]
FIRST = "0001_tenant_schema"
ITEM_KEYS = ["id", "tenantId", "database", "lastApplied", "pendingMigrations", "error"]


def own_db_tenant(api, key, db, slug):
    conn = "Server=localhost;User Id=app;Password=app-pw"
    assert_json(api.post(LIST, key=key, json=tenant_body(slug, connectionString=conn)), 202)
    poll(lambda: db.scalar(f"SELECT provisioning_status FROM tenants WHERE slug = {sql_quote(slug)}") == "Completed",
         f"{slug} is provisioned", secs=90)
    return db.scalar(f"SELECT guid FROM tenants WHERE slug = {sql_quote(slug)}")


def applied(stack, slug):
    return [r[0] for r in root_sql(stack, "SELECT version FROM schema_migrations ORDER BY version", dbname(slug))]


def item_of(page, slug):
    found = [i for i in page["data"] if i["id"] == slug]
    assert len(found) == 1, page
    assert list(found[0]) == ITEM_KEYS, found[0]
    return found[0]


def listed_by_cgi(stack, tmp_path, key, extra):
    env = {"REQUEST_URI": MIGRATIONS + "?limit=50", "HTTP_AUTHORIZATION": f"Bearer {key}"}
    status, _, body = cgi(stack, tmp_path, env, extra_conf=extra)
    assert status == 200, body[:500]
    return json.loads(body)


@pytest.fixture
def extra_dir(tmp_path):
    """A copy of sql/tenant/ with one more migration, and the config line that points at it."""
    d = tmp_path / "tenant-sql"
    shutil.copytree(ROOT / "sql" / "tenant", d)
    (d / "0002_e2e_extra.sql").write_text(
        "CREATE TABLE IF NOT EXISTS e2e_extra (id INT NOT NULL PRIMARY KEY) ENGINE=InnoDB;\n"
        "INSERT IGNORE INTO e2e_extra (id) VALUES (1);\n")
    return f"provision.sql_dir = {d}\n"


def test_new_tenant_gets_every_migration_recorded(api, admin, db, stack, slug):
    guid = own_db_tenant(api, admin.key, db, slug)
    assert applied(stack, slug) == [FIRST]
    page = assert_json(api.get(MIGRATIONS, key=admin.key), 200)
    assert list(page) == ["data", "nextCursor"] and page["nextCursor"] is None, page
    assert item_of(page, slug) == {"id": slug, "tenantId": guid, "database": dbname(slug), "lastApplied": FIRST,
                                   "pendingMigrations": [], "error": None}
    r = api.get(MIGRATIONS, key=admin.key, headers={"Accept": "application/xml"})
    assert r.status_code == 200, describe(r)
    doc = parse_xml(r)
    assert doc.tag == "tenantMigrations"
    items = [t for t in doc.find("data").findall("tenant") if t.find("id").text == slug]
    assert len(items) == 1 and [c.tag for c in items[0]] == ITEM_KEYS
    assert items[0].find("lastApplied").text == FIRST


def test_pending_migration_applied_by_tenantctl(api, admin, db, stack, slug, tmp_path, extra_dir):
    own_db_tenant(api, admin.key, db, slug)
    item = item_of(listed_by_cgi(stack, tmp_path, admin.key, extra_dir), slug)
    assert (item["lastApplied"], item["pendingMigrations"], item["error"]) == (FIRST, ["0002_e2e_extra"], None)
    conf = ctl_with(stack, extra_dir)
    out = run_ctl(stack, conf, "migrate", "--tenants", "--only", slug)
    assert f"{slug}\t{dbname(slug)}\tapplied 1" in out, out
    assert applied(stack, slug) == [FIRST, "0002_e2e_extra"]
    assert root_sql(stack, "SELECT COUNT(*) FROM e2e_extra", dbname(slug)) == [["1"]]
    # Idempotent: nothing pending, nothing run again.
    out = run_ctl(stack, conf, "migrate", "--tenants", "--only", slug)
    assert f"{slug}\t{dbname(slug)}\tapplied 0" in out, out
    assert applied(stack, slug) == [FIRST, "0002_e2e_extra"]
    item = item_of(listed_by_cgi(stack, tmp_path, admin.key, extra_dir), slug)
    assert (item["lastApplied"], item["pendingMigrations"]) == ("0002_e2e_extra", [])
    # The stack itself (sql/tenant/ as shipped) knows no pending migration for it.
    assert item_of(assert_json(api.get(MIGRATIONS, key=admin.key), 200), slug)["pendingMigrations"] == []


def test_resumes_a_database_from_before_the_record(api, admin, db, stack, slug, tmp_path, extra_dir):
    """A tenant database without schema_migrations (made before it existed) has everything pending;
    applying the files again is safe, and records them."""
    own_db_tenant(api, admin.key, db, slug)
    root_sql(stack, "DROP TABLE schema_migrations", dbname(slug))
    item = item_of(listed_by_cgi(stack, tmp_path, admin.key, extra_dir), slug)
    assert (item["lastApplied"], item["pendingMigrations"]) == (None, [FIRST, "0002_e2e_extra"]), item
    out = run_ctl(stack, ctl_with(stack, extra_dir), "migrate", "--tenants", "--only", slug)
    assert "applied 2" in out, out
    assert applied(stack, slug) == [FIRST, "0002_e2e_extra"]


def test_unreachable_database_shows_a_category_only(api, admin, db, stack, slug):
    conn = f"Server=127.0.0.1;Port={dead_port(stack)};Database={dbname(slug)}"
    assert_json(api.post(LIST, key=admin.key, json=tenant_body(slug, connectionString=conn)), 202)
    item = item_of(assert_json(api.get(MIGRATIONS, key=admin.key), 200), slug)
    assert item["error"] and item["error"].split(":")[0] in ("unreachable", "timeout"), item
    assert "127.0.0.1" not in item["error"] and str(dead_port(stack)) not in item["error"], item
    assert (item["database"], item["pendingMigrations"], item["lastApplied"]) == (dbname(slug), [], None), item


def test_scope_paging_and_validation(api, admin, new_key, db, stack, slug):
    own_db_tenant(api, admin.key, db, slug)
    other = new_key("all")
    assert assert_json(api.get(MIGRATIONS, key=other.key), 200) == {"data": [], "nextCursor": None}
    second = slug + "-b"
    own_db_tenant(api, admin.key, db, second)
    first = assert_json(api.get(MIGRATIONS + "?limit=1", key=admin.key), 200)
    assert [i["id"] for i in first["data"]] == [slug] and first["nextCursor"], first
    rest = assert_json(api.get(f"{MIGRATIONS}?limit=1&cursor={first['nextCursor']}", key=admin.key), 200)
    assert [i["id"] for i in rest["data"]] == [second], rest
    for bad in ("limit=0", "limit=51", "cursor=-1", "limit=x"):
        r = api.get(f"{MIGRATIONS}?{bad}", key=admin.key)
        assert r.status_code == 422, describe(r)
    # "migrations" is a route, never a tenant's slug, so no PUT can reach one of that name.
    assert api.post(LIST, key=admin.key, json=tenant_body("migrations")).status_code == 422
    r = api.put(MIGRATIONS, key=admin.key, json=tenant_body(slug))
    assert r.status_code in (404, 405), describe(r)
    viewer = new_key("Create")
    assert api.get(MIGRATIONS, key=viewer.key).status_code == 403
