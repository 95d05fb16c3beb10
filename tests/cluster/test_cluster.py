"""tenantd on a Galera cluster (tests/cluster/run, docs/scaling.md): two app nodes, A on
database node 1 and B on database node 2, behind one nginx. Certification conflicts are
retried whole; a revoked key is refused by the other node within auth.cache_ttl; rate limits
are per node; a create load survives the death of database node 1 and then of app node A
with every acknowledged create on every surviving database node. The last test kills nodes:
it stays last.
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from fcgi_client import Conn, request_bytes  # noqa: E402
from helpers import tenant_body  # noqa: E402

CL = Path(os.environ.get("CLUSTER_DIR", "/nonexistent"))
URL = os.environ.get("CLUSTER_URL", "")
LIST = "/api/v1/tenants"

pytestmark = pytest.mark.skipif(not URL, reason="run by tests/cluster/run (./scripts/test --cluster)")


def sock(app):
    return str(CL / f"app{app}" / "run" / "tenantd.sock")


def call(app, method, path, key=None, body=None):
    """A request straight on app node A's or B's socket, on a connection of its own."""
    params = {"REMOTE_ADDR": "127.0.0.1"}
    if key:
        params["HTTP_AUTHORIZATION"] = f"Bearer {key}"
    data = json.dumps(body).encode() if body is not None else b""
    c = Conn(sock(app), timeout=60)
    try:
        c.send(request_bytes(1, path, method=method, headers=params, body=data, keep=False))
        status, headers, out, _ = c.response(1)
    finally:
        c.close()
    return status, headers, out


def sql(node, query):
    p = subprocess.run(["mariadb", f"--defaults-file={CL / f'db{node}' / 'my.cnf'}", "-D", "tenantd", "-N", "-B",
                        "-e", query], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, f"db{node}: {p.stderr}"
    return [line.split("\t") for line in p.stdout.splitlines()]


def tenantctl(*args):
    p = subprocess.run([os.environ["TENANTCTL"], "--config", str(CL / "appA" / "tenantd.conf"), *args],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return p.stdout.strip().splitlines()


def admin_key(perms="all"):
    account = f"cl-{uuid.uuid4().hex[:10]}"
    tenantctl("account", "create", account)
    return tenantctl("key", "create", "--account", account, "--kind", "account", "--permissions", perms)[-1]


def metric(app, name, **labels):
    status, _, out = call(app, "GET", "/metrics")
    assert status == 200
    want = name + ("{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}" if labels else "")
    for line in out.decode().splitlines():
        if line.startswith(want + " "):
            return float(line.split()[-1])
    return 0.0


def settle(check, what, secs):
    deadline = time.monotonic() + secs
    while True:
        got = check()
        if got:
            return got
        assert time.monotonic() < deadline, f"{what}: not within {secs} s"
        time.sleep(0.2)


def test_both_nodes_serve_the_same_data():
    key = admin_key()
    slug = f"cl-{uuid.uuid4().hex[:12]}"
    status, _, _ = call("A", "POST", LIST, key, tenant_body(slug))
    assert status == 202
    # wsrep_sync_wait: B reads through database node 2 what A wrote through node 1.
    status, _, out = call("B", "GET", f"{LIST}/{slug}", key)
    assert status == 200 and json.loads(out)["id"] == slug
    for node in (1, 2, 3):
        assert sql(node, f"SELECT COUNT(*) FROM tenants WHERE slug = '{slug}'") == [["1"]], f"db{node}"


def test_concurrent_changes_on_two_nodes_lose_nothing():
    """PATCHes of one tenant through A and B at once: Galera certifies one of two concurrent
    commits and the other gets 1213 on COMMIT; tenantd runs that whole transaction again, so
    every PATCH is answered 200 and the version counts every one of them."""
    key = admin_key()
    slug = f"cl-{uuid.uuid4().hex[:12]}"
    assert call("A", "POST", LIST, key, tenant_body(slug))[0] == 202
    v0 = int(sql(1, f"SELECT version FROM tenants WHERE slug = '{slug}'")[0][0])
    retries0 = metric("A", "tenantd_db_retries_total", code="1213") + \
        metric("B", "tenantd_db_retries_total", code="1213")
    n, statuses, lock = 15, [], threading.Lock()

    def writer(app):
        for i in range(n):
            status, _, out = call(app, "PATCH", f"{LIST}/{slug}", key, {"description": f"{app} {i}"})
            with lock:
                statuses.append((app, status, out[:200]))

    threads = [threading.Thread(target=writer, args=(app,)) for app in ("A", "B")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    bad = [s for s in statuses if s[1] != 200]
    assert not bad and len(statuses) == 2 * n, bad
    for node in (1, 2, 3):
        assert int(sql(node, f"SELECT version FROM tenants WHERE slug = '{slug}'")[0][0]) == v0 + 2 * n, f"db{node}"
    retries = metric("A", "tenantd_db_retries_total", code="1213") + \
        metric("B", "tenantd_db_retries_total", code="1213") - retries0
    print(f"certification conflicts retried: {retries:.0f}")


def test_a_revoked_key_is_refused_by_the_other_node_within_the_cache_ttl():
    admin = admin_key()
    status, _, out = call("A", "POST", "/api/v1/api-keys", admin, {"kind": "account", "permissions": ["View"]})
    assert status == 201
    made = json.loads(out)
    for _ in range(4):   # cached in B's workers
        assert call("B", "GET", "/api/v1/tenants/count", made["key"])[0] in (200, 429)
    assert call("A", "DELETE", f"/api/v1/api-keys/{made['id']}", admin)[0] in (200, 204)
    revoked = time.monotonic()
    # The node that revoked it refuses it at once, in every worker.
    for _ in range(6):
        assert call("A", "GET", "/api/v1/tenants/count", made["key"])[0] == 401
    # The other node: when its cache entries expire (auth.cache_ttl, 5 s).
    settle(lambda: all(call("B", "GET", "/api/v1/tenants/count", made["key"])[0] == 401 for _ in range(6)),
           "B refuses the revoked key", 15)
    assert time.monotonic() - revoked <= 5 + 3


def setting(name):
    for line in (CL / "appA" / "tenantd.conf").read_text().splitlines():
        k, _, v = line.partition("=")
        if k.strip() == name:
            return v.strip()
    return None


def test_rate_limits_are_per_node():
    """rate_limit.per_minute on each node: a principal gets that many a minute from each
    node, shared by the node's workers (each request on a connection of its own)."""
    limit = int(setting("rate_limit.per_minute"))
    key = admin_key()

    def burst(app):
        return [call(app, "GET", "/api/v1/tenants/count", key)[0] for _ in range(limit + 1)]

    assert burst("A") == [200] * limit + [429]
    assert burst("B") == [200] * limit + [429]


def pid_of(path):
    return int(Path(path).read_text().strip())


def test_zz_acknowledged_creates_survive_a_database_node_and_an_app_node_dying():
    keys = [admin_key() for _ in range(4)]     # rate limits are per principal and node
    acked, others, lock, stop = [], [], threading.Lock(), threading.Event()

    def client(n):
        key = keys[n]
        s = requests.Session()
        i = 0
        while not stop.is_set():
            slug = f"ld-{n}-{i}-{uuid.uuid4().hex[:8]}"
            i += 1
            try:
                r = s.post(URL + LIST, json=tenant_body(slug), timeout=60,
                           headers={"Authorization": f"Bearer {key}"})
                code = r.status_code
            except requests.RequestException as e:
                code = repr(e)[:80]
            with lock:
                (acked if code == 202 else others).append((slug, code))

    def acked_beyond(n):
        return lambda: len(acked) >= n

    threads = [threading.Thread(target=client, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    try:
        settle(acked_beyond(20), "20 creates before any failure", 120)
        os.kill(pid_of(CL / "db1" / "mysqld.pid"), signal.SIGKILL)
        mark = len(acked)
        settle(acked_beyond(mark + 20), "20 creates after database node 1 died", 180)
        master = pid_of(CL / "appA" / "run" / "tenantd.pid")
        os.killpg(master, signal.SIGKILL)     # the master, its workers, its provisioner
        mark = len(acked)
        settle(acked_beyond(mark + 20), "20 creates after app node A died", 180)
    finally:
        stop.set()
        for t in threads:
            t.join(120)
    slugs = [s for s, _ in acked]
    print(f"{len(acked)} creates acknowledged, {len(others)} not: "
          f"{sorted({str(c) for _, c in others})}")
    quoted = ",".join(f"'{s}'" for s in slugs)
    for node in (2, 3):
        found = {r[0] for r in sql(node, f"SELECT slug FROM tenants WHERE slug IN ({quoted})")}
        missing = sorted(set(slugs) - found)
        assert not missing, f"db{node} lacks {len(missing)} acknowledged creates: {missing[:10]}"
        # Each with its audit event, committed in the same transaction.
        audited = sql(node, "SELECT COUNT(DISTINCT target_id) FROM audit_events WHERE action = 'tenant.create' "
                            f"AND target_id IN ({quoted})")
        assert int(audited[0][0]) == len(slugs), f"db{node}: {audited[0][0]} audited of {len(slugs)}"
    assert sql(2, "SELECT COUNT(*) FROM tenants") == sql(3, "SELECT COUNT(*) FROM tenants")
    # Nothing failed but for a node going (502/503/504, a connection error) or a rate limit.
    assert all(c in (429, 502, 503, 504) or isinstance(c, str) for _, c in others), others[:10]
