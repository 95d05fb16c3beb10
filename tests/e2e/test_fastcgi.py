"""tenantd's FastCGI side: kept-alive connections from nginx, and the record layer spoken
directly on tenantd's socket (several requests per connection, management records, refused
and aborted requests, limits, half-sent requests that must not hold up others)."""

import json
import os
import signal
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import _read_kv, _tenantd_worker_pids, unique_name
from fcgi_client import (ABORT, END, GET_VALUES, GET_VALUES_RESULT, STDIN, UNKNOWN_TYPE, Conn, begin, nv,
                         params_records, record, request_bytes, socket_path)
from helpers import assert_status, tenant_body, tenantd_binary


@pytest.fixture
def sock(stack):
    return socket_path(stack)


def _connections_to(path):
    """Connected (not listening) unix sockets bound to path: tenantd's accepted ends."""
    n = 0
    for line in Path("/proc/net/unix").read_text().splitlines()[1:]:
        f = line.split()
        if len(f) >= 8 and f[7] == path and not int(f[3], 16) & 0x10000 and f[5] == "03":
            n += 1
    return n


def test_nginx_keeps_connections_to_tenantd_open(api, sock):
    """fastcgi_keep_conn: after the requests are answered, connections stay open for the next."""
    for _ in range(5):
        assert_status(api.get("/healthz"), 200)
    assert _connections_to(sock) >= 1, "no kept-alive FastCGI connection between nginx and tenantd"


def test_many_clients_over_kept_alive_connections_never_stall(stack):
    """More concurrent clients than workers, all on kept-alive connections: every request is
    answered, and none waits on another connection's idle keep-alive (a libfcgi worker would).
    (/healthz: an authenticated route would run into the per-key rate limit.)"""
    import requests
    local = threading.local()

    def one(_):
        if not hasattr(local, "s"):
            local.s = requests.Session()
        t0 = time.monotonic()
        r = local.s.get(stack.url + "/healthz", timeout=30)
        return r.status_code, time.monotonic() - t0

    with ThreadPoolExecutor(24) as pool:
        results = list(pool.map(one, range(480)))
    assert all(st == 200 for st, _ in results), {st for st, _ in results}
    worst = max(t for _, t in results)
    assert worst < 2.0, f"a request took {worst:.2f} s"


def test_several_requests_on_one_connection(sock):
    c = Conn(sock)
    try:
        for rid in (1, 2, 3):
            c.send(request_bytes(rid, "/healthz", headers={"HTTP_X_REQUEST_ID": f"conn-{rid}"}))
            status, headers, body, proto = c.response(rid)
            assert (status, proto) == (200, 0)
            assert headers.get("x-request-id") == f"conn-{rid}"
            assert json.loads(body)["status"] == "ok"
        assert not c.closed(wait=0.3), "tenantd closed a kept-alive connection"
    finally:
        c.close()


def test_pipelined_requests_are_answered_in_order(sock):
    c = Conn(sock)
    try:
        c.send(request_bytes(1, "/healthz", headers={"HTTP_X_REQUEST_ID": "p-1"}) +
               request_bytes(2, "/no/such/path", headers={"HTTP_X_REQUEST_ID": "p-2"}))
        status, headers, _, _ = c.response(1)
        assert (status, headers["x-request-id"]) == (200, "p-1")
        status, headers, _, _ = c.response(2)
        assert (status, headers["x-request-id"]) == (404, "p-2")
    finally:
        c.close()


def test_connection_without_keep_conn_is_closed_after_the_request(sock):
    c = Conn(sock)
    try:
        c.send(request_bytes(1, "/healthz", keep=False))
        assert c.response(1)[0] == 200
        assert c.closed(), "tenantd kept a connection nginx did not ask to keep"
    finally:
        c.close()


def test_request_sent_in_fragments(sock):
    data = request_bytes(5, "/healthz")
    c = Conn(sock)
    try:
        for i in range(0, len(data), 7):
            c.send(data[i:i + 7])
            time.sleep(0.002)
        assert c.response(5)[0] == 200
    finally:
        c.close()


def test_half_sent_requests_do_not_hold_up_others(sock):
    """Twelve connections each stop half-way through a request; a complete request on another
    connection is still answered at once, and the half-sent ones finish when the rest arrives."""
    held = []
    try:
        for rid in range(1, 13):
            c = Conn(sock)
            data = request_bytes(rid, "/healthz")
            c.send(data[:len(data) // 2])
            held.append((c, rid, data[len(data) // 2:]))
        t0 = time.monotonic()
        other = Conn(sock)
        other.send(request_bytes(99, "/healthz"))
        assert other.response(99)[0] == 200
        assert time.monotonic() - t0 < 1.0
        other.close()
        for c, rid, rest in held:
            c.send(rest)
            assert c.response(rid)[0] == 200
    finally:
        for c, _, _ in held:
            c.close()


def test_get_values(sock):
    c = Conn(sock)
    try:
        c.send(record(GET_VALUES, 0, nv(b"FCGI_MPXS_CONNS", b"") + nv(b"FCGI_MAX_CONNS", b"")))
        rtype, rid, content = c.read_record()
        assert (rtype, rid) == (GET_VALUES_RESULT, 0)
        assert nv(b"FCGI_MPXS_CONNS", b"0") in content
        assert nv(b"FCGI_MAX_CONNS", b"256") in content
        # The connection goes on serving requests.
        c.send(request_bytes(1))
        assert c.response(1)[0] == 200
    finally:
        c.close()


def test_unknown_management_record(sock):
    c = Conn(sock)
    try:
        c.send(record(77, 0, b"??"))
        rtype, rid, content = c.read_record()
        assert (rtype, rid, content[0]) == (UNKNOWN_TYPE, 0, 77)
    finally:
        c.close()


def test_unknown_role_is_refused(sock):
    c = Conn(sock)
    try:
        c.send(begin(3, keep=False, role=2))    # FCGI_AUTHORIZER
        rtype, rid, content = c.read_record()
        assert (rtype, rid, content[4]) == (END, 3, 3)    # FCGI_UNKNOWN_ROLE
        assert c.closed()
    finally:
        c.close()


def test_second_request_on_a_busy_connection_is_refused(sock):
    c = Conn(sock)
    try:
        c.send(begin(1) + begin(2))
        rtype, rid, content = c.read_record()
        assert (rtype, rid, content[4]) == (END, 2, 1)    # FCGI_CANT_MPX_CONN
        c.send(params_records(1, {"REQUEST_METHOD": "GET", "REQUEST_URI": "/healthz"}) + record(STDIN, 1))
        assert c.response(1)[0] == 200
    finally:
        c.close()


def test_aborted_request(sock):
    c = Conn(sock)
    try:
        c.send(begin(4) + record(STDIN, 4, b"{\"partial\":") + record(ABORT, 4))
        rtype, rid, content = c.read_record()
        assert (rtype, rid, content[4]) == (END, 4, 0)
        c.send(request_bytes(5))
        assert c.response(5)[0] == 200
    finally:
        c.close()


def test_garbage_closes_the_connection_and_the_worker_survives(sock):
    c = Conn(sock)
    try:
        c.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert c.closed()
    finally:
        c.close()
    c = Conn(sock)
    try:
        c.send(request_bytes(1))
        assert c.response(1)[0] == 200
    finally:
        c.close()


def test_oversized_parameters_get_431(sock):
    c = Conn(sock)
    try:
        c.send(request_bytes(1, headers={"HTTP_X_FILLER": "x" * 70000}))
        status, headers, body, _ = c.response(1)
        assert status == 431
        assert headers["content-type"] == "application/problem+json"
        problem = json.loads(body)
        assert (problem["status"], problem["code"]) == (431, "headers_too_large"), problem
        assert problem["detail"] and problem["title"] and problem["type"], problem
        c.send(request_bytes(2))
        assert c.response(2)[0] == 200
    finally:
        c.close()


def test_body_over_the_limit_gets_413_and_the_connection_stays_in_step(stack, sock):
    limit = int(_read_kv(stack.config).get("body_limit", "1048576"))
    c = Conn(sock)
    try:
        c.send(request_bytes(1, "/api/v1/tenants", "POST", body=b"x" * (limit + 100000)))
        status, headers, body, _ = c.response(1)
        assert status == 413
        assert json.loads(body)["status"] == 413
        c.send(request_bytes(2))
        assert c.response(2)[0] == 200
    finally:
        c.close()


def test_client_gone_mid_response_leaves_the_worker_serving(sock, api):
    """Connections that vanish with a request unanswered or half-read are closed cleanly."""
    for _ in range(20):
        c = Conn(sock)
        c.send(request_bytes(1, "/healthz"))
        c.close()
    threads = [threading.Thread(target=lambda: Conn(sock).send(begin(1))) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for _ in range(6):
        assert_status(api.get("/healthz"), 200)


def test_cgi_mode_serves_the_request_in_its_environment(stack, admin, tmp_path):
    """Without `listen` and with a stdin that is no FastCGI socket (Apache mod_cgid, lighttpd
    mod_cgi), tenantd answers the one request in its environment on stdout and exits."""
    conf = tmp_path / "cgi.conf"
    conf.write_text("".join(line for line in Path(stack.config).read_text().splitlines(True)
                            if not line.startswith("listen")))
    env = {"PATH": "/usr/bin:/bin", "REQUEST_METHOD": "GET", "REQUEST_URI": "/api/v1/tenants?pageSize=1",
           "QUERY_STRING": "pageSize=1", "HTTP_AUTHORIZATION": f"Bearer {admin.key}",
           "ASAN_OPTIONS": "detect_leaks=0"}
    out = subprocess.run([tenantd_binary(), "--config", str(conf)], env=env, input=b"",
                         capture_output=True, timeout=30)
    assert out.returncode == 0, out.stderr.decode()[-2000:]
    head, _, body = out.stdout.partition(b"\r\n\r\n")
    assert head.startswith(b"Status: 200 OK\r\n"), out.stdout[:300]
    page = json.loads(body)
    assert page["pageSize"] == 1 and page["totalCount"] == 0, page


def test_requests_of_clients_that_left_are_dropped(stack, sock, admin, db):
    """A request whose connection is closed before a worker reaches it is not served (nginx
    closes the connection when its client goes away): creates sent and abandoned while the
    workers are stopped leave no tenant, and a request still waited for is answered."""
    pids = _tenantd_worker_pids(stack)
    if not pids:
        pytest.skip("tenantd's workers cannot be found in this stack")
    auth = {"HTTP_AUTHORIZATION": f"Bearer {admin.key}"}
    gone, kept_slug = [unique_name("gone") for _ in range(4)], unique_name("kept")
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        for slug in gone:
            c = Conn(sock)
            c.send(request_bytes(1, "/api/v1/tenants", "POST", headers=auth,
                                 body=json.dumps(tenant_body(slug)).encode(), keep=False))
            c.close()
        kept = Conn(sock)
        kept.send(request_bytes(1, "/api/v1/tenants", "POST", headers=auth,
                                body=json.dumps(tenant_body(kept_slug)).encode(), keep=False))
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)
    try:
        assert kept.response(1)[0] == 202
    finally:
        kept.close()
    time.sleep(1.0)     # every abandoned connection has been accepted and dropped by now
    quoted = ", ".join(f"'{s}'" for s in gone + [kept_slug])
    found = {r["slug"] for r in db.query(f"SELECT slug FROM tenants WHERE slug IN ({quoted})")}
    assert found == {kept_slug}, f"tenants created for clients that had left: {found - {kept_slug}}"
