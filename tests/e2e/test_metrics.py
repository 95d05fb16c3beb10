"""/metrics (issue 13): Prometheus text format, counters summed over the workers, exact
request counts, a monotonic latency histogram, database and key-cache counters, worker
restarts, the provisioning queue; loopback peers without a credential, anyone else with
Permissions.Multitenancy.Metrics (401 without a credential, 403 without the permission).
"""

import os
import re
import signal
import time
import uuid

import pytest

from conftest import _tenantd_worker_pids
from fcgi_client import direct_request
from helpers import assert_problem, describe, sql_quote

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
ELSEWHERE = "192.0.2.10"


def parse(text):
    """{(name, frozenset of (label, value)): value}, after checking every line's syntax and
    that each family's samples follow its one # TYPE line."""
    samples, types = {}, {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            assert name not in types, f"two TYPE lines for {name}"
            assert kind in ("counter", "gauge", "histogram"), line
            types[name] = kind
            continue
        if line.startswith("# HELP ") or not line:
            continue
        m = SAMPLE.match(line)
        assert m, f"not a sample line: {line!r}"
        name, labels, value = m.groups()
        family = re.sub(r"_(bucket|sum|count)$", "", name) if name not in types else name
        assert family in types, f"{name} has no # TYPE line before it"
        key = (name, frozenset(LABEL.findall(labels or "")))
        assert key not in samples, f"a sample twice: {line!r}"
        samples[key] = float(value)
    return samples


def value(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())), 0.0)


def scrape(api):
    r = api.get("/metrics")
    assert r.status_code == 200, describe(r)
    assert r.headers["Content-Type"].replace(" ", "") == "text/plain;version=0.0.4;charset=utf-8", describe(r)
    return parse(r.text)


def requests_total(samples):
    return sum(v for (n, _), v in samples.items() if n == "tenantd_requests_total")


def counted(samples, method, route, status):
    return value(samples, "tenantd_requests_total", method=method, route=route, status=status)


def settle(what, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        got = what()
        if got:
            return got
        assert time.monotonic() < deadline, f"not settled within {timeout} s"
        time.sleep(0.2)


def test_requests_are_counted_exactly_by_route_and_status(api, stack, new_key):
    key = new_key("View").key
    missing = f"/api/v1/tenants/m-{uuid.uuid4().hex[:12]}"
    before = scrape(api)
    for _ in range(3):
        assert api.get("/api/v1/tenants/count", key=key).status_code == 200
    for _ in range(2):
        assert api.get(missing, key=key).status_code == 404
    # On connections of their own, so they land on whichever worker accepts them.
    for _ in range(4):
        assert direct_request(stack, "GET", "/api/v1/tenants/count", key=key).status_code == 200
    assert api.get("/api/v1/no-such-resource").status_code == 404
    assert api.get("/api/v1/tenants/count").status_code == 401
    after = scrape(api)

    def moved(*series):
        return counted(after, *series) - counted(before, *series)

    assert moved("GET", "/api/v1/tenants/count", "2xx") == 7
    assert moved("GET", "/api/v1/tenants/{id}", "4xx") == 2
    assert moved("GET", "/api/v1/tenants/count", "4xx") == 1
    assert moved("", "(none)", "4xx") == 1
    # The first scrape is counted once it is answered; the second is not yet.
    assert moved("GET", "/metrics", "2xx") == 1
    assert requests_total(after) - requests_total(before) == 7 + 2 + 1 + 1 + 1
    # Each request with the key looked it up in its worker's cache once.
    lookups = sum(value(s, "tenantd_keycache_lookups_total", result=k) * sign
                  for s, sign in ((after, 1), (before, -1)) for k in ("hit", "miss"))
    assert lookups == 9, lookups
    assert value(after, "tenantd_keycache_lookups_total", result="hit") > \
        value(before, "tenantd_keycache_lookups_total", result="hit")


def test_the_latency_histogram_is_cumulative_and_counts_every_request(api):
    before = scrape(api)
    for _ in range(5):
        api.get("/healthz")
    after = scrape(api)
    buckets = sorted(((float(dict(labels)["le"]), v) for (n, labels), v in after.items()
                      if n == "tenantd_request_duration_seconds_bucket"), key=lambda b: b[0])
    assert len(buckets) >= 10 and buckets[-1][0] == float("inf"), buckets
    counts = [v for _, v in buckets]
    assert counts == sorted(counts), f"buckets not monotonic: {buckets}"
    total = value(after, "tenantd_request_duration_seconds_count")
    assert counts[-1] == total
    assert total - value(before, "tenantd_request_duration_seconds_count") == 6
    assert total == requests_total(after)
    assert value(after, "tenantd_request_duration_seconds_sum") > \
        value(before, "tenantd_request_duration_seconds_sum")


def test_metrics_answer_text_whatever_accept_says(api):
    for accept in ("application/xml", "text/plain", "application/openmetrics-text; version=1.0.0"):
        r = api.get("/metrics", headers={"Accept": accept})
        assert r.status_code == 200, describe(r)
        assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4"), describe(r)
        parse(r.text)
    # Any other route still refuses what it cannot give.
    r = api.get("/healthz", headers={"Accept": "text/plain"})
    assert r.status_code == 406, describe(r)


def test_loopback_peers_need_no_credential(stack):
    for addr in ("127.0.0.1", "127.0.0.53", "::1", "::ffff:127.0.0.1"):
        r = direct_request(stack, "GET", "/metrics", remote_addr=addr)
        assert r.status_code == 200, f"{addr}{describe(r)}"
        assert "tenantd_requests_total" in r.text


def test_other_peers_need_the_metrics_permission(stack, new_key):
    r = direct_request(stack, "GET", "/metrics", remote_addr=ELSEWHERE)
    assert_problem(r, 401)
    assert r.headers.get("WWW-Authenticate", "").startswith("Bearer"), describe(r)
    assert "tenantd_" not in r.text

    everything_else = new_key("View,Create,Update,Delete,UpgradeSubscription,ManageKeys").key
    r = direct_request(stack, "GET", "/metrics", key=everything_else, remote_addr=ELSEWHERE)
    assert assert_problem(r, 403)["detail"].endswith("Permissions.Multitenancy.Metrics"), describe(r)
    assert "tenantd_" not in r.text

    for perms in ("Metrics", "all"):
        r = direct_request(stack, "GET", "/metrics", key=new_key(perms).key, remote_addr=ELSEWHERE)
        assert r.status_code == 200, describe(r)
        assert r.headers["content-type"].startswith("text/plain; version=0.0.4"), describe(r)
        parse(r.text)


def test_lost_database_connections_are_counted_and_mended(api, db, stack, new_key):
    key = new_key("View").key
    before = scrape(api)
    ids = [r["id"] for r in db.query(
        "SELECT id FROM information_schema.processlist WHERE id <> CONNECTION_ID() "
        f"AND user = {sql_quote(stack.db_user)} AND db = {sql_quote(stack.db_name)}")]
    assert ids, "tenantd holds no database connection"
    for i in ids:
        db.query(f"KILL CONNECTION {int(i)}")

    def reconnected():
        r = direct_request(stack, "GET", "/api/v1/tenants/count", key=key)
        assert r.status_code == 200, describe(r)
        s = scrape(api)
        return s if value(s, "tenantd_db_reconnects_total") > value(before, "tenantd_db_reconnects_total") else None

    after = settle(reconnected)
    assert value(after, "tenantd_db_errors_total", kind="lost") > \
        value(before, "tenantd_db_errors_total", kind="lost")


def test_a_worker_restart_is_counted_and_no_counter_goes_back(api, stack):
    pids = set(_tenantd_worker_pids(stack))
    if len(pids) < 2:
        pytest.skip("tenantd's workers cannot be found in this stack")
    before = scrape(api)
    victim = sorted(pids)[0]
    os.kill(victim, signal.SIGKILL)
    after = settle(lambda: (lambda s: s if value(s, "tenantd_worker_restarts_total") ==
                            value(before, "tenantd_worker_restarts_total") + 1 else None)(scrape(api)))
    settle(lambda: len(set(_tenantd_worker_pids(stack)) - {victim}) == len(pids))
    # The new worker took over its predecessor's slot: what the dead one counted stays.
    for k, v in before.items():
        if k[0].endswith("_total") or k[0].endswith("_bucket"):
            assert after.get(k, 0) >= v, f"{k} went back from {v} to {after.get(k)}"


def test_the_provisioning_queue_is_read_from_the_database(api, db):
    def agrees():
        s = scrape(api)
        rows = {r["status"]: int(r["n"]) for r in db.query(
            "SELECT status, COUNT(*) AS n FROM provisioning_jobs GROUP BY status")}
        want = {st: rows.get(st, 0) for st in ("Pending", "InProgress", "Failed")}
        got = {st: value(s, "tenantd_provisioning_jobs", status=st) for st in want}
        depth = value(s, "tenantd_provisioning_queue_depth")
        return s if got == want and depth == want["Pending"] + want["InProgress"] else None

    s = settle(agrees)
    assert value(s, "tenantd_db_up") == 1
    for name in ("tenantd_provisioning_failures_total", "tenantd_provisioning_completed_total",
                 "tenantd_db_reconnects_total", "tenantd_worker_restarts_total"):
        assert (name, frozenset()) in s, f"{name} is missing"
    for code in ("1205", "1213"):
        assert ("tenantd_db_retries_total", frozenset({("code", code)})) in s
