"""Shared hosting (issue 13, docs/shared-hosting.md): tenantd with only the database and user a
host hands out (no CREATE DATABASE, no other schema), migrated by tenantctl as that user with
its settings from the environment alone, then spawned by Apache + mod_fcgid as www-data
through the shipped .fcgi wrapper, which finds its tenantd.conf beside itself (denied to
clients) and takes the password from FcgidInitialEnv. Provisioning a tenant without a
database of its own completes; one whose database the host has not made fails at once with
`create_denied`, and completes on retry once the host has made it.
"""

import os
import secrets
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import requests

from conftest import ROOT, _read_kv, unique_name
from helpers import assert_json, assert_problem, tenant_body, tenantd_binary
from test_connection_string import root_sql
from test_servers import APACHE, MODULES, Server, api_suite, apache_config, need, server_dir, www_data  # noqa: F401


@pytest.fixture
def hosted(stack):
    """The host's gift: database NAME and user NAME (localhost, 127.0.0.1) with all privileges
    on that database and nothing else."""
    root_sql(stack, "SELECT 1")
    name = f"sh_{uuid.uuid4().hex[:10]}"
    pw = secrets.token_hex(12)
    root_sql(stack, f"CREATE DATABASE {name}")
    for host in ("localhost", "127.0.0.1"):
        root_sql(stack, f"CREATE USER '{name}'@'{host}' IDENTIFIED BY '{pw}'; "
                        f"GRANT ALL ON `{name}`.* TO '{name}'@'{host}'")
    try:
        yield {"name": name, "user": name, "password": pw, "socket": stack.db_socket}
    finally:
        for db in root_sql(stack, f"SHOW DATABASES LIKE '{name}%'"):
            root_sql(stack, f"DROP DATABASE `{db[0]}`")
        for host in ("localhost", "127.0.0.1"):
            root_sql(stack, f"DROP USER IF EXISTS '{name}'@'{host}'")


def hosted_env(hosted):
    """tenantctl's whole configuration, from the environment (no file anywhere)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TENANTD_")}
    env.update(TENANTD_DB_SOCKET=hosted["socket"], TENANTD_DB_USER=hosted["user"],
               TENANTD_DB_PASSWORD=hosted["password"], TENANTD_DB_NAME=hosted["name"],
               ASAN_OPTIONS="detect_leaks=0")
    return env


def as_host_user(hosted, sql):
    return subprocess.run(["mariadb", "--no-defaults", f"--socket={hosted['socket']}", "-u", hosted["user"],
                           "-B", "-N", "-e", sql], capture_output=True, text=True, timeout=30,
                          env={**os.environ, "MYSQL_PWD": hosted["password"]})


def test_migrations_run_as_the_hosts_user_from_the_environment(stack, hosted):
    refused = as_host_user(hosted, f"CREATE DATABASE {hosted['name']}_other")
    assert refused.returncode != 0 and "denied" in refused.stderr, "the host's user may create databases"
    env = hosted_env(hosted)
    mig = subprocess.run([stack.tenantctl, "migrate", "--dir", str(ROOT / "sql")], env=env,
                         capture_output=True, text=True, timeout=300)
    assert mig.returncode == 0, mig.stdout + mig.stderr
    again = subprocess.run([stack.tenantctl, "migrate", "--dir", str(ROOT / "sql")], env=env,
                           capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    tables = {r[0] for r in root_sql(stack, "SELECT table_name FROM information_schema.tables "
                                            f"WHERE table_schema = '{hosted['name']}'")}
    assert {"tenants", "provisioning_jobs", "api_keys", "audit_events"} <= tables, tables


def wrapper_from_template(path):
    """The shipped wrapper, with this build's tenantd and no system configuration."""
    text = (ROOT / "contrib" / "apache" / "tenantd.fcgi.in").read_text()
    text = text.replace("@bindir@", str(Path(tenantd_binary()).parent)).replace("@sysconfdir@", "/nonexistent")
    path.write_text(text)
    path.chmod(0o755)


@pytest.fixture
def hosted_fcgid(stack, hosted, server_dir):
    need(APACHE)
    if not (MODULES / "mod_fcgid.so").exists():
        pytest.skip("mod_fcgid is not installed (libapache2-mod-fcgid)")
    d, user = server_dir, www_data()
    env = hosted_env(hosted)
    mig = subprocess.run([stack.tenantctl, "migrate", "--dir", str(ROOT / "sql")], env=env,
                         capture_output=True, text=True, timeout=300)
    assert mig.returncode == 0, mig.stderr
    account = unique_name("sh")
    made = subprocess.run([stack.tenantctl, "account", "create", account], env=env, capture_output=True,
                          text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    key = subprocess.run([stack.tenantctl, "key", "create", "--account", account, "--kind", "account",
                          "--permissions", "all"], env=env, capture_output=True, text=True, timeout=60)
    assert key.returncode == 0, key.stderr
    stack_conf = _read_kv(stack.config)
    # Beside the wrapper, readable by www-data; the password is not in it.
    conf = d / "htdocs" / "tenantd.conf"
    conf.write_text("\n".join([
        "workers = 1",
        f"log.file = {d}/tenantd.log",
        f"db.socket = {hosted['socket']}",
        f"db.user = {hosted['user']}",
        f"db.name = {hosted['name']}",
        "rate_limit.per_minute = 0",
        # Tenant databases: the host's naming, made by the host, reached as the same user.
        "provision.db_hosts = localhost",
        f"provision.db_ports = {stack_conf.get('provision.db_ports', '3306')}",
        f"provision.db_name_pattern = {hosted['name']}_t%",
        f"provision.sql_dir = {ROOT / 'sql' / 'tenant'}",
        f"secrets.key = {secrets.token_hex(32)}",
        ""]))
    conf.chmod(0o640)
    os.chown(conf, 0, user.pw_gid)
    wrapper_from_template(d / "htdocs" / "tenantd.fcgi")
    (d / "fcgid").mkdir()
    for p in (d / "fcgid", d):
        os.chown(p, user.pw_uid, user.pw_gid)
    s = Server("Apache mod_fcgid (shared hosting)", d, [APACHE, "-d", str(d), "-f", str(d / "server.conf"),
                                                         "-DFOREGROUND"], d / "error.log")
    s.start(apache_config(d, f"""
FcgidIPCDir "{d}/fcgid"
FcgidProcessTableFile "{d}/fcgid/shm"
FcgidMaxRequestLen 8388608
FcgidMaxProcessesPerClass 2
FcgidIdleTimeout 600
FcgidInitialEnv TENANTD_DB_PASSWORD {hosted['password']}
FcgidInitialEnv ASAN_OPTIONS detect_leaks=0
<Directory "{d}/htdocs">
    Options +ExecCGI
    AddHandler fcgid-script .fcgi
    CGIPassAuth On
    RewriteEngine On
    RewriteCond %{{REQUEST_FILENAME}} !-f
    RewriteRule ^ tenantd.fcgi [L]
    <Files "tenantd.conf">
        Require all denied
    </Files>
</Directory>
""", ("mime", "rewrite", "fcgid")))
    s.key = key.stdout.strip().splitlines()[-1]
    yield s
    s.stop()


def job(url, key, slug):
    r = requests.get(f"{url}/api/v1/tenants/{slug}/provisioning", headers={"Authorization": f"Bearer {key}"},
                     timeout=30)
    return assert_json(r, 200)


def settle(url, key, slug, statuses=("Completed", "Failed"), secs=60):
    deadline = time.monotonic() + secs
    while True:
        j = job(url, key, slug)
        if j["status"] in statuses:
            return j
        assert time.monotonic() < deadline, f"the job of {slug} did not settle: {j}"
        time.sleep(0.3)


def test_the_api_and_provisioning_under_mod_fcgid_as_the_hosts_user(stack, hosted, hosted_fcgid):
    url, key = hosted_fcgid.url, hosted_fcgid.key
    auth = {"Authorization": f"Bearer {key}"}
    assert requests.get(url + "/tenantd.conf", timeout=30).status_code == 403, "the configuration is served"
    api_suite(url, type("Admin", (), {"key": key}))

    # No database of its own: nothing to create.
    slug = unique_name("sh")
    assert_json(requests.post(url + "/api/v1/tenants", json=tenant_body(slug), headers=auth, timeout=30), 202)
    j = settle(url, key, slug)
    assert j["status"] == "Completed" and j["error"] is None, j

    # A database of its own the host has not made: a clear reason at once, no retries.
    slug = unique_name("sh")
    own = f"{hosted['name']}_t{uuid.uuid4().hex[:6]}"
    conn = f"Server=localhost;Database={own};User Id=app;Password=app-pw"
    assert_json(requests.post(url + "/api/v1/tenants", json=tenant_body(slug, connectionString=conn),
                              headers=auth, timeout=30), 202)
    j = settle(url, key, slug)
    assert j["status"] == "Failed" and j["errorCode"] == "create_denied" and j["attempts"] == 1, j
    assert j["error"].startswith("create_denied: ") and "have it created" in j["error"], j
    step = next(s for s in j["steps"] if s["step"] == "database")
    assert step["status"] == "Failed", j

    # The host makes it (the user holds all privileges on it): retried, it completes there.
    root_sql(stack, f"CREATE DATABASE `{own}`; GRANT ALL ON `{own}`.* TO '{hosted['user']}'@'localhost'")
    r = requests.post(f"{url}/api/v1/tenants/{slug}/provisioning/retry", headers=auth, timeout=30)
    assert_json(r, 202)
    j = settle(url, key, slug)
    assert j["status"] == "Completed" and j["error"] is None, j
    tables = root_sql(stack, f"SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = '{own}'")
    assert int(tables[0][0]) > 0, "the tenant schema was not applied in the host's database"

    # /metrics from this host through Apache: no credential needed.
    r = requests.get(url + "/metrics", timeout=30)
    assert r.status_code == 200 and "tenantd_requests_total" in r.text, r.text[:300]
    r = requests.get(url + "/api/v1/tenants/count", headers={"Authorization": "Bearer tk_live_" + "x" * 43},
                     timeout=30)
    assert_problem(r, 401)
