"""Running tenantd the way operators do (issue 13): a second tenantd started here with its own
socket in a temporary directory and the stack's database settings.

- --log FILE: master, workers and provisioner write to FILE; SIGHUP reopens it by name, so a
  rotated log keeps what came before and the next lines land in the new file.
- systemd socket activation: the socket comes from LISTEN_FDS/LISTEN_PID on fd 3.
"""

import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from fcgi_client import Conn, request_bytes
from helpers import tenantd_binary

# Settings the test sets itself; from the environment they would override its file.
OWN_KEYS = ("listen", "workers", "log.file")


def settled(check, timeout=30, every=0.05):
    """Polls check() until it returns something true; its last value."""
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got or time.monotonic() > deadline:
            return got
        time.sleep(every)


def own_config(stack, path, **settings):
    """The stack's configuration without the keys this test sets, plus settings."""
    lines = [line for line in Path(stack.config).read_text().splitlines(True)
             if line.partition("=")[0].strip() not in OWN_KEYS]
    lines += [f"{k.replace('_', '.')} = {v}\n" for k, v in settings.items()]
    path.write_text("".join(lines))
    return path


def child_env(**extra):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("TENANTD_") or k[8:].lower().replace("_", ".") not in OWN_KEYS}
    env.setdefault("ASAN_OPTIONS", "detect_leaks=0")
    env.update(extra)
    return env


def healthz(sock, request_id=None):
    """GET /healthz on a connection of its own: its status, or None while nobody answers."""
    headers = {"HTTP_X_REQUEST_ID": request_id} if request_id else {}
    try:
        c = Conn(str(sock), timeout=10)
    except OSError:
        return None
    try:
        c.send(request_bytes(1, "/healthz", headers=headers, keep=False))
        return c.response(1)[0]
    except (OSError, EOFError):
        return None
    finally:
        c.close()


def children(pid):
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def read(path):
    try:
        return Path(path).read_text()
    except FileNotFoundError:
        return ""


@pytest.fixture
def tmp(tmp_path_factory):
    # A short path: a unix socket's path has room for 107 bytes.
    d = Path("/tmp") / f"td-ops-{uuid.uuid4().hex[:8]}"
    d.mkdir()
    yield d
    shutil.rmtree(d, ignore_errors=True)


def test_log_file_is_reopened_on_sighup(stack, tmp):
    sock, log = tmp / "s", tmp / "tenantd.log"
    conf = own_config(stack, tmp / "t.conf", listen=f"unix:{sock}", workers=2)
    proc = subprocess.Popen([tenantd_binary(), "--config", str(conf), "--log", str(log)],
                            env=child_env(), stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=open(tmp / "stderr", "wb"))
    try:
        assert settled(lambda: healthz(sock) == 200), read(log) + read(tmp / "stderr")
        assert "workers on unix:" in read(log), read(log)
        assert read(tmp / "stderr") == "", "with --log nothing goes to stderr once it is open"
        # Request lines are written once a worker is idle: wait for them.
        assert healthz(sock, "before-rotation") == 200
        assert settled(lambda: "before-rotation" in read(log)), read(log)

        pids = [proc.pid] + children(proc.pid)
        assert len(pids) >= 3, f"master and two workers expected, got {pids}"
        os.rename(log, tmp / "tenantd.log.1")
        proc.send_signal(signal.SIGHUP)
        # Every process says so in the new file once it has reopened it.
        want = {f"tenantd[{pid}]: log reopened" for pid in pids}
        assert settled(lambda: all(w in read(log) for w in want)), (want, read(log))

        ids = [f"after-rotation-{i}" for i in range(8)]
        for rid in ids:
            assert healthz(sock, rid) == 200
        assert settled(lambda: all(rid in read(log) for rid in ids)), read(log)
        assert "after-rotation" not in read(tmp / "tenantd.log.1")
        assert "before-rotation" in read(tmp / "tenantd.log.1")
        assert proc.poll() is None, "SIGHUP stopped tenantd"
    finally:
        stop(proc)
    assert proc.returncode == 0
    assert read(tmp / "stderr") == ""


def test_log_file_from_the_configuration(stack, tmp):
    """log.file in the configuration does what --log does."""
    sock, log = tmp / "s", tmp / "from-config.log"
    conf = own_config(stack, tmp / "t.conf", listen=f"unix:{sock}", workers=1, log_file=str(log))
    proc = subprocess.Popen([tenantd_binary(), "--config", str(conf)], env=child_env(),
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        assert settled(lambda: healthz(sock, "configured-log") == 200)
        assert settled(lambda: "configured-log" in read(log)), read(log)
    finally:
        stop(proc)


def test_unwritable_log_file_is_refused_at_start(stack, tmp):
    conf = own_config(stack, tmp / "t.conf", listen=f"unix:{tmp / 's'}", workers=1)
    out = subprocess.run([tenantd_binary(), "--config", str(conf), "--log",
                          str(tmp / "no" / "such" / "dir.log")], env=child_env(),
                         stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
    assert out.returncode == 1
    assert b"no/such/dir.log" in out.stderr, out.stderr


def start_socket_activated(binary, conf, sock, log):
    """binary started as systemd starts a socket-activated service: the listening socket on
    fd 3, LISTEN_FDS=1, LISTEN_PID its own pid (systemd-socket-activate, else the same by
    hand)."""
    tool = shutil.which("systemd-socket-activate")
    if tool:
        return subprocess.Popen([tool, "-l", str(sock), binary, "--config", str(conf),
                                 "--log", str(log)], env=child_env(),
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(sock))
    s.listen(16)

    def to_fd3():
        os.dup2(s.fileno(), 3)
        os.set_inheritable(3, True)

    try:
        return subprocess.Popen(["/bin/sh", "-c", 'LISTEN_PID=$$ exec "$@"', "sh", binary,
                                 "--config", str(conf), "--log", str(log)],
                                env=child_env(LISTEN_FDS="1"), preexec_fn=to_fd3,
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
    finally:
        s.close()


def test_systemd_socket_activation(stack, tmp):
    """No listen setting and a socket passed as systemd passes it: tenantd serves it (and not
    CGI on an empty stdin)."""
    sock, log = tmp / "s", tmp / "tenantd.log"
    conf = own_config(stack, tmp / "t.conf", workers=1)
    proc = start_socket_activated(tenantd_binary(), conf, sock, log)
    try:
        assert settled(lambda: healthz(sock, "socket-activated") == 200), read(log)
        assert "workers on inherited fd 3" in read(log), read(log)
        assert settled(lambda: "socket-activated" in read(log)), read(log)
    finally:
        stop(proc)


def test_listen_pid_of_another_process_is_not_taken(stack, tmp):
    """LISTEN_FDS meant for another process (LISTEN_PID not ours) is ignored: without a socket
    on fd 0 either, tenantd answers one CGI request."""
    conf = own_config(stack, tmp / "t.conf")
    env = child_env(LISTEN_FDS="1", LISTEN_PID="1", REQUEST_METHOD="GET", REQUEST_URI="/healthz",
                    QUERY_STRING="", SERVER_PROTOCOL="HTTP/1.1")
    out = subprocess.run([tenantd_binary(), "--config", str(conf)], env=env, input=b"",
                         capture_output=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(b"Status: 200"), out.stdout[:200]
