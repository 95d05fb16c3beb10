"""Running tenantd the way operators do (issue 13): a second tenantd started here with its own
socket in a temporary directory and the stack's database settings.

- --log FILE: master, workers and provisioner write to FILE; SIGHUP reopens it by name, so a
  rotated log keeps what came before and the next lines land in the new file.
- systemd socket activation: the socket comes from LISTEN_FDS/LISTEN_PID on fd 3.
- make install DESTDIR=...: programs, man pages that render cleanly and name every option,
  setting and command, the example configuration (an existing one is kept), web-server
  snippets, logrotate, systemd units that `systemd-analyze verify` accepts; tenantctl looks
  for the migrations where they are installed; the installed tenantd serves an inherited
  socket.
"""

import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from fcgi_client import Conn, request_bytes
from helpers import inline_secrets, tenantd_binary

# Settings the test sets itself; from the environment they would override its file.
OWN_KEYS = ("listen", "workers", "log.file", "auth.cache_ttl", "provision.enabled")


def settled(check, timeout=30, every=0.05):
    """Polls check() until it returns something true; its last value."""
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got or time.monotonic() > deadline:
            return got
        time.sleep(every)


def own_config(stack, path, settings=None):
    """The stack's configuration without the keys this test sets, plus settings."""
    lines = inline_secrets([line for line in Path(stack.config).read_text().splitlines(True)
                            if line.partition("=")[0].strip() not in OWN_KEYS])
    lines += [f"{k} = {v}\n" for k, v in (settings or {}).items()]
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
def tmp():
    # A short path: a unix socket's path has room for 107 bytes.
    d = Path("/tmp") / f"td-ops-{uuid.uuid4().hex[:8]}"
    d.mkdir()
    yield d
    shutil.rmtree(d, ignore_errors=True)


def test_log_file_is_reopened_on_sighup(stack, tmp):
    sock, log = tmp / "s", tmp / "tenantd.log"
    conf = own_config(stack, tmp / "t.conf", {"listen": f"unix:{sock}", "workers": 2})
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
    conf = own_config(stack, tmp / "t.conf",
                      {"listen": f"unix:{sock}", "workers": 1, "log.file": str(log)})
    proc = subprocess.Popen([tenantd_binary(), "--config", str(conf)], env=child_env(),
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        assert settled(lambda: healthz(sock, "configured-log") == 200)
        assert settled(lambda: "configured-log" in read(log)), read(log)
    finally:
        stop(proc)


def test_unwritable_log_file_is_refused_at_start(stack, tmp):
    conf = own_config(stack, tmp / "t.conf", {"listen": f"unix:{tmp / 's'}", "workers": 1})
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
    conf = own_config(stack, tmp / "t.conf", {"workers": 1})
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


# ---------------------------------------------------------------------------
# make install

ROOT = Path(__file__).resolve().parents[2]
DIRS = ("prefix", "bindir", "sysconfdir", "mandir", "pkgdatadir", "systemdsystemunitdir")


def make_vars(bdir):
    """The installation directories of the build in bdir, as its Makefile expands them."""
    script = "print:\n" + "".join(f"\t@echo {d}=$({d})\n" for d in DIRS)
    out = subprocess.run(["make", "-s", "--no-print-directory", "-C", str(bdir), "-f", "Makefile",
                          "-f", "-", "print"], input=script, capture_output=True, text=True,
                         timeout=60, check=True).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """make install DESTDIR=... from the build tree of the tenantd under test: (root, dirs),
    dirs being the configured directories (without DESTDIR)."""
    bdir = Path(tenantd_binary()).parent
    if not (bdir / "Makefile").exists():
        pytest.skip(f"{bdir} is not an autotools build tree")
    dest = tmp_path_factory.mktemp("destdir")
    out = subprocess.run(["make", "-C", str(bdir), "install", f"DESTDIR={dest}"],
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return dest, make_vars(bdir)


def at(installed, dirname, *parts):
    dest, dirs = installed
    return Path(str(dest) + dirs[dirname]).joinpath(*parts)


def test_install_lays_down_every_file(installed):
    expect = [("bindir", "tenantd"), ("bindir", "tenantctl"),
              ("mandir", "man8", "tenantd.8"), ("mandir", "man8", "tenantctl.8"),
              ("sysconfdir", "tenantd", "tenantd.conf"),
              ("sysconfdir", "tenantd", "tenantd.conf.example"),
              ("pkgdatadir", "sql", "0001_init.sql"),
              ("pkgdatadir", "sql", "tenant", "0001_tenant_schema.sql"),
              ("pkgdatadir", "nginx", "tenantd.conf"),
              ("pkgdatadir", "nginx", "tenantd-fastcgi.conf"),
              ("pkgdatadir", "apache", "tenantd-proxy-fcgi.conf"),
              ("pkgdatadir", "apache", "tenantd-fcgid.conf"),
              ("pkgdatadir", "apache", "tenantd-cgi.conf"),
              ("pkgdatadir", "apache", "tenantd.fcgi"),
              ("pkgdatadir", "lighttpd", "tenantd.conf"),
              ("pkgdatadir", "logrotate", "tenantd"),
              ("systemdsystemunitdir", "tenantd.socket"),
              ("systemdsystemunitdir", "tenantd.service")]
    missing = [str(at(installed, *e)) for e in expect if not at(installed, *e).is_file()]
    assert not missing, missing
    _, dirs = installed
    for f in ("bindir/tenantd", "bindir/tenantctl", "pkgdatadir/apache/tenantd.fcgi"):
        d, name = f.split("/", 1)
        assert os.access(at(installed, d, *name.split("/")), os.X_OK), f
    # Installed paths are filled in, nothing is left to substitute.
    wrapper = at(installed, "pkgdatadir", "apache", "tenantd.fcgi").read_text()
    assert f"exec {dirs['bindir']}/tenantd " in wrapper
    assert f"{dirs['sysconfdir']}/tenantd/tenantd.conf" in wrapper
    for p in at(installed, "prefix").rglob("*"):
        if p.is_file() and p.parent != at(installed, "bindir"):
            left = re.search(r"@[a-z]+@", p.read_text(errors="replace"))
            assert not left, f"{p}: {left[0]} left unsubstituted"
    # The configuration holds a password: not world-readable.
    assert at(installed, "sysconfdir", "tenantd", "tenantd.conf").stat().st_mode & 0o007 == 0


def test_installed_example_configuration_is_valid(installed):
    conf = at(installed, "sysconfdir", "tenantd", "tenantd.conf")
    out = subprocess.run([str(at(installed, "bindir", "tenantd")), "--config", str(conf), "--routes"],
                         env=child_env(), capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert "/api/v1/tenants" in out.stdout


def test_install_keeps_an_existing_configuration(installed):
    dest, _ = installed
    conf = at(installed, "sysconfdir", "tenantd", "tenantd.conf")
    before = conf.read_text()
    conf.write_text(before + "# edited by the operator\n")
    try:
        out = subprocess.run(["make", "-C", str(Path(tenantd_binary()).parent), "install",
                              f"DESTDIR={dest}"], capture_output=True, text=True, timeout=900)
        assert out.returncode == 0, out.stderr[-3000:]
        assert conf.read_text().endswith("# edited by the operator\n")
        assert at(installed, "sysconfdir", "tenantd", "tenantd.conf.example").read_text() == before
    finally:
        conf.write_text(before)


@pytest.mark.parametrize("page", ["tenantd.8", "tenantctl.8"])
def test_man_pages_render_without_warnings(installed, page):
    path = at(installed, "mandir", "man8", page)
    out = subprocess.run(["groff", "-mandoc", "-ww", "-z", str(path)], capture_output=True,
                         text=True, timeout=60)
    assert (out.returncode, out.stderr) == (0, ""), out.stderr
    if shutil.which("man"):
        out = subprocess.run(["man", "--warnings", "-l", str(path)], capture_output=True, text=True,
                             timeout=60, env={**os.environ, "MANWIDTH": "80", "MANPAGER": "cat",
                                              "PAGER": "cat", "LC_ALL": "C.UTF-8"})
        assert out.returncode == 0 and out.stderr == "", out.stderr
        assert "EXIT STATUS" in out.stdout


def man_text(installed, page):
    out = subprocess.run(["groff", "-mandoc", "-Tutf8", "-P-c", "-P-b", "-P-u",
                          str(at(installed, "mandir", "man8", page))],
                         capture_output=True, text=True, timeout=60, check=True)
    return out.stdout.replace("\u2010", "-").replace("\u2212", "-")


def test_tenantd_man_page_names_every_option_setting_and_signal(installed):
    text = man_text(installed, "tenantd.8")
    main_c = (ROOT / "fcgi-app" / "main.c").read_text()
    options = re.findall(r'\{ "([a-z-]+)", (?:required|no|optional)_argument', main_c)
    assert "log" in options and "listen" in options
    missing = [o for o in options if f"--{o}" not in text]
    keys = re.findall(r'(?:STR|NUM)\("([a-z_.]+)"|\{ "([a-z_.]+)", CT_',
                      (ROOT / "fcgi-app" / "config.c").read_text())
    keys = [a or b for a, b in keys] + ["rate_limit.route.", "surface.", "jwt."]
    missing += [k for k in keys if k not in text]
    missing += [w for w in ("SIGTERM", "SIGHUP", "SIGINT", "EXIT STATUS", "LISTEN_FDS",
                            "TENANTD_CONFIG") if w not in text]
    assert not missing, missing


def test_tenantctl_man_page_names_every_command(installed):
    text = man_text(installed, "tenantctl.8")
    src = (ROOT / "fcgi-app" / "tenantctl.c").read_text()
    cmds = re.findall(r'\{ "([a-z]+)", (?:NULL|"([a-z]+)"), cmd_', src)
    assert len(cmds) >= 7
    missing = [f"{a} {b}".strip() for a, b in cmds if f"{a} {b}".strip() not in text]
    assert not missing, missing


def test_tenantctl_migrate_looks_where_migrations_are_installed(installed):
    """Without --dir, tenantctl migrate reads $(pkgdatadir)/sql, which make install fills."""
    _, dirs = installed
    out = subprocess.run([str(at(installed, "bindir", "tenantctl"))], env=child_env(),
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 2
    default = re.search(r"migrate \[--dir SQLDIR\]\s+\(default (\S+)\)", out.stderr)
    assert default, out.stderr
    assert default[1] == dirs["pkgdatadir"] + "/sql"
    installed_sql = sorted(p.name for p in at(installed, "pkgdatadir", "sql").glob("*.sql"))
    assert installed_sql == sorted(p.name for p in (ROOT / "sql").glob("*.sql"))


def test_systemd_units_verify(installed, tmp):
    tool = shutil.which("systemd-analyze")
    if not tool:
        pytest.skip("systemd-analyze is not installed")
    dest, dirs = installed
    probe = tmp / "probe.service"
    probe.write_text("[Service]\nExecStart=/bin/true\n")
    if subprocess.run([tool, "verify", "--man=no", str(probe)], capture_output=True,
                      timeout=60).returncode != 0:
        pytest.skip("systemd-analyze verify cannot run here")
    # The units name installed paths: point them into DESTDIR.
    units = []
    for name in ("tenantd.socket", "tenantd.service"):
        text = at(installed, "systemdsystemunitdir", name).read_text()
        (tmp / name).write_text(text.replace(dirs["bindir"] + "/", str(dest) + dirs["bindir"] + "/"))
        units.append(str(tmp / name))
    out = subprocess.run([tool, "verify", "--man=no", *units], capture_output=True, text=True,
                         timeout=60)
    assert (out.returncode, out.stderr.strip()) == (0, ""), out.stderr
    service = (tmp / "tenantd.service").read_text()
    for hardening in ("DynamicUser=yes", "ProtectSystem=strict", "NoNewPrivileges=yes",
                      "PrivateTmp=yes", "ProtectHome=yes",
                      "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
                      "SystemCallArchitectures=native"):
        assert hardening in service.splitlines(), hardening


def test_installed_tenantd_serves_an_inherited_socket(stack, installed, tmp):
    sock, log = tmp / "s", tmp / "installed.log"
    conf = own_config(stack, tmp / "t.conf", {"workers": 1})
    proc = start_socket_activated(str(at(installed, "bindir", "tenantd")), conf, sock, log)
    try:
        assert settled(lambda: healthz(sock) == 200), read(log)
        assert "workers on inherited fd 3" in read(log)
    finally:
        stop(proc)
    assert proc.returncode == 0


# ---------------------------------------------------------------------------
# The key-revocation shared memory (issue 13, defect 3): a tenantd run as another user with
# the same database settings once exited "cannot map shared memory" on the first one's 0600
# object; now each master has its own, removed when it stops, and a revocation reaches every
# instance on the host that the revoking process may open.

def keys_objects(pid):
    return list(Path("/dev/shm").glob(f"tenantd-keys-*-{pid}"))


@pytest.fixture
def nobody_tenantd(stack, tmp):
    """A tenantd run as nobody, one worker trusting a resolved key for 300 s: (sock, log, proc)."""
    if os.geteuid() != 0:
        pytest.skip("needs root to start tenantd as another user")
    pw = pwd.getpwnam("nobody")

    def drop():
        os.setgroups([])
        os.setgid(pw.pw_gid)
        os.setuid(pw.pw_uid)

    if subprocess.run([tenantd_binary(), "--version"], preexec_fn=drop, capture_output=True,
                      env=child_env()).returncode != 0:
        pytest.skip("nobody cannot run the tenantd under test")
    tmp.chmod(0o777)
    sock, log = tmp / "s", tmp / "nobody.log"
    conf = own_config(stack, tmp / "t.conf", {"listen": f"unix:{sock}", "workers": 1,
                                              "auth.cache_ttl": 300, "provision.enabled": 0})
    conf.chmod(0o644)
    proc = subprocess.Popen([tenantd_binary(), "--config", str(conf), "--log", str(log)],
                            preexec_fn=drop, env=child_env(), stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert settled(lambda: healthz(sock) == 200 or proc.poll() is not None), read(log)
        assert proc.poll() is None, f"tenantd as nobody exited {proc.returncode}: {read(log)}"
        yield sock, log, proc
    finally:
        stop(proc)


def get_tenants(sock, key):
    c = Conn(str(sock))
    try:
        c.send(request_bytes(1, "/api/v1/tenants?pageSize=1", keep=False,
                             headers={"HTTP_AUTHORIZATION": f"Bearer {key}"}))
        return c.response(1)[0]
    finally:
        c.close()


def key_id(ctl, principal):
    rows = [line.split("\t") for line in ctl.run("key", "list", "--account", principal.account)
            .stdout.splitlines()[1:]]
    assert len(rows) == 1, rows
    return rows[0][0]


def test_tenantd_as_another_user_starts_beside_a_running_one(nobody_tenantd):
    """The stack's tenantd runs as root with the same database settings; nobody's starts and
    serves, with an object of its own that it removes when it stops."""
    _, log, proc = nobody_tenantd
    assert "cannot map shared memory" not in read(log)
    assert "shared memory" not in read(log), "fell back to a private epoch"
    objs = keys_objects(proc.pid)
    assert len(objs) == 1 and objs[0].stat().st_uid == pwd.getpwnam("nobody").pw_uid, objs
    assert objs[0].stat().st_mode & 0o777 == 0o600
    stop(proc)
    assert proc.returncode == 0, read(log)
    assert not objs[0].exists(), "the object outlived its tenantd"


def test_tenantctl_revocation_reaches_another_users_tenantd_at_once(nobody_tenantd, ctl):
    sock, log, _ = nobody_tenantd
    p = ctl.key(permissions="View")
    assert get_tenants(sock, p.key) == 200     # resolved, and cached for 300 s
    ctl.run("key", "revoke", key_id(ctl, p))
    assert get_tenants(sock, p.key) == 401, read(log)


def test_api_revocation_reaches_another_tenantd_on_the_host_at_once(nobody_tenantd, ctl, api,
                                                                     admin):
    """Revoked through the stack's tenantd (root): nobody's tenantd drops its cache too."""
    sock, log, _ = nobody_tenantd
    p = ctl.key(permissions="View", account=admin.account)
    assert get_tenants(sock, p.key) == 200
    ids = [line.split("\t")[0] for line in ctl.run("key", "list", "--account", admin.account)
           .stdout.splitlines()[1:] if line.split("\t")[1] and p.key.startswith(line.split("\t")[1])]
    assert len(ids) == 1, ids
    r = api.delete(f"/api/v1/api-keys/{ids[0]}", key=admin.key)
    assert r.status_code == 204, r.text
    assert get_tenants(sock, p.key) == 401, read(log)


def test_revocation_removes_objects_of_masters_that_are_gone(nobody_tenantd, ctl):
    _, _, proc = nobody_tenantd
    prefix = keys_objects(proc.pid)[0].name.rsplit("-", 1)[0]
    gone = subprocess.Popen(["/bin/true"])
    gone.wait()
    stale = Path("/dev/shm") / f"{prefix}-{gone.pid}"
    stale.write_bytes(b"\0" * 8)
    p = ctl.key(permissions="View")
    ctl.run("key", "revoke", key_id(ctl, p))
    assert not stale.exists()
    assert keys_objects(proc.pid), "a running tenantd's object was removed"


def test_cgi_body_over_the_limit_is_read_before_the_413(stack, tmp):
    """In CGI mode a body over body_limit is still read, CONTENT_LENGTH bytes and no more, before
    tenantd answers 413 and exits: Apache mod_cgid drops the connection unanswered when its
    CGI program leaves the body unread. stdin stays open, as a client socket may."""
    conf = own_config(stack, tmp / "t.conf")
    size = 1024 * 1024 + 4096
    r, w = os.pipe()
    env = child_env(REQUEST_METHOD="POST", REQUEST_URI="/api/v1/tenants", QUERY_STRING="",
                    SERVER_PROTOCOL="HTTP/1.1", CONTENT_TYPE="application/json",
                    CONTENT_LENGTH=str(size), HTTP_AUTHORIZATION="Bearer tk_live_x")
    proc = subprocess.Popen([tenantd_binary(), "--config", str(conf)], env=env, stdin=r,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    os.close(r)
    written = 0
    try:
        chunk = b"x" * 65536
        while written < size:
            written += os.write(w, chunk[:size - written])
        out, _ = proc.communicate(timeout=60)
    finally:
        os.close(w)
        if proc.poll() is None:
            proc.kill()
    assert written == size
    assert proc.returncode == 0
    assert out.startswith(b"Status: 413"), out[:200]
