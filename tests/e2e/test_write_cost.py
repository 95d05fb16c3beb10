"""The write cost of a create (issue 12: the create rate stays >= 1,000/s durable).

Migration 0013 drops the indexes no statement reads (ix_tenants_created, ix_tenants_account_created):
the indexes of tenants are the ones docs/operations.md names, and those two are gone. A create inserts
its words in statements of exactly as many rows as it has words (no padding rows): the words of names
and descriptions of 1 to 17 words are exactly tenant_words' rows for the tenant, and each finds it.
"""

import uuid
from pathlib import Path

import pytest

from helpers import assert_json, assert_xml, child_text, localname, sql_quote, tenant_body

DOCS = Path(__file__).resolve().parents[2] / "docs" / "operations.md"
DROPPED = ("ix_tenants_created", "ix_tenants_account_created")


def index_names(db, table):
    return {r["INDEX_NAME"] for r in db.query(
        "SELECT DISTINCT INDEX_NAME FROM information_schema.STATISTICS "
        f"WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = {sql_quote(table)}")}


def test_tenants_indexes_are_the_documented_ones(db):
    assert db.scalar("SELECT COUNT(*) FROM schema_migrations WHERE version = 13") == "1"
    names = index_names(db, "tenants")
    for dropped in DROPPED:
        assert dropped not in names, f"{dropped} is still on tenants"
    docs = DOCS.read_text()
    undocumented = sorted(n for n in names - {"PRIMARY"} if f"`{n}`" not in docs)
    assert not undocumented, f"indexes of tenants that docs/operations.md does not name: {undocumented}"
    # What the list, get and filter paths read is still there.
    for kept in ("ix_tenants_account", "ix_tenants_account_active", "ix_tenants_active", "ux_tenants_slug"):
        assert kept in names


def words_of(db, slug):
    return {r["word"].lower() for r in db.query(
        "SELECT w.word FROM tenant_words w JOIN tenants t ON t.pk = w.tenant_pk "
        f"WHERE t.slug = {sql_quote(slug)}")}


@pytest.mark.parametrize("name_words,description_words", [(1, 0), (3, 0), (4, 4), (8, 1), (5, 12)])
def test_create_indexes_exactly_its_words(api, admin, db, name_words, description_words):
    tag = uuid.uuid4().hex[:10]
    slug = f"wc-{tag}"
    name = [f"n{i}x{tag}" for i in range(name_words)]
    desc = [f"d{i}x{tag}" for i in range(description_words)]
    # Short words and repeats are no rows of their own.
    body = tenant_body(slug, name=" ".join(name) + " ab",
                       description=(" ".join(desc + desc[:1]) + " z") if desc else None)
    r = api.post("/api/v1/tenants", key=admin.key, json=body)
    assert r.status_code == 202, r.text
    assert words_of(db, slug) == set(name + desc)
    assert db.scalar("SELECT COUNT(*) FROM tenant_words w JOIN tenants t ON t.pk = w.tenant_pk "
                     f"WHERE t.slug = {sql_quote(slug)}") == str(len(name) + len(desc))
    last = (name + desc)[-1]
    body = assert_json(api.get(f"/api/v1/tenants?q={last}", key=admin.key), 200)
    assert [t["id"] for t in body["data"]] == [slug]
    x = assert_xml(api.get(f"/api/v1/tenants?q={name[0]}", key=admin.key,
                           headers={"Accept": "application/xml"}), 200, "tenants")
    assert [child_text(t, "id") for t in x.iter() if localname(t) == "tenant"] == [slug]


def test_long_values_on_one_page(api, admin):
    """Column buffers start small (db.c) and grow on the first longer value: a page mixing short and
    long names and descriptions (up to the 200 and 2,000 characters allowed) reads each row whole."""
    tag = uuid.uuid4().hex[:10]
    want = {}
    for i, size in enumerate([10, 150, 2000, 40, 1999]):
        slug = f"lv-{i}-{tag}"
        name = (f"Long {i} {tag} " + "é" * 200)[:min(200, 20 + size)]
        description = ("Ünïcode δ " * 250)[:size]
        r = api.post("/api/v1/tenants", key=admin.key,
                     json=tenant_body(slug, name=name, description=description,
                                      issuer=f"https://{slug}.example/" + "p" * 300))
        assert r.status_code == 202, r.text
        want[slug] = (name, description)
    page = assert_json(api.get("/api/v1/tenants?pageSize=10&sort=createdAt", key=admin.key), 200)
    got = {t["id"]: (t["name"], t["description"]) for t in page["data"]}
    assert got == want
    x = assert_xml(api.get("/api/v1/tenants?pageSize=10&sort=-createdAt", key=admin.key,
                           headers={"Accept": "application/xml"}), 200, "tenants")
    got = {child_text(t, "id"): (child_text(t, "name"), child_text(t, "description"))
           for t in x.iter() if localname(t) == "tenant"}
    assert got == want
    for slug, (name, description) in want.items():
        one = assert_json(api.get(f"/api/v1/tenants/{slug}", key=admin.key), 200)
        assert (one["name"], one["description"]) == (name, description)
        assert one["issuer"].endswith("p" * 300)


def test_created_ids_are_random_uuids(api, admin, db):
    """A create's tenantId and provisioningCorrelationId are version-4 UUIDs in lowercase (tenants.c
    draws them from OpenSSL's generator), all different, and the ones stored."""
    seen = set()
    for i in range(20):
        slug = f"uu-{i}-{uuid.uuid4().hex[:10]}"
        body = assert_json(api.post("/api/v1/tenants", key=admin.key, json=tenant_body(slug)), 202)
        for field in ("tenantId", "provisioningCorrelationId"):
            u = uuid.UUID(body[field])
            assert str(u) == body[field], body[field]
            assert u.version == 4 and u.variant == uuid.RFC_4122, body[field]
            seen.add(body[field])
        row = db.one(f"SELECT t.guid, j.correlation_id FROM tenants t JOIN provisioning_jobs j "
                     f"ON j.tenant_pk = t.pk WHERE t.slug = {sql_quote(slug)}")
        assert (row["guid"], row["correlation_id"]) == (body["tenantId"], body["provisioningCorrelationId"])
    assert len(seen) == 40
