"""tenantd behind the other web servers operators run it under (issue 13), each started here
project-locally on a free port as the shipped snippets and docs/operations.md configure it:

- Apache 2.4 + mod_proxy_fcgi, to the stack's tenantd socket, enablereuse=on;
- Apache + mod_fcgid spawning tenantd through a .fcgi wrapper, as www-data (shared hosting);
- lighttpd + mod_fastcgi, to the stack's tenantd socket, and starting tenantd itself
  (bin-path, stderr on /dev/null: log.file keeps the request log);
- Apache + mod_cgid running tenantd as a plain CGI program.

Each drives the same subset of the API: 401, list, create (JSON), get (JSON and XML), PUT with
If-Match (stale: 412), a body over body_limit (413, tenantd's problem, not the server's page),
delete with confirmation. A server that is not installed is skipped (scripts/lib.sh installs
them for ./scripts/test).
"""

import os
import pwd
import shutil
import socket
import subprocess
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
import requests

from conftest import _read_kv, unique_name
from helpers import (assert_json, assert_problem, assert_xml, child_text, inline_secrets, tenant_body,
                     tenantd_binary)

APACHE = "/usr/sbin/apache2"
LIGHTTPD = "/usr/sbin/lighttpd"
MODULES = Path("/usr/lib/apache2/modules")
# Settings these tests give their own tenantd; from the environment they would win.
OWN_KEYS = ("listen", "workers", "log.file", "provision.enabled")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def settled(check, timeout=30, every=0.05):
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got or time.monotonic() > deadline:
            return got
        time.sleep(every)


def answers(url):
    try:
        return requests.get(url + "/healthz", timeout=5).status_code == 200
    except requests.RequestException:
        return False


def read(path):
    try:
        return Path(path).read_text(errors="replace")
    except FileNotFoundError:
        return ""


def stack_socket(stack):
    listen = _read_kv(stack.config).get("listen", "")
    if not listen.startswith("unix:"):
        pytest.skip("tenantd does not listen on a unix socket in this stack")
    return listen[5:]


def www_data():
    try:
        return pwd.getpwnam("www-data")
    except KeyError:
        pytest.skip("no www-data user")


def spawned_config(stack, d):
    """A configuration for a tenantd the web server starts: the stack's database, no listen
    (the socket is on fd 0, or none for CGI), one worker, no provisioner, a log file; readable
    by www-data, and its environment carries no overrides."""
    lines = inline_secrets([line for line in Path(stack.config).read_text().splitlines(True)
                            if line.partition("=")[0].strip() not in OWN_KEYS])
    lines += ["workers = 1\n", "provision.enabled = 0\n", f"log.file = {d}/tenantd.log\n"]
    for name in ("TENANTD_DB_SOCKET", "TENANTD_DB_USER", "TENANTD_DB_PASSWORD", "TENANTD_DB_NAME"):
        if os.environ.get(name):
            lines.append(f"{name[8:].lower().replace('_', '.')} = {os.environ[name]}\n")
    conf = d / "tenantd.conf"
    conf.write_text("".join(lines))
    conf.chmod(0o644)
    return conf


def wrapper(path, conf):
    """The .fcgi/.cgi wrapper of docs/operations.md. (The servers pass tenantd a clean
    environment: a sanitizer build is told here not to look for leaks at exit.)"""
    path.write_text(f"#!/bin/sh\nASAN_OPTIONS=detect_leaks=0 exec {tenantd_binary()} --config {conf}\n")
    path.chmod(0o755)


class Server:
    """A web server in the foreground, with its own directory: started, then stopped."""

    def __init__(self, name, d, argv, log):
        self.name, self.dir, self.log = name, d, log
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.argv = argv
        self.proc = None

    def start(self, config_text):
        (self.dir / "server.conf").write_text(config_text.replace("@PORT@", str(self.port)))
        env = {"PATH": "/usr/sbin:/usr/bin:/bin", "ASAN_OPTIONS": "detect_leaks=0",
               "LANG": "C"}
        self.proc = subprocess.Popen(self.argv, env=env, stdin=subprocess.DEVNULL,
                                     stdout=open(self.dir / "stdout", "wb"),
                                     stderr=subprocess.STDOUT)
        ok = settled(lambda: answers(self.url) or self.proc.poll() is not None, timeout=60)
        if not ok or self.proc.poll() is not None:
            out = read(self.dir / "stdout") + read(self.log) + read(self.dir / "tenantd.log")
            self.stop()
            pytest.fail(f"{self.name} did not come up on {self.url}:\n{out[-3000:]}")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def apache_config(d, body, modules):
    loads = "".join(f"LoadModule {m}_module {MODULES}/mod_{m}.so\n"
                    for m in ("mpm_event", "authz_core") + modules)
    return f"""ServerRoot "{d}"
ServerName localhost
Listen 127.0.0.1:@PORT@
PidFile "{d}/apache.pid"
DefaultRuntimeDir "{d}"
ErrorLog "{d}/error.log"
LogLevel warn
User www-data
Group www-data
{loads}
DocumentRoot "{d}/htdocs"
{"TypesConfig /dev/null" if "mime" in modules else ""}
{body}
"""


@pytest.fixture
def server_dir():
    # Short, and reachable by www-data (pytest's tmp_path is not).
    d = Path("/tmp") / f"td-srv-{uuid.uuid4().hex[:8]}"
    d.mkdir()
    d.chmod(0o755)
    (d / "htdocs").mkdir()
    yield d
    shutil.rmtree(d, ignore_errors=True)


def need(path):
    if not os.access(path, os.X_OK):
        pytest.skip(f"{path} is not installed")
    if os.geteuid() != 0:
        pytest.skip("the servers are started as root and drop to www-data")


@pytest.fixture
def apache_proxy_fcgi(stack, server_dir):
    need(APACHE)
    d, sock = server_dir, stack_socket(stack)
    s = Server("Apache mod_proxy_fcgi", d, [APACHE, "-d", str(d), "-f", str(d / "server.conf"),
                                             "-DFOREGROUND"], d / "error.log")
    s.start(apache_config(d, f"""
<Location "/">
    CGIPassAuth On
    ProxyPass "unix:{sock}|fcgi://tenantd/" enablereuse=on
</Location>
""", ("proxy", "proxy_fcgi")))
    yield s
    s.stop()


@pytest.fixture
def apache_fcgid(stack, server_dir):
    need(APACHE)
    if not (MODULES / "mod_fcgid.so").exists():
        pytest.skip("mod_fcgid is not installed (libapache2-mod-fcgid)")
    d, user = server_dir, www_data()
    conf = spawned_config(stack, d)
    wrapper(d / "htdocs" / "tenantd.fcgi", conf)
    (d / "fcgid").mkdir()
    for p in (d / "fcgid", d):
        os.chown(p, user.pw_uid, user.pw_gid)
    s = Server("Apache mod_fcgid", d, [APACHE, "-d", str(d), "-f", str(d / "server.conf"),
                                        "-DFOREGROUND"], d / "error.log")
    s.start(apache_config(d, f"""
FcgidIPCDir "{d}/fcgid"
FcgidProcessTableFile "{d}/fcgid/shm"
FcgidMaxRequestLen 8388608
FcgidMaxProcessesPerClass 4
FcgidIdleTimeout 600
<Directory "{d}/htdocs">
    Options +ExecCGI
    AddHandler fcgid-script .fcgi
    CGIPassAuth On
    RewriteEngine On
    RewriteCond %{{REQUEST_FILENAME}} !-f
    RewriteRule ^ tenantd.fcgi [L]
</Directory>
""", ("mime", "rewrite", "fcgid")))
    yield s
    s.stop()


@pytest.fixture
def lighttpd_fastcgi(stack, server_dir):
    need(LIGHTTPD)
    d, sock, user = server_dir, stack_socket(stack), www_data()
    os.chown(d, user.pw_uid, user.pw_gid)     # lighttpd opens its log as www-data
    s = Server("lighttpd mod_fastcgi", d, [LIGHTTPD, "-D", "-f", str(d / "server.conf")],
               d / "error.log")
    s.start(f"""server.document-root = "{d}/htdocs"
server.bind = "127.0.0.1"
server.port = @PORT@
server.username = "www-data"
server.groupname = "www-data"
server.errorlog = "{d}/error.log"
server.modules = ( "mod_fastcgi" )
fastcgi.server = (
    "/" => (( "socket" => "{sock}", "check-local" => "disable" )),
)
""")
    yield s
    s.stop()


@pytest.fixture
def lighttpd_bin_path(stack, server_dir):
    """lighttpd starts tenantd itself (stderr on /dev/null): tenantd's log.file keeps its log."""
    need(LIGHTTPD)
    d, user = server_dir, www_data()
    conf = spawned_config(stack, d)
    wrapper(d / "tenantd-spawn.sh", conf)
    os.chown(d, user.pw_uid, user.pw_gid)
    s = Server("lighttpd bin-path", d, [LIGHTTPD, "-D", "-f", str(d / "server.conf")],
               d / "error.log")
    s.start(f"""server.document-root = "{d}/htdocs"
server.bind = "127.0.0.1"
server.port = @PORT@
server.username = "www-data"
server.groupname = "www-data"
server.errorlog = "{d}/error.log"
server.modules = ( "mod_fastcgi" )
fastcgi.server = (
    "/" => (( "bin-path" => "{d}/tenantd-spawn.sh", "socket" => "{d}/spawn.sock",
              "max-procs" => 1, "check-local" => "disable" )),
)
""")
    yield s
    s.stop()


@pytest.fixture
def apache_cgid(stack, server_dir):
    need(APACHE)
    d, user = server_dir, www_data()
    conf = spawned_config(stack, d)
    (d / "cgi-bin").mkdir()
    wrapper(d / "cgi-bin" / "tenantd.cgi", conf)
    os.chown(d, user.pw_uid, user.pw_gid)
    s = Server("Apache mod_cgid", d, [APACHE, "-d", str(d), "-f", str(d / "server.conf"),
                                       "-DFOREGROUND"], d / "error.log")
    s.start(apache_config(d, f"""
ScriptSock "{d}/cgid.sock"
ScriptAliasMatch "^/(.*)" "{d}/cgi-bin/tenantd.cgi"
<Directory "{d}/cgi-bin">
    CGIPassAuth On
</Directory>
""", ("alias", "cgid")))
    yield s
    s.stop()


def api_suite(url, admin):
    """The operator's smoke test of an installation, through url."""
    s = requests.Session()
    auth = {"Authorization": f"Bearer {admin.key}"}
    tenants = url + "/api/v1/tenants"

    r = s.get(tenants, timeout=30)
    assert_problem(r, 401)
    assert r.headers.get("WWW-Authenticate", "").lower().startswith("bearer")

    page = assert_json(s.get(tenants + "?pageSize=5", headers=auth, timeout=30), 200)
    assert {"data", "pageNumber", "pageSize", "totalCount"} <= set(page), page

    slug = unique_name("srv")
    r = s.post(tenants, json=tenant_body(slug), headers=auth, timeout=30)
    assert_json(r, 202)
    location = r.headers.get("Location", "")
    assert location.startswith("/api/v1/"), r.headers
    assert_json(s.get(url + location, headers=auth, timeout=30), 200)

    r = s.get(f"{tenants}/{slug}", headers=auth, timeout=30)
    t = assert_json(r, 200)
    assert t["id"] == slug
    etag = r.headers.get("ETag")
    assert etag, r.headers
    doc = assert_xml(s.get(f"{tenants}/{slug}", headers={**auth, "Accept": "application/xml"},
                           timeout=30), 200, "tenant")
    assert child_text(doc, "id") == slug

    renamed = f"Renamed {slug}"
    body = tenant_body(slug, name=renamed)
    assert_problem(s.put(f"{tenants}/{slug}", json=body, headers={**auth, "If-Match": '"999"'},
                         timeout=30), 412)
    r = s.put(f"{tenants}/{slug}", json=body, headers={**auth, "If-Match": etag}, timeout=30)
    assert assert_json(r, 200)["name"] == renamed

    big = b'{"id": "' + b"x" * (1024 * 1024 + 10) + b'"}'
    assert_problem(s.post(tenants, data=big, timeout=60,
                          headers={**auth, "Content-Type": "application/json"}), 413)

    t = assert_json(s.get(f"{tenants}/{slug}", headers=auth, timeout=30), 200)
    display = t.get("displayName") or t["name"]
    assert_problem(s.delete(f"{tenants}/{slug}?confirmName=wrong&confirmDisplayName=wrong",
                            headers=auth, timeout=30), 422)
    r = s.delete(f"{tenants}/{slug}?confirmName={quote(t['name'])}"
                 f"&confirmDisplayName={quote(display)}", headers=auth, timeout=30)
    assert_json(r, 200)
    assert_problem(s.get(f"{tenants}/{slug}", headers=auth, timeout=30), 404)


def test_apache_mod_proxy_fcgi(apache_proxy_fcgi, admin):
    api_suite(apache_proxy_fcgi.url, admin)


def test_apache_mod_fcgid_spawns_tenantd_as_www_data(apache_fcgid, admin):
    api_suite(apache_fcgid.url, admin)
    log = read(apache_fcgid.dir / "tenantd.log")
    assert "workers on inherited fd 0" in log, log[-2000:]
    assert "shared memory" not in log, log[-2000:]


def test_lighttpd_mod_fastcgi(lighttpd_fastcgi, admin):
    api_suite(lighttpd_fastcgi.url, admin)


def test_lighttpd_bin_path_with_a_log_file(lighttpd_bin_path, admin):
    api_suite(lighttpd_bin_path.url, admin)
    log = lighttpd_bin_path.dir / "tenantd.log"
    assert settled(lambda: '"path":"/api/v1/tenants"' in read(log)), read(log)[-2000:]


def test_apache_mod_cgid_runs_tenantd_as_cgi(apache_cgid, admin):
    api_suite(apache_cgid.url, admin)
