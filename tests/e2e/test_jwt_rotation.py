"""Rotating the HS256 secret of an issuer whose tokens carry no kid (docs/security.md, "JWT
secrets and keys"): with the new secret as jwt.NAME.secret and the old one as
jwt.NAME.previous_secret, tokens signed with either are accepted, any other is 401; without
previous_secret the old tokens are refused. On a tenantd of the test's own (one worker, own
socket, the stack's database) whose configuration is the stack's with the dev issuer's secrets
changed.
"""

import os
import secrets
import signal
import socket
import subprocess
import time

import pytest

from fcgi_client import Conn, request_bytes
from helpers import tenantd_binary


@pytest.fixture
def tenantd_with(stack, tmp_path):
    """tenantd_with(lines) -> the socket of a tenantd whose configuration is the stack's with
    the dev issuer's secret lines replaced by lines."""
    started = []

    def start(lines):
        conf = tmp_path / f"tenantd{len(started)}.conf"
        kept = [line for line in open(stack.config).read().splitlines()
                if not line.replace(" ", "").startswith(("jwt.dev.secret", "jwt.dev.previous_secret"))]
        conf.write_text("\n".join(kept + lines) + "\n")
        conf.chmod(0o600)
        sock = tmp_path / f"t{len(started)}.sock"
        log = tmp_path / f"tenantd{len(started)}.log"
        p = subprocess.Popen([tenantd_binary(), "--config", str(conf), "--listen", f"unix:{sock}", "--workers", "1"],
                             env={**os.environ, "TENANTD_PROVISION_ENABLED": "0", "ASAN_OPTIONS": "detect_leaks=0"},
                             stdout=subprocess.DEVNULL, stderr=open(log, "wb"))
        started.append(p)
        deadline = time.monotonic() + 30
        while True:
            assert p.poll() is None, log.read_text()[-2000:]
            assert time.monotonic() < deadline, "tenantd did not accept on its socket in 30 s"
            try:
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
                    probe.connect(str(sock))
                return str(sock)
            except (FileNotFoundError, ConnectionRefusedError):
                time.sleep(0.05)

    yield start
    for p in started:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def status_with(sock, token):
    c = Conn(sock)
    try:
        c.send(request_bytes(1, "/api/v1/tenants?pageSize=1", keep=False,
                             headers={"HTTP_AUTHORIZATION": f"Bearer {token}"}))
        return c.response(1)[0]
    finally:
        c.close()


def test_previous_secret_accepts_the_old_tokens_while_an_issuer_switches(tenantd_with, tokens):
    old, new, other = (secrets.token_hex(32) for _ in range(3))
    sock = tenantd_with([f"jwt.dev.secret = {new}", f"jwt.dev.previous_secret = {old}"])
    assert status_with(sock, tokens.mint(secret=new)) == 200
    assert status_with(sock, tokens.mint(secret=old)) == 200
    assert status_with(sock, tokens.mint(secret=other)) == 401
    # A kid no key has falls back to the keys without one: both secrets.
    assert status_with(sock, tokens.mint(secret=old, headers={"kid": "nokey"})) == 200

    # The rotation done: previous_secret removed, the old tokens are refused.
    sock = tenantd_with([f"jwt.dev.secret = {new}"])
    assert status_with(sock, tokens.mint(secret=new)) == 200
    assert status_with(sock, tokens.mint(secret=old)) == 401
