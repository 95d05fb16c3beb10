"""Hostile input through nginx (issue 14): each answer is a clear 4xx problem, the worker is
alive afterwards (the next request is served), and nothing was written.

Bodies at and over the limit, truncated bodies, invalid UTF-8, NUL bytes, 10,000-deep nesting,
huge numbers, duplicate JSON keys, XML with a DOCTYPE, external entities or billion laughs,
overlong headers and query strings, %00 and %2e%2e in paths; and SQL metacharacters in every
text field, stored and returned verbatim.
"""

import json
import socket
from urllib.parse import urlsplit

import pytest

from helpers import assert_json, assert_problem, sql_quote, tenant_body

LIST = "/api/v1/tenants"


def rows_named(db, slug):
    return int(db.scalar(f"SELECT COUNT(*) FROM tenants WHERE slug = {sql_quote(slug)}"))


def alive(api, key):
    assert_json(api.get(f"{LIST}?pageSize=1", key=key), 200)


def post_raw(api, key, data, ctype="application/json"):
    return api.post(LIST, key=key, data=data, headers={"Content-Type": ctype})


BODIES = {
    "truncated": lambda s: json.dumps(tenant_body(s))[:-7].encode(),
    "invalid-utf8": lambda s: json.dumps(tenant_body(s)).encode().replace(b"Tenant ", b"Tenant \xc3\x28 "),
    "nul-in-string": lambda s: json.dumps(tenant_body(s, name="A\u0000B")).encode(),
    "raw-nul": lambda s: json.dumps(tenant_body(s)).encode().replace(b"{", b"{\x00", 1),
    "deep": lambda s: b'{"id":"' + s.encode() + b'","x":' + b"[" * 10000 + b"]" * 10000 + b"}",
    "huge-number": lambda s: json.dumps({**tenant_body(s), "maxUserCount": 10 ** 40}).encode(),
    "duplicate-keys": lambda s: (b'{"id":"' + s.encode() + b'","name":"A","name":"B","adminEmail":"a@b.example"}'),
    "not-an-object": lambda s: b'["' + s.encode() + b'"]',
    "empty-object": lambda s: b"{}",
}


@pytest.mark.parametrize("case", sorted(BODIES))
def test_hostile_json_bodies(api, admin, db, slug, case):
    r = post_raw(api, admin.key, BODIES[case](slug))
    assert r.status_code in (400, 422), f"{case}: {r.status_code} {r.text[:300]}"
    assert_problem(r, r.status_code)
    assert rows_named(db, slug) == 0
    alive(api, admin.key)


XML_ATTACKS = {
    "doctype-entity": '<?xml version="1.0"?><!DOCTYPE t [<!ENTITY e "x">]><tenant><id>{s}</id><name>&e;</name></tenant>',
    "external-entity": ('<?xml version="1.0"?><!DOCTYPE t [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
                        '<tenant><id>{s}</id><name>&e;</name></tenant>'),
    "network-entity": ('<?xml version="1.0"?><!DOCTYPE t [<!ENTITY e SYSTEM "http://127.0.0.1:9/x">]>'
                       '<tenant><id>{s}</id><name>&e;</name></tenant>'),
    "billion-laughs": ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
                       + "".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
                                 for i in range(1, 10))
                       + ']><tenant><id>{s}</id><name>&lol9;</name></tenant>'),
    "undeclared-entity": '<tenant><id>{s}</id><name>&nope;</name></tenant>',
    "many-attributes": '<tenant ' + " ".join(f'a{i}="1"' for i in range(20000)) + '><id>{s}</id></tenant>',
    "deep": "<tenant><id>{s}</id>" + "<x>" * 5000 + "</x>" * 5000 + "</tenant>",
}


@pytest.mark.parametrize("case", sorted(XML_ATTACKS))
def test_hostile_xml_bodies(api, admin, db, slug, case):
    r = post_raw(api, admin.key, XML_ATTACKS[case].replace("{s}", slug).encode(), "application/xml")
    assert r.status_code in (400, 422), f"{case}: {r.status_code} {r.text[:300]}"
    body = assert_problem(r, r.status_code)
    assert "root:" not in json.dumps(body), "a file's content reached the answer"
    assert rows_named(db, slug) == 0
    alive(api, admin.key)


def test_body_at_and_over_the_limit(api, admin, db, slug, stack):
    limit = 1048576
    # A valid body padded to exactly the limit with white space is read and used.
    base = json.dumps(tenant_body(slug)).encode()
    at = base[:-1] + b" " * (limit - len(base)) + b"}"
    assert len(at) == limit
    assert_json(post_raw(api, admin.key, at), 202)
    assert rows_named(db, slug) == 1
    over = base[:-1] + b" " * (limit - len(base) + 1) + b"}"
    other = slug + "-o"
    r = post_raw(api, admin.key, over.replace(slug.encode(), other.encode(), 1))
    assert_problem(r, 413)
    assert rows_named(db, other) == 0
    alive(api, admin.key)


@pytest.mark.parametrize("path", ["/api/v1/tenants/%00", "/api/v1/tenants/a%00b", "/api/v1/%2e%2e/%2e%2e/etc/passwd",
                                  "/api/v1/tenants/%2e%2e", "/api/v1/tenants/..%2f..%2fetc",
                                  "/api/v1/tenants/%ff%fe", "/api/v1/tenants/%"])
def test_hostile_paths(api, admin, path):
    r = api.get(path, key=admin.key)
    assert r.status_code in (400, 404), f"{path}: {r.status_code} {r.text[:200]}"
    assert "root:" not in r.text
    alive(api, admin.key)


def test_overlong_query_string_and_header(api, admin):
    r = api.get(LIST + "?q=" + "a" * 6000, key=admin.key)
    assert r.status_code in (414, 422), r.status_code
    r = api.get(LIST, key=admin.key, headers={"X-Filler": "x" * 7000})
    assert r.status_code in (200, 400, 431), r.status_code
    alive(api, admin.key)


def test_garbage_request_line_does_not_hurt_the_workers(stack, api, admin):
    u = urlsplit(stack.url)
    with socket.create_connection((u.hostname, u.port), timeout=10) as s:
        s.sendall(b"GET /api/v1/tenants\x00\r\n\r\n\xff\xfe garbage\r\n\r\n")
        s.recv(65536)
    alive(api, admin.key)


METACHARS = "'; DROP TABLE tenants; -- \" \\ %_ ` $(id) <script> \u2028 \U0001F600"


def test_sql_metacharacters_are_stored_and_returned_verbatim(api, admin, db, slug):
    body = tenant_body(slug, name=f"N {METACHARS} {slug}", displayName=METACHARS, description=METACHARS,
                       city=METACHARS[:100], address=METACHARS, postCode="'; --", groupId="'\"%_",
                       groupName=METACHARS)
    assert_json(api.post(LIST, key=admin.key, json=body), 202)
    got = assert_json(api.get(f"{LIST}/{slug}", key=admin.key), 200)
    for field in ("name", "displayName", "description", "city", "address", "postCode", "groupId", "groupName"):
        assert got[field] == body[field], (field, got[field])
    row = db.one(f"SELECT display_name, description FROM tenants WHERE slug = {sql_quote(slug)}")
    assert row == {"display_name": METACHARS, "description": METACHARS}, row
    # Filters with metacharacters are values, not SQL: they match exactly what they say.
    page = assert_json(api.get(LIST, key=admin.key, params={"name": body["name"]}), 200)
    assert [t["id"] for t in page["data"]] == [slug], page
    page = assert_json(api.get(LIST, key=admin.key, params={"q": "%_"}), 200)
    assert [t["id"] for t in page["data"]] == [slug], page
    assert int(db.scalar("SELECT COUNT(*) FROM tenants")) > 0


@pytest.mark.parametrize("lengths", [(1023, 1024, 1025), (1025, 1026, 1027, 2000)],
                         ids=["initial-buffer", "grown-buffer"])
def test_values_as_long_as_the_column_buffer(api, admin, create_tenant, slug, lengths):
    """A stored value exactly as long as the worker's result buffer for its column (1,024 bytes,
    or the size it grew to for an earlier, longer value) is not a truncated fetch, and its
    terminating NUL must still fit: found by AddressSanitizer (a worker died, nginx said 502)."""
    slugs = []
    for i, n in enumerate(lengths):
        s = f"{slug}-{i}"
        create_tenant(admin, s, description="d" * n)
        slugs.append((s, n))
    # Both workers, every order: each cached statement meets every length after every other.
    for _ in range(3):
        for s, n in slugs + slugs[::-1]:
            body = assert_json(api.get(f"{LIST}/{s}", key=admin.key), 200)
            assert body["description"] == "d" * n, (s, n)
    alive(api, admin.key)
