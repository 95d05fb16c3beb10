"""Regression tests for the request layer's defects found behind other servers and by a
hostile probe (issues 13 and 14): each of these once answered wrongly.

- REQUEST_URI in absolute form (Apache) is routed by its path.
- Exactly CONTENT_LENGTH bytes are the body, over FastCGI and in CGI mode; a mismatch or a
  CONTENT_LENGTH that is not a count of bytes is a 400, and nothing is written.
- A CGI GET does not read stdin (which may be the client's socket and never end).
- Parameters past the 256th are not dropped: kept up to 512, 431 beyond.
- No Content-Length on 204 and 304.
- A path over 1,023 bytes is 414; integer parameters are digits only (422).
- Location and Link carry mount_prefix; Link carries filters re-encoded, never raw bytes.
- A header value with CR/LF is never written.
"""

import json
import time

import pytest

from conftest import unique_name
from fcgi_client import Conn, begin, params_records, record, request_bytes, socket_path, STDIN
from helpers import assert_json, assert_problem, assert_status, cgi, sql_quote, tenant_body

LIST = "/api/v1/tenants"


@pytest.fixture
def sock(stack):
    return socket_path(stack)


def fcgi(sock, path, method="GET", headers=None, body=b"", params=None, stdin=None):
    """One request on tenantd's socket: (status, headers, body). params replaces the
    parameters request_bytes would send; stdin the STDIN bytes sent after them."""
    c = Conn(sock)
    try:
        if params is None and stdin is None:
            c.send(request_bytes(1, path, method, headers=headers, body=body, keep=False))
        else:
            data = begin(1, keep=False) + params_records(1, params)
            for i in range(0, len(stdin), 65535):
                data += record(STDIN, 1, stdin[i:i + 65535])
            c.send(data + record(STDIN, 1))
        status, h, b, _ = c.response(1)
        return status, h, b
    finally:
        c.close()


def base_params(path, method="GET", **extra):
    p = {"REQUEST_METHOD": method, "REQUEST_URI": path, "QUERY_STRING": path.partition("?")[2],
         "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1", "REQUEST_SCHEME": "http",
         "HTTP_HOST": "127.0.0.1"}
    p.update(extra)
    return p


def tenant_count(db, slug):
    return int(db.scalar(f"SELECT COUNT(*) FROM tenants WHERE slug = {sql_quote(slug)}"))


# ---------------------------------------------------------------------------
# Request target and body


def test_absolute_form_request_uri_is_routed_by_its_path(sock, admin):
    for uri in (f"http://127.0.0.1{LIST}?pageSize=1", f"https://example.test:8443{LIST}?pageSize=1"):
        status, _, body = fcgi(sock, uri, headers={"HTTP_AUTHORIZATION": f"Bearer {admin.key}"})
        assert status == 200, (uri, status, body[:300])
        assert json.loads(body)["pageSize"] == 1
    status, _, _ = fcgi(sock, "http://127.0.0.1")
    assert status == 404


def test_stdin_longer_than_content_length_is_refused(sock, admin, slug, db):
    good = json.dumps(tenant_body(slug)).encode()
    params = base_params(LIST, "POST", CONTENT_TYPE="application/json", CONTENT_LENGTH=str(len(good)),
                         HTTP_AUTHORIZATION=f"Bearer {admin.key}")
    status, _, body = fcgi(sock, LIST, params=params, stdin=good + b"trailing bytes")
    assert status == 400, body[:300]
    assert "CONTENT_LENGTH" in json.loads(body)["detail"]
    assert tenant_count(db, slug) == 0
    # Shorter than it says: refused too.
    params["CONTENT_LENGTH"] = str(len(good) + 10)
    status, _, _ = fcgi(sock, LIST, params=params, stdin=good)
    assert status == 400
    assert tenant_count(db, slug) == 0
    # The probe's case: CONTENT_LENGTH 10, a longer body that would be valid whole.
    params["CONTENT_LENGTH"] = "10"
    status, _, _ = fcgi(sock, LIST, params=params, stdin=good)
    assert status == 400
    assert tenant_count(db, slug) == 0
    params["CONTENT_LENGTH"] = str(len(good))
    status, _, body = fcgi(sock, LIST, params=params, stdin=good)
    assert status == 202, body[:300]
    assert tenant_count(db, slug) == 1


@pytest.mark.parametrize("value", ["-1", "+5", " 5", "5x", "99999999999999999999", "0x10"])
def test_content_length_that_is_no_count_is_400(sock, admin, value):
    params = base_params(LIST, "POST", CONTENT_TYPE="application/json", CONTENT_LENGTH=value,
                         HTTP_AUTHORIZATION=f"Bearer {admin.key}")
    status, _, body = fcgi(sock, LIST, params=params, stdin=b"{}")
    assert status == 400, (value, status, body[:200])
    assert json.loads(body)["code"] == "bad_request"


def test_cgi_reads_exactly_content_length(stack, admin, slug, db, tmp_path):
    good = json.dumps(tenant_body(slug)).encode()
    env = {"REQUEST_METHOD": "POST", "REQUEST_URI": LIST, "CONTENT_TYPE": "application/json",
           "CONTENT_LENGTH": str(len(good)), "HTTP_AUTHORIZATION": f"Bearer {admin.key}"}
    # Bytes after the body on stdin (a kept-alive client socket) are not the body's.
    status, _, body = cgi(stack, tmp_path, env, stdin=good + b"GET / HTTP/1.1\r\n\r\n")
    assert status == 202, body[:300]
    assert tenant_count(db, slug) == 1


def test_cgi_get_does_not_wait_for_stdin(stack, admin, tmp_path):
    env = {"REQUEST_URI": f"{LIST}?pageSize=1", "HTTP_AUTHORIZATION": f"Bearer {admin.key}"}
    started = time.monotonic()
    status, _, body = cgi(stack, tmp_path, env, keep_stdin_open=True, timeout=20)
    assert status == 200, body[:300]
    assert time.monotonic() - started < 20


def test_many_parameters_keep_authorization(sock, admin):
    extra = {f"HTTP_X_FILLER_{i}": "x" for i in range(300)}
    params = base_params(f"{LIST}?pageSize=1", **extra, HTTP_AUTHORIZATION=f"Bearer {admin.key}")
    status, _, body = fcgi(sock, LIST, params=params, stdin=b"")
    assert status == 200, body[:300]
    extra = {f"HTTP_X_FILLER_{i}": "x" for i in range(600)}
    params = base_params(f"{LIST}?pageSize=1", **extra, HTTP_AUTHORIZATION=f"Bearer {admin.key}")
    status, _, body = fcgi(sock, LIST, params=params, stdin=b"")
    assert status == 431, body[:300]


def test_no_content_length_on_204_and_304(sock, api, admin, slug, create_tenant):
    create_tenant(admin, slug)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {admin.key}"}
    status, headers, _ = fcgi(sock, f"{LIST}/{slug}", headers=auth)
    assert status == 200 and "content-length" in headers
    status, headers, body = fcgi(sock, f"{LIST}/{slug}", headers={**auth, "HTTP_IF_NONE_MATCH": headers["etag"]})
    assert status == 304 and body == b""
    assert "content-length" not in headers, headers
    made = assert_json(api.post("/api/v1/api-keys", key=admin.key, json={"permissions": ["View"]}), 201)
    status, headers, body = fcgi(sock, f"/api/v1/api-keys/{made['id']}", "DELETE", headers=auth)
    assert status == 204 and body == b""
    assert "content-length" not in headers, headers


def test_path_over_1023_bytes_is_414(api, admin):
    body = assert_problem(api.get("/api/v1/tenants/" + "a" * 1100, key=admin.key), 414)
    assert body["code"] == "uri_too_long"
    assert_problem(api.get("/api/v1/tenants/" + "a" * 900, key=admin.key), 404)


@pytest.mark.parametrize("query", ["pageSize=%205", "pageSize=+5", "pageSize=5%20", "pageNumber=-1",
                                   "pageSize=0x5", "pageNumber=99999999999999999999"])
def test_integer_parameters_are_digits_only(api, admin, query):
    body = assert_problem(api.get(f"{LIST}?{query}", key=admin.key), 422)
    assert body["errors"], body


@pytest.mark.parametrize("query", ["cursor=12345678901234567890", "cursor=%205", "limit=+3", "limit=0"])
def test_audit_integers_are_digits_only(api, admin, query):
    assert_problem(api.get(f"/api/v1/audit?{query}", key=admin.key), 422)


# ---------------------------------------------------------------------------
# Headers built from what a client sent


def test_link_never_copies_raw_query_bytes(api, admin, create_tenant):
    for i in range(3):
        create_tenant(admin, unique_name("lk"))
    evil = 'x=>;rel="evil",<https://evil.example/>;rel=preload'
    r = api.get(f"{LIST}?pageSize=1&{evil}&q=lk%3E%3Bx", key=admin.key)
    # q's value ("lk>;x") matches nothing; the page and its Link still come.
    assert_status(r, 200)
    link = r.headers.get("Link", "")
    assert "evil" not in link and "preload" not in link, link
    assert link.count("<") == link.count(">") == 2, link
    assert "q=lk%3E%3Bx" in link, link


def test_cr_lf_in_request_uri_injects_no_header(sock, admin):
    auth = {"HTTP_AUTHORIZATION": f"Bearer {admin.key}"}
    status, headers, _ = fcgi(sock, f"{LIST}?pageSize=1&q=a%0D%0AX-Injected:%201", headers=auth)
    assert status == 200
    assert "x-injected" not in headers, headers
    # Raw CR/LF, as a front end that does not check would pass them.
    status, headers, _ = fcgi(sock, f"{LIST}?pageSize=1&x=\r\nX-Injected: 1", headers=auth)
    assert "x-injected" not in headers, headers


def test_location_and_link_carry_the_mount_prefix(stack, admin, slug, tmp_path, db):
    conf = "mount_prefix = /tenants-api\n"
    body = json.dumps(tenant_body(slug)).encode()
    env = {"REQUEST_METHOD": "POST", "REQUEST_URI": f"/tenants-api{LIST}", "CONTENT_TYPE": "application/json",
           "CONTENT_LENGTH": str(len(body)), "HTTP_AUTHORIZATION": f"Bearer {admin.key}"}
    status, headers, out = cgi(stack, tmp_path, env, stdin=body, extra_conf=conf)
    assert status == 202, out[:300]
    assert headers["location"].startswith("/tenants-api/api/v1/provisioning/"), headers
    key_body = json.dumps({"permissions": ["View"]}).encode()
    env.update(REQUEST_URI="/tenants-api/api/v1/api-keys", CONTENT_LENGTH=str(len(key_body)))
    status, headers, out = cgi(stack, tmp_path, env, stdin=key_body, extra_conf=conf)
    assert status == 201, out[:300]
    assert headers["location"].startswith("/tenants-api/api/v1/api-keys/"), headers
    env = {"REQUEST_URI": f"/tenants-api{LIST}?pageSize=1", "HTTP_AUTHORIZATION": f"Bearer {admin.key}"}
    status, headers, _ = cgi(stack, tmp_path, env, extra_conf=conf)
    assert status == 200
    assert "</tenants-api/api/v1/tenants?" in headers["link"], headers
    env = {"REQUEST_URI": "/tenants-api/api/v1/audit?limit=1", "HTTP_AUTHORIZATION": f"Bearer {admin.key}"}
    status, headers, _ = cgi(stack, tmp_path, env, extra_conf=conf)
    assert status == 200
    assert headers["link"].startswith("</tenants-api/api/v1/audit?cursor="), headers
