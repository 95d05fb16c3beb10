"""The shipped nginx snippet (nginx/tenantd.conf + nginx/tenantd-fastcgi.conf) on a real
nginx in front of the test stack's tenantd, beside a host's own routes.

- The shipped file is valid nginx (nginx -t on a server assembled from it).
- The location `tenantd --nginx-location` prints sends exactly the paths of the surfaces
  served to tenantd: every route's path reaches tenantd, a path beside them stays the host's.
- A surface switched off (surface.NAME.enabled = 0) or moved (surface.NAME.prefix) is left
  out of, or moved in, that location, and tenantd itself stops or moves serving it.
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests

from conftest import _read_kv
from helpers import cgi, tenantd_binary

ROOT = Path(__file__).resolve().parents[2]
SNIPPET = ROOT / "nginx" / "tenantd.conf"
FASTCGI = ROOT / "nginx" / "tenantd-fastcgi.conf"
HOST_BODY = "the host's own route"


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tenantd_socket(stack):
    listen = _read_kv(stack.config).get("listen", "")
    if not listen.startswith("unix:"):
        pytest.skip("the stack's tenantd does not listen on a unix socket")
    return listen[5:]


def _assemble(tmp, sock, location, port):
    """An nginx.conf: the snippet's Part 1 (its upstream aimed at sock), then a server with
    the given tenantd location and a host route for everything else."""
    shipped = SNIPPET.read_text()
    part1 = shipped.split("# ---- Part 2")[0]
    part1 = re.sub(r"server unix:\S+;", f"server unix:{sock};", part1)
    inc = tmp / "tenantd-fastcgi.conf"
    inc.write_text(FASTCGI.read_text())
    location = location.replace("/etc/nginx/tenantd-fastcgi.conf", str(inc))
    conf = tmp / "nginx.conf"
    conf.write_text(f"""
daemon off;
master_process on;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    fastcgi_temp_path {tmp}/fastcgi;
    proxy_temp_path {tmp}/proxy;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
{part1}
    server {{
        listen 127.0.0.1:{port};
{location}
        location / {{ default_type text/plain; return 200 "{HOST_BODY}"; }}
    }}
}}
""")
    return conf


class Nginx:
    def __init__(self, tmp, conf, port):
        self.url = f"http://127.0.0.1:{port}"
        self.p = subprocess.Popen(["nginx", "-p", str(tmp), "-c", str(conf)], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                requests.get(self.url + "/__ready", timeout=2)
                return
            except requests.ConnectionError:
                if self.p.poll() is not None:
                    raise AssertionError(f"nginx exited: {self.p.stderr.read().decode()}")
                time.sleep(0.05)
        raise AssertionError("nginx did not start listening within 20 s")

    def get(self, path):
        return requests.get(self.url + path, timeout=30)

    def stop(self):
        self.p.send_signal(signal.SIGQUIT)
        try:
            self.p.wait(10)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()


def _location(stack, env=None):
    p = subprocess.run([tenantd_binary(), "--config", stack.config,
                        "--nginx-location=/etc/nginx/tenantd-fastcgi.conf"],
                       capture_output=True, text=True, timeout=30, env={**os.environ, **(env or {})})
    assert p.returncode == 0, p.stderr
    return p.stdout


def _routes(stack, env=None):
    p = subprocess.run([tenantd_binary(), "--config", stack.config, "--routes"], capture_output=True, text=True,
                       timeout=30, env={**os.environ, **(env or {})})
    assert p.returncode == 0, p.stderr
    return [line.split()[1] for line in p.stdout.splitlines() if line.strip()]


def _sample(pattern):
    return re.sub(r"\{[^}]+\}", "x1", pattern)


@pytest.fixture
def served(stack, tmp_path):
    """served(env) -> a running nginx with the location tenantd prints under env."""
    if shutil.which("nginx") is None:
        pytest.skip("no nginx")
    sock = _tenantd_socket(stack)
    running = []

    def start(env=None):
        port = _free_port()
        d = tmp_path / f"n{len(running)}"
        d.mkdir()
        os.chmod(d, 0o755)
        n = Nginx(d, _assemble(d, sock, _location(stack, env), port), port)
        running.append(n)
        return n

    yield start
    for n in running:
        n.stop()


def _from_tenantd(r):
    return bool(r.headers.get("X-Request-Id")) and r.text != HOST_BODY


def test_the_shipped_snippet_is_valid_nginx(stack, tmp_path):
    if shutil.which("nginx") is None:
        pytest.skip("no nginx")
    shipped = SNIPPET.read_text()
    location = shipped.split("# ---- Part 2")[1].split("\n", 1)[1]
    location = "\n".join(line for line in location.splitlines() if not line.startswith("#"))
    assert "location" in location, "Part 2 of nginx/tenantd.conf has no location"
    os.chmod(tmp_path, 0o755)
    conf = _assemble(tmp_path, _tenantd_socket(stack), location, _free_port())
    p = subprocess.run(["nginx", "-t", "-p", str(tmp_path), "-c", str(conf)], capture_output=True, text=True,
                       timeout=30)
    assert p.returncode == 0, p.stderr


def test_the_shipped_location_covers_every_route_it_is_documented_for(stack):
    """As shipped (mount_prefix /tenantd), the location matches every route of every surface."""
    m = re.search(r"location ~ (\^\S+) \{", SNIPPET.read_text().split("# ---- Part 2")[1])
    assert m, "Part 2 of nginx/tenantd.conf has no regex location"
    rx = re.compile(m.group(1))
    for pattern in _routes(stack):
        assert rx.match("/tenantd" + _sample(pattern)), f"the shipped location misses {pattern}"
    assert not rx.match("/tenantd/wp-admin"), "the shipped location takes a path tenantd does not serve"


def test_every_route_reaches_tenantd_and_nothing_else(stack, served):
    n = served()
    for pattern in _routes(stack):
        r = n.get(_sample(pattern))
        assert _from_tenantd(r), f"{pattern}: answered by the host: {r.status_code} {r.text[:200]}"
    for path in ("/", "/index.html", "/api/v2/tenants", "/api/v1x", "/healthzz"):
        r = n.get(path)
        assert r.status_code == 200 and r.text == HOST_BODY, f"{path} went to tenantd: {r.status_code}"


# The compatibility surfaces, which a host may switch off or move (surface.NAME.*).
OPTIONAL_SURFACES = ("tenantcore", "aether365", "mindzie", "laravel")


def test_a_surface_switched_off_is_neither_routed_nor_served(stack, served, api):
    base = set(_routes(stack))
    for name in OPTIONAL_SURFACES:
        env = {f"TENANTD_SURFACE_{name.upper()}_ENABLED": "0"}
        gone = base - set(_routes(stack, env))
        assert gone, f"switching {name} off removed no route"
        location = _location(stack, env)
        covering = re.compile(re.search(r"location ~ (\S+) \{", location).group(1))
        n = served(env)
        for pattern in gone:
            # The host's, unless another surface's prefix covers the path (seed 002's
            # /tenants covers seed 004's /tenants/me); what tenantd then answers there is
            # test_tenantd_stops_serving_a_switched_off_surface's business.
            if covering.match(_sample(pattern)):
                continue
            r = n.get(_sample(pattern))
            assert r.text == HOST_BODY, f"{name} off: {pattern} still went to tenantd"


def test_a_moved_surface_is_served_under_its_prefix(stack, served):
    base = set(_routes(stack))
    for name in OPTIONAL_SURFACES:
        env = {f"TENANTD_SURFACE_{name.upper()}_PREFIX": "/legacy/x"}
        moved = set(_routes(stack, env)) - base
        assert moved and all(p.startswith("/legacy/x/") for p in moved), (name, moved)
        n = served(env)
        for pattern in moved:
            r = n.get(_sample(pattern))
            assert _from_tenantd(r), f"{name} moved: {pattern} answered by the host"


# What a switched-off or moved surface answers, from tenantd itself (CGI mode: one request in
# its environment): the first route of each optional surface, with no credential.
def _first_route(stack, name, env=None):
    base = set(_routes(stack))
    off = set(_routes(stack, {f"TENANTD_SURFACE_{name.upper()}_ENABLED": "0"}))
    return sorted(base - off)[0]


@pytest.mark.parametrize("name", OPTIONAL_SURFACES)
def test_tenantd_stops_serving_a_switched_off_surface(stack, tmp_path, name):
    path = _sample(_first_route(stack, name))
    status, _, body = cgi(stack, tmp_path, {"REQUEST_URI": path})
    assert status == 401, (path, status, body[:200])
    status, _, body = cgi(stack, tmp_path, {"REQUEST_URI": path},
                          extra_conf=f"surface.{name}.enabled = 0\n")
    assert status in (404, 405), (path, status, body[:200])


@pytest.mark.parametrize("name", OPTIONAL_SURFACES)
def test_tenantd_serves_a_moved_surface_under_its_prefix_only(stack, tmp_path, name):
    path = _sample(_first_route(stack, name))
    conf = f"surface.{name}.prefix = /legacy/x\n"
    moved, _, body = cgi(stack, tmp_path, {"REQUEST_URI": "/legacy/x" + path}, extra_conf=conf)
    assert moved == 401, (path, moved, body[:200])
    # The surface's own envelope, not the canonical problem of an unknown path.
    plain, _, plain_body = cgi(stack, tmp_path, {"REQUEST_URI": path})
    assert json.loads(body).keys() == json.loads(plain_body).keys()
    status, _, body = cgi(stack, tmp_path, {"REQUEST_URI": path}, extra_conf=conf)
    assert status in (404, 405), (path, status, body[:200])


def test_an_unknown_or_fixed_surface_is_refused_at_start(stack, tmp_path):
    for conf, why in (("surface.nosuch.enabled = 0\n", "no such surface"),
                      ("surface.api_v1.enabled = 0\n", "cannot be switched off"),
                      ("surface.mindzie.prefix = legacy\n", "expected a path")):
        p = subprocess.run([tenantd_binary(), "--config", stack.config, "--routes"], capture_output=True,
                           text=True, timeout=30,
                           env={**os.environ, **{k: v for k, v in [_env_of(conf)]}})
        assert p.returncode == 2 and why in p.stderr, (conf, p.returncode, p.stderr)


def _env_of(conf):
    key, _, value = conf.strip().partition(" = ")
    return "TENANTD_" + key.upper().replace(".", "_"), value
