"""Issue #10: a connectionString is a request to create a database, never a login.

What a caller holding Multitenancy.Create may name is refused at the request (422) unless
host, port and database name are allowed; tenantd provisions with its own account, never
with the user or password in the string; a failed job shows a category and a fixed
sentence only; the string is sealed at rest and masked on every way out; rows from before
are sealed by `tenantctl migrate`, and `tenantctl secrets rotate` re-seals them.
"""

import os
import re
import secrets
import socket
import subprocess
import tempfile
import time

import pytest

from conftest import _read_kv
from helpers import assert_json, assert_problem, describe, parse_xml, sql_quote, tenant_body

LIST = "/api/v1/tenants"
ISSUE_BODY = {"id": "x1", "name": "X One", "adminEmail": "a@b.example",
              "connectionString": "Server=localhost;Database=mysql;User Id=root"}
SETTLED = ("Completed", "Failed")
# What a job error may look like: a category, then a fixed sentence.
JOB_ERROR = re.compile(r"^(not_allowed|unreachable|access_denied|create_denied|migration_failed|timeout|internal): "
                       r"[A-Z][A-Za-z ;'.,-]*\.$")


def dbname(slug):
    return "tenant_" + slug.replace("-", "_")


def conf(stack):
    return _read_kv(stack.config)


def allowed_ports(stack):
    return [int(p) for p in conf(stack).get("provision.db_ports", "3306").replace(" ", "").split(",") if p]


def root_sql(stack, sql, db=None):
    """As MariaDB's root over the stack's socket (the project-local server has no root password)."""
    cmd = ["mariadb", "--no-defaults", f"--socket={stack.db_socket}", "-uroot", "-B", "-N", "-e", sql]
    if db:
        cmd[4:4] = ["-D", db]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    if p.returncode != 0:
        pytest.skip(f"no root access to the stack's MariaDB: {p.stderr.strip()}")
    return [line.split("\t") for line in p.stdout.splitlines()]


def wait_job(api, key, slug, until=lambda j: j["status"] in SETTLED, secs=40):
    """Polls the tenant's provisioning job until `until` holds (bounded)."""
    deadline = time.monotonic() + secs
    while True:
        j = assert_json(api.get(f"{LIST}/{slug}/provisioning", key=key), 200)
        if until(j):
            return j
        assert time.monotonic() < deadline, f"job of {slug} did not settle: {j}"
        time.sleep(0.2)


REFUSED = [
    ("Server=localhost;Database=mysql;User Id=root", "system schema"),
    ("Server=localhost;Database=MYSQL", "system schema"),
    ("Server=localhost;Database=information_schema", "system schema"),
    ("Server=localhost;Database=performance_schema", "system schema"),
    ("Server=localhost;Database=sys", "system schema"),
    ("Server=localhost;Database=tenantd", "own database"),
    ("Server=localhost;Database=app", "must match tenant_%"),
    ("Server=localhost;Database=tenantx", "must match tenant_%"),
    ("Server=db.example;Database=tenant_x", "host is not allowed"),
    ("Server=10.0.0.1;Database=tenant_x", "host is not allowed"),
    ("Server=localhost;Port=1;Database=tenant_x", "port is not allowed"),
    ("Server=localhost;Port=22;Database=tenant_x", "port is not allowed"),
    ("Server=localhost;Database=tenant_x;SslMode=None", "only have the keys"),
    ("Server=localhost;Database=tenant_x;Database=tenant_y", "twice"),
    ("Server=localhost;Database=tenant_`x`", "letters, digits or underscores"),
    ("mysql://root:pw@localhost/mysql", "Key=Value"),
]
IDS = ["issue", "MYSQL", "information_schema", "performance_schema", "sys", "own-db", "outside-pattern",
       "no-underscore", "host", "host-ip", "port-1", "port-22", "unknown-key", "duplicate", "backticks", "url"]


def assert_refused(r, why):
    p = assert_problem(r, 422)
    msgs = p.get("errors", {}).get("connectionString")
    assert msgs and any(why in m for m in msgs), describe(r)


def test_issue_body_is_refused(api, admin, db):
    body = dict(ISSUE_BODY, id=f"x1-{secrets.token_hex(4)}")
    r = api.post(LIST, key=admin.key, json=body)
    assert_refused(r, "system schema")
    assert db.one(f"SELECT pk FROM tenants WHERE slug = {sql_quote(body['id'])}") is None


@pytest.mark.parametrize("conn,why", REFUSED, ids=IDS)
def test_refused_on_post(api, admin, slug, db, conn, why):
    assert_refused(api.post(LIST, key=admin.key, json=tenant_body(slug, connectionString=conn)), why)
    assert db.one(f"SELECT pk FROM tenants WHERE slug = {sql_quote(slug)}") is None


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
@pytest.mark.parametrize("conn,why", REFUSED, ids=IDS)
def test_refused_on_put_and_patch(api, admin, slug, db, create_tenant, method, conn, why):
    create_tenant(admin, slug)
    body = tenant_body(slug, connectionString=conn) if method == "PUT" else {"connectionString": conn}
    assert_refused(api.request(method, f"{LIST}/{slug}", key=admin.key, json=body), why)
    assert db.one(f"SELECT connection_string FROM tenants WHERE slug = {sql_quote(slug)}") == \
        {"connection_string": None}


def test_refused_in_xml(api, admin, slug):
    xml = (f"<tenant><id>{slug}</id><name>X {slug}</name><adminEmail>a@{slug}.example</adminEmail>"
           "<connectionString>Server=localhost;Database=mysql;User Id=root</connectionString></tenant>")
    r = api.post(LIST, key=admin.key, data=xml.encode(), headers={"Content-Type": "application/xml"})
    assert_refused(r, "system schema")


def test_root_credentials_are_never_used(api, admin, slug, db, stack):
    """User Id=root with a wrong password: provisioning succeeds, so it used tenantd's own account;
    MariaDB's general log shows no login as root, failed or not, while it ran."""
    root_sql(stack, "SELECT 1")
    root_sql(stack, "SET GLOBAL log_output = 'TABLE'; TRUNCATE mysql.general_log; SET GLOBAL general_log = 1")
    try:
        pw = "wrong-root-pw-" + secrets.token_hex(4)
        conn = f"Server=localhost;Database={dbname(slug)};User Id=root;Password={pw}"
        assert_json(api.post(LIST, key=admin.key, json=tenant_body(slug, connectionString=conn)), 202)
        job = wait_job(api, admin.key, slug)
        assert job["status"] == "Completed" and job["error"] is None and job["errorCode"] is None, job
    finally:
        rows = root_sql(stack, "SET GLOBAL general_log = 0; SELECT thread_id, argument FROM mysql.general_log "
                               "WHERE command_type = 'Connect' AND thread_id <> CONNECTION_ID()")
        root_sql(stack, "TRUNCATE mysql.general_log")
    logins = [a for _, a in rows]
    assert not [a for a in logins if a.startswith("root@") or "'root'" in a or "Access denied" in a], logins
    assert any(a.startswith("tenantd_prov@") and dbname(slug) in a for a in logins), logins
    tables = {r[0] for r in root_sql(stack, "SELECT table_name FROM information_schema.tables "
                                            f"WHERE table_schema = '{dbname(slug)}'")}
    assert {"cases", "settings"} <= tables, tables


def test_database_derived_from_slug(api, admin, slug, stack):
    assert_json(api.post(LIST, key=admin.key, json=tenant_body(
        slug, connectionString="Server=localhost;User Id=app;Password=app-pw")), 202)
    job = wait_job(api, admin.key, slug)
    assert job["status"] == "Completed", job
    assert root_sql(stack, f"SHOW DATABASES LIKE '{dbname(slug)}'") == [[dbname(slug)]]


def test_derived_name_too_long_is_refused(api, admin):
    slug = "t" + secrets.token_hex(30)     # 61 characters: "tenant_" + it exceeds 64
    r = api.post(LIST, key=admin.key, json=tenant_body(slug, connectionString="Server=localhost"))
    assert_refused(r, "names no Database")


def dead_port(stack):
    for port in allowed_ports(stack):
        with socket.socket() as s:
            s.settimeout(1)
            if s.connect_ex(("127.0.0.1", port)) != 0:
                return port
    pytest.skip(f"every allowed port ({allowed_ports(stack)}) has a listener")


def test_unreachable_server_shows_a_category_only(api, admin, slug, stack):
    port = dead_port(stack)
    pw = "never-shown-" + secrets.token_hex(4)
    conn = f"Server=127.0.0.1;Port={port};Database={dbname(slug)};User Id=root;Password={pw}"
    assert_json(api.post(LIST, key=admin.key, json=tenant_body(slug, connectionString=conn)), 202)
    job = wait_job(api, admin.key, slug, until=lambda j: j["error"] is not None)
    err = job["error"]
    assert JOB_ERROR.match(err), err
    assert err.startswith("unreachable: "), err
    assert job["errorCode"] == "unreachable", job
    text = api.get(f"{LIST}/{slug}/provisioning", key=admin.key).text
    for leak in (pw, "root", str(port), "127.0.0.1", "Can't connect", "(111)", "/", "mysql", "MariaDB"):
        assert leak not in err, f"{leak!r} in job error {err!r}"
    assert pw not in text
    if stack.log and os.path.exists(stack.log):
        log = open(stack.log, errors="replace").read()
        assert pw not in log, "the password reached tenantd's log"


def test_sealed_at_rest_and_masked_everywhere(api, admin, slug, db):
    pw, user = "hunter2-" + secrets.token_hex(4), "appuser" + secrets.token_hex(3)
    conn = f"Server=localhost;Database={dbname(slug)};User Id={user};Password={pw}"
    r = api.post(LIST, key=admin.key, json=tenant_body(slug, connectionString=conn))
    assert_json(r, 202)
    stored = db.scalar(f"SELECT connection_string FROM tenants WHERE slug = {sql_quote(slug)}")
    assert stored.startswith("enc:v1:"), stored
    assert pw not in stored and user not in stored and "localhost" not in stored, stored
    masked = f"Server=localhost;Database={dbname(slug)};User Id=***;Password=***"
    j = api.get(f"{LIST}/{slug}", key=admin.key)
    assert assert_json(j, 200)["connectionString"] == masked
    x = api.get(f"{LIST}/{slug}", key=admin.key, headers={"Accept": "application/xml"})
    assert x.status_code == 200, describe(x)
    el = [e for e in parse_xml(x).iter() if str(e.tag).endswith("connectionString")]
    assert [e.text for e in el] == [masked], x.text
    wait_job(api, admin.key, slug)
    for path in (LIST, f"{LIST}?pageSize=100", f"{LIST}/{slug}/provisioning", "/api/v1/audit?limit=100",
                 "/api/v1/audit"):
        for accept in ("application/json", "application/xml"):
            resp = api.get(path, key=admin.key, headers={"Accept": accept})
            assert resp.status_code == 200, describe(resp)
            assert pw not in resp.text and user not in resp.text, f"{path} shows the secret{describe(resp)}"
    # PATCH another field: the sealed string stays sealed and reads the same.
    assert api.patch(f"{LIST}/{slug}", key=admin.key, json={"city": "Berlin"}).status_code == 200
    again = db.scalar(f"SELECT connection_string FROM tenants WHERE slug = {sql_quote(slug)}")
    assert again.startswith("enc:v1:") and pw not in again
    assert assert_json(api.get(f"{LIST}/{slug}", key=admin.key), 200)["connectionString"] == masked


def test_ciphertext_is_bound_to_its_tenant(api, admin, new_key, db):
    """A sealed value copied onto another tenant's row does not open there: it shows as ***."""
    a, b = f"t-{secrets.token_hex(6)}", f"t-{secrets.token_hex(6)}"
    for s in (a, b):
        assert_json(api.post(LIST, key=admin.key, json=tenant_body(
            s, connectionString=f"Server=localhost;Database={dbname(s)};Password=pw-{s}")), 202)
    db.query(f"UPDATE tenants t JOIN tenants u ON u.slug = {sql_quote(a)} SET t.connection_string = "
             f"u.connection_string WHERE t.slug = {sql_quote(b)}")
    try:
        assert assert_json(api.get(f"{LIST}/{b}", key=admin.key), 200)["connectionString"] == "***"
    finally:
        # A row no key opens would (rightly) fail `tenantctl secrets rotate` in a later test.
        db.query(f"UPDATE tenants SET connection_string = NULL WHERE slug = {sql_quote(b)}")


def ctl_with(stack, extra):
    """tenantctl with the stack's config plus extra lines (another key ring)."""
    fd, path = tempfile.mkstemp(prefix="tenantd-conf-")
    with os.fdopen(fd, "w") as f:
        f.write(open(stack.config).read() + "\n" + extra + "\n")
    return path


def run_ctl(stack, config, *args):
    p = subprocess.run([stack.tenantctl, "--config", config, *args], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, f"tenantctl {' '.join(args)}: {p.returncode}\n{p.stdout}\n{p.stderr}"
    return p.stdout


def test_migrate_seals_rows_in_the_clear(api, admin, slug, db, stack):
    assert_json(api.post(LIST, key=admin.key, json=tenant_body(slug)), 202)
    legacy = f"Server=localhost;Database={dbname(slug)};User Id=legacy;Password=legacy-pw-{slug}"
    db.query(f"UPDATE tenants SET connection_string = {sql_quote(legacy)} WHERE slug = {sql_quote(slug)}")
    masked = f"Server=localhost;Database={dbname(slug)};User Id=***;Password=***"
    assert assert_json(api.get(f"{LIST}/{slug}", key=admin.key), 200)["connectionString"] == masked
    out = run_ctl(stack, stack.config, "migrate", "--dir", str(os.path.join(os.path.dirname(__file__),
                                                                        "..", "..", "sql")))
    assert "sealed" in out, out
    stored = db.scalar(f"SELECT connection_string FROM tenants WHERE slug = {sql_quote(slug)}")
    assert stored.startswith("enc:v1:") and "legacy-pw" not in stored, stored
    assert assert_json(api.get(f"{LIST}/{slug}", key=admin.key), 200)["connectionString"] == masked
    # Idempotent: a second run seals nothing more and changes nothing.
    run_ctl(stack, stack.config, "migrate", "--dir", os.path.join(os.path.dirname(__file__), "..", "..", "sql"))
    assert db.scalar(f"SELECT connection_string FROM tenants WHERE slug = {sql_quote(slug)}") == stored


def test_secrets_rotate(api, admin, slug, db, stack):
    conn = f"Server=localhost;Database={dbname(slug)};User Id=app;Password=rotate-{slug}"
    masked = f"Server=localhost;Database={dbname(slug)};User Id=***;Password=***"
    assert_json(api.post(LIST, key=admin.key, json=tenant_body(slug, connectionString=conn)), 202)
    wait_job(api, admin.key, slug)
    before = db.scalar(f"SELECT connection_string FROM tenants WHERE slug = {sql_quote(slug)}")
    active = before.split(":")[2]
    # A fixed test key: rows a crashed run left sealed with it still open on the next run.
    k2 = "5e" * 32
    to_k2 = ctl_with(stack, f"secrets.key.rot2 = {k2}\nsecrets.active = rot2")
    back = ctl_with(stack, f"secrets.key.rot2 = {k2}\nsecrets.active = {active}")
    try:
        out = run_ctl(stack, to_k2, "secrets", "rotate")
        assert "with key rot2" in out, out
        mid = db.scalar(f"SELECT connection_string FROM tenants WHERE slug = {sql_quote(slug)}")
        assert mid.startswith("enc:v1:rot2:") and mid != before, mid
        # The old key still opens what rot2 did not seal, and rot2's rows open with rot2 known:
        # rotating back re-seals every row with the running tenantd's key.
        out = run_ctl(stack, back, "secrets", "rotate")
        assert f"with key {active}" in out, out
    finally:
        os.unlink(to_k2)
        os.unlink(back)
    after = db.scalar(f"SELECT connection_string FROM tenants WHERE slug = {sql_quote(slug)}")
    assert after.startswith(f"enc:v1:{active}:") and after not in (before, mid), after
    assert assert_json(api.get(f"{LIST}/{slug}", key=admin.key), 200)["connectionString"] == masked
