"""Connection slots and slow peers on tenantd's FastCGI socket (issue 14's hostile probe):

- idle connections beyond every worker's slots never lock a new connection out (the longest
  idle is closed for it);
- a request trickling in is cut off a bounded time after its first byte, however slowly it
  comes; an idle kept-alive connection is closed after its timeout;
- a peer that never reads its answers does not stall the worker: others are served at once,
  and the stalled peer is closed after the write timeout.

The timeouts are shortened on a tenantd of the test's own (one worker, own socket, the stack's
database), so nothing here waits for the defaults.
"""

import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from conftest import _tenantd_worker_pids, unique_name
from fcgi_client import Conn, request_bytes, socket_path
from helpers import tenant_body, tenantd_binary

SLOTS = 256     # FCGI_CONNS_MAX: connections one worker holds


@pytest.fixture
def own_tenantd(stack, tmp_path):
    """own_tenantd(**settings) -> the socket path of a one-worker tenantd with the stack's
    config and the given TENANTD_* settings (e.g. FASTCGI_IDLE_TIMEOUT=2)."""
    started = []

    def start(**settings):
        sock = tmp_path / f"own{len(started)}.sock"
        env = {**os.environ, "TENANTD_PROVISION_ENABLED": "0", "ASAN_OPTIONS": "detect_leaks=0"}
        env.update({f"TENANTD_{k}": str(v) for k, v in settings.items()})
        p = subprocess.Popen([tenantd_binary(), "--config", stack.config, "--listen", f"unix:{sock}",
                              "--workers", "1"], env=env, stdout=subprocess.DEVNULL,
                             stderr=open(tmp_path / f"own{len(started)}.log", "wb"))
        started.append(p)
        # The socket file appears at bind(), a moment before listen(): wait until it accepts.
        deadline = time.monotonic() + 30
        while True:
            assert p.poll() is None, (tmp_path / f"own{len(started) - 1}.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "tenantd did not accept on its socket in 30 s"
            try:
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
                    probe.connect(str(sock))
                break
            except (FileNotFoundError, ConnectionRefusedError):
                time.sleep(0.05)
        return str(sock)

    yield start
    for p in started:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def healthz(sock, timeout=10):
    c = Conn(sock, timeout=timeout)
    try:
        c.send(request_bytes(1, "/healthz", keep=False))
        return c.response(1)[0]
    finally:
        c.close()


def closed_within(conn, seconds):
    """True when tenantd closes conn within seconds (reading and dropping what it sends)."""
    deadline = time.monotonic() + seconds
    conn.s.settimeout(0.2)
    while time.monotonic() < deadline:
        try:
            if conn.s.recv(65536) == b"":
                return True
        except socket.timeout:
            continue
        except ConnectionResetError:
            return True
    return False


def test_an_idle_connection_is_closed_after_its_timeout(own_tenantd):
    sock = own_tenantd(FASTCGI_IDLE_TIMEOUT=2)
    c = Conn(sock)
    c.send(request_bytes(1, "/healthz", keep=True))
    assert c.response(1)[0] == 200
    assert closed_within(c, 8), "an idle kept-alive connection was kept past fastcgi.idle_timeout"


def test_a_trickling_request_is_cut_off(own_tenantd):
    """One byte at a time, each well within any per-byte timeout: cut off by the whole-request
    bound, and others are served meanwhile."""
    sock = own_tenantd(FASTCGI_REQUEST_TIMEOUT=2)
    data = request_bytes(1, "/healthz", keep=True)
    c = Conn(sock)
    started = time.monotonic()
    sent = 0
    c.s.settimeout(0.3)
    closed = False
    while sent < len(data) and time.monotonic() - started < 15:
        try:
            c.s.send(data[sent:sent + 1])
            sent += 1
        except (BrokenPipeError, ConnectionResetError):
            closed = True
            break
        try:
            if c.s.recv(1) == b"":
                closed = True
                break
        except socket.timeout:
            pass
        assert healthz(sock, timeout=5) == 200
    assert closed, f"a request trickled for {time.monotonic() - started:.1f} s ({sent} bytes) and was kept"
    assert time.monotonic() - started < 10


def test_a_reader_that_takes_nothing_stalls_no_one(own_tenantd, api, admin):
    """Pipelined requests whose answers (about 2 MB) the peer never reads: another connection on
    the same single worker is served at once, and the stalled peer is closed after
    fastcgi.write_timeout."""
    for i in range(40):
        r = api.post("/api/v1/tenants", key=admin.key,
                     json=tenant_body(unique_name("big"), description="d" * 2000))
        assert r.status_code == 202, r.text
    sock = own_tenantd(FASTCGI_WRITE_TIMEOUT=3)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {admin.key}"}
    stalled = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stalled.connect(sock)
    stalled.sendall(b"".join(request_bytes(i, "/api/v1/tenants?pageSize=40", headers=auth)
                             for i in range(1, 26)))
    time.sleep(0.5)     # let the worker write what the socket takes, then queue the rest
    for _ in range(5):
        started = time.monotonic()
        assert healthz(sock, timeout=10) == 200
        assert time.monotonic() - started < 2, "a stalled reader held up another connection"
    stalled.settimeout(10)
    deadline = time.monotonic() + 15
    got = b""
    # After the write timeout tenantd closes it: reading then ends before all 25 answers.
    time.sleep(5)
    try:
        while time.monotonic() < deadline:
            chunk = stalled.recv(65536)
            if not chunk:
                break
            got += chunk
    except (socket.timeout, ConnectionResetError):
        pass
    stalled.close()
    assert got.count(b'"pageSize":40') < 25, "every answer reached a peer that stalled past the timeout"


@pytest.mark.run_last
def test_idle_connections_beyond_every_slot_lock_no_one_out(stack):
    """More idle connections than all workers hold together: a new connection is still served
    (the longest idle is closed for it)."""
    sock = socket_path(stack)
    workers = max(1, len(_tenantd_worker_pids(stack)))
    idle = []
    try:
        for _ in range(SLOTS * workers + 40):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(sock)
            idle.append(s)
        for _ in range(3):
            started = time.monotonic()
            assert healthz(sock, timeout=15) == 200
            assert time.monotonic() - started < 5
    finally:
        for s in idle:
            s.close()
