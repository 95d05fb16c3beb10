"""Provisioning an operator can follow and mend (issue 15, part).

- The job resource carries currentStep, attempts, startedAt, completedAt and, per step,
  {name, step, status, attempts, startedAt, completedAt, error}, in JSON and XML.
- POST /api/v1/tenants/{id}/provisioning/retry: a Failed job runs again from its failed step
  (202 with the job); 409 provisioning_not_failed while Pending, InProgress or Completed;
  404 for another account's tenant; audited with the retry.
- tenantctl provisioning list/show/retry.
- tenantd --provisioner runs the provisioning process alone.
- A connection string whose host the provisioner does not allow (provision.db_hosts changed
  after the request was accepted; here the request went through tenantd in CGI mode with one
  more host allowed) fails the job at once with not_allowed, without a connection attempt;
  fixed by a PUT and retried, the job completes and the tenant database has its schema.

A Failed job: a tenant whose connection string names an allowed host and a port in
provision.db_ports where nothing listens (scripts/test sets one aside).  The provisioner
gives up only after 5 attempts with backoff, so the test moves the job on to its last
attempt in the database and polls (bounded) for the settled state.
"""
import json
import os
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from helpers import (assert_json, assert_problem, cgi, describe, inline_secrets, parse_xml, sql_quote,
                     tenant_body, tenantd_binary)
from test_connection_string import dbname, dead_port, root_sql
from test_operations import OWN_KEYS, child_env, children, read, stop

LIST = "/api/v1/tenants"
STEPS = ["validate", "database", "seed", "activate"]
JOB_KEYS = ["correlationId", "id", "tenantId", "status", "currentStep", "attempts", "startedAt",
            "completedAt", "steps", "error", "errorCode", "createdAt", "updatedAt"]
STEP_KEYS = ["name", "step", "status", "attempts", "startedAt", "completedAt", "error"]
ROOT = Path(__file__).resolve().parents[2]


def poll(check, what, secs=60, every=0.2):
    """check()'s first true value within secs, else a failure naming what."""
    deadline = time.monotonic() + secs
    while True:
        got = check()
        if got:
            return got
        assert time.monotonic() < deadline, f"{what}: not within {secs} s"
        time.sleep(every)


def job(api, key, slug):
    return assert_json(api.get(f"{LIST}/{slug}/provisioning", key=key), 200)


def step(j, name):
    return next(s for s in j["steps"] if s["step"] == name)


def settled(api, key, slug):
    return poll(lambda: (lambda j: j if j["status"] in ("Completed", "Failed") else None)(job(api, key, slug)),
                f"the job of {slug} settles")


def failed_tenant(api, key, db, stack, slug):
    """A tenant whose job has Failed in its database step (unreachable)."""
    conn = f"Server=127.0.0.1;Port={dead_port(stack)};Database={dbname(slug)}"
    assert_json(api.post(LIST, key=key, json=tenant_body(slug, connectionString=conn)), 202)
    poll(lambda: job(api, key, slug)["error"], f"the first attempt of {slug} fails")

    def hurried():
        # Its next attempt is its last, and due now; an attempt in flight meanwhile only
        # delays this by one more round.
        db.query("UPDATE provisioning_jobs j JOIN tenants t ON t.pk = j.tenant_pk "
                 "SET j.attempts = GREATEST(j.attempts, 4), j.next_attempt_at = UTC_TIMESTAMP(3) "
                 f"WHERE t.slug = {sql_quote(slug)} AND j.status = 'Pending'")
        j = job(api, key, slug)
        return j if j["status"] == "Failed" else None
    return poll(hurried, f"the job of {slug} fails")


@pytest.fixture
def failed(api, admin, db, stack, slug):
    return slug, failed_tenant(api, admin.key, db, stack, slug)


def test_completed_job_has_every_step_record(api, admin, slug):
    assert_json(api.post(LIST, key=admin.key, json=tenant_body(slug)), 202)
    j = settled(api, admin.key, slug)
    assert list(j) == JOB_KEYS, j
    assert j["status"] == "Completed" and j["currentStep"] is None, j
    assert j["attempts"] == 1 and j["error"] is None and j["errorCode"] is None, j
    assert j["startedAt"] and j["completedAt"] and j["startedAt"] <= j["completedAt"], j
    assert [s["step"] for s in j["steps"]] == STEPS
    for s in j["steps"]:
        assert list(s) == STEP_KEYS, s
        assert s["name"] == s["step"], s
        assert (s["status"], s["attempts"], s["error"]) == ("Completed", 1, None), s
        assert j["startedAt"] <= s["startedAt"] <= s["completedAt"] <= j["completedAt"], (s, j)
    # The same through the correlation id, and in XML.
    same = assert_json(api.get(f"/api/v1/provisioning/{j['correlationId']}", key=admin.key), 200)
    assert same == j
    r = api.get(f"{LIST}/{slug}/provisioning", key=admin.key, headers={"Accept": "application/xml"})
    assert r.status_code == 200, describe(r)
    doc = parse_xml(r)
    assert doc.tag == "provisioning"
    assert [c.tag for c in doc] == JOB_KEYS
    nil = "{http://www.w3.org/2001/XMLSchema-instance}nil"
    assert doc.find("currentStep").get(nil) == "true"
    assert doc.find("attempts").text == "1"
    items = doc.find("steps").findall("step")
    assert [i.find("step").text for i in items] == STEPS
    assert [c.tag for c in items[0]] == STEP_KEYS
    assert items[0].find("error").get(nil) == "true"


def test_failed_job_shows_its_failed_step(api, admin, db, failed):
    slug, j = failed
    assert j["currentStep"] == "database", j
    assert j["errorCode"] == "unreachable" and j["error"].startswith("unreachable: "), j
    assert j["attempts"] == 5 and j["completedAt"] is None and j["startedAt"], j
    v, d, s, a = (step(j, n) for n in STEPS)
    assert (v["status"], v["attempts"], v["error"]) == ("Completed", 1, None), v
    assert d["status"] == "Failed" and d["attempts"] >= 2 and d["error"] == j["error"], d
    assert d["startedAt"] and d["completedAt"] is None, d
    for later in (s, a):
        assert (later["status"], later["attempts"], later["startedAt"]) == ("Pending", 0, None), later
    row = db.one("SELECT s.status, s.attempts, s.error FROM provisioning_steps s JOIN provisioning_jobs j "
                 f"ON j.id = s.job_id WHERE j.correlation_id = {sql_quote(j['correlationId'])} "
                 "AND s.step = 'database'")
    assert row == {"status": "Failed", "attempts": str(d["attempts"]), "error": j["error"]}
    assert db.scalar(f"SELECT provisioning_status FROM tenants WHERE slug = {sql_quote(slug)}") == "Failed"


def test_retry_runs_the_failed_step_again(api, admin, db, failed):
    slug, before = failed
    tries = step(before, "database")["attempts"]
    r = api.post(f"{LIST}/{slug}/provisioning/retry", key=admin.key)
    j = assert_json(r, 202)
    assert list(j) == JOB_KEYS, j
    assert j["correlationId"] == before["correlationId"]
    # The retry's answer: a new round (0 attempts so far), the job waiting for the provisioner
    # (or already taken by it).
    assert j["status"] in ("Pending", "InProgress") and j["attempts"] <= 1, j
    audit = db.query("SELECT action, target_id, detail FROM audit_events WHERE action = "
                     f"'tenant.provisioning.retry' AND target_id = {sql_quote(slug)}")
    assert len(audit) == 1 and before["correlationId"] in audit[0]["detail"], audit

    # It runs again, from the failed step, and fails the same way.
    again = poll(lambda: (lambda x: x if step(x, "database")["attempts"] > tries and x["error"] else None)(
        job(api, admin.key, slug)), "the retried step runs again")
    d = step(again, "database")
    assert d["error"].startswith("unreachable: ") and again["errorCode"] == "unreachable", again
    assert step(again, "validate")["attempts"] == 1, "a completed step ran again"
    assert again["attempts"] >= 1 and again["currentStep"] == "database", again


def test_retry_refused_unless_failed(api, admin, db, stack, slug):
    # Completed.
    assert_json(api.post(LIST, key=admin.key, json=tenant_body(slug)), 202)
    settled(api, admin.key, slug)
    p = assert_problem(api.post(f"{LIST}/{slug}/provisioning/retry", key=admin.key), 409)
    assert p["code"] == "provisioning_not_failed" and "Completed" in p["detail"], p
    r = api.post(f"{LIST}/{slug}/provisioning/retry", key=admin.key, headers={"Accept": "application/xml"})
    assert r.status_code == 409 and parse_xml(r).find("code").text == "provisioning_not_failed", describe(r)

    # Pending and InProgress: held there (due in an hour, so no provisioner takes it meanwhile).
    other = f"{slug}-b"
    failed_tenant(api, admin.key, db, stack, other)
    for status in ("Pending", "InProgress"):
        db.query(f"UPDATE provisioning_jobs j JOIN tenants t ON t.pk = j.tenant_pk SET j.status = '{status}', "
                 f"j.next_attempt_at = UTC_TIMESTAMP(3) + INTERVAL 1 HOUR WHERE t.slug = {sql_quote(other)}")
        p = assert_problem(api.post(f"{LIST}/{other}/provisioning/retry", key=admin.key), 409)
        assert p["code"] == "provisioning_not_failed" and status in p["detail"], p
        assert job(api, admin.key, other)["status"] == status
    assert db.scalar("SELECT COUNT(*) FROM audit_events WHERE action = 'tenant.provisioning.retry' "
                     f"AND target_id IN ({sql_quote(slug)}, {sql_quote(other)})") == "0"


def test_retry_of_another_accounts_tenant_is_404(api, admin, new_key, db, failed):
    slug, j = failed
    stranger = new_key()
    for who in (slug, j["tenantId"]):
        p = assert_problem(api.post(f"{LIST}/{who}/provisioning/retry", key=stranger.key), 404)
        assert p["code"] == "tenant_not_found", p
    missing = assert_problem(api.post(f"{LIST}/no-such-{uuid.uuid4().hex[:8]}/provisioning/retry",
                                      key=stranger.key), 404)
    assert (missing["code"], missing["detail"]) == (p["code"], p["detail"]), (missing, p)
    assert job(api, admin.key, slug)["status"] == "Failed", "another account's retry changed the job"
    # View is not enough.
    viewer = new_key(account=admin.account, permissions="View")
    assert_problem(api.post(f"{LIST}/{slug}/provisioning/retry", key=viewer.key), 403)
    # The retry by GUID works for the owner, in XML.
    r = api.post(f"{LIST}/{j['tenantId']}/provisioning/retry", key=admin.key, headers={"Accept": "application/xml"})
    assert r.status_code == 202, describe(r)
    doc = parse_xml(r)
    assert doc.tag == "provisioning" and doc.find("correlationId").text == j["correlationId"]
    # Audited under the slug, however the tenant was named; the refused ones are not.
    assert db.query("SELECT target_id FROM audit_events WHERE action = 'tenant.provisioning.retry' "
                    f"AND target_id IN ({sql_quote(slug)}, {sql_quote(j['tenantId'])})") == [{"target_id": slug}]


def test_tenantctl_provisioning_list_show_retry(ctl, api, admin, failed):
    slug, j = failed
    out = ctl.run("provisioning", "list", "--status", "Failed").stdout.splitlines()
    assert out[0].split("\t") == ["correlationId", "tenant", "status", "step", "attempts", "updatedAt", "error"]
    mine = [line.split("\t") for line in out[1:] if line.split("\t")[1] == slug]
    assert len(mine) == 1 and mine[0][0] == j["correlationId"], out
    assert mine[0][2:5] == ["Failed", "database", "5"] and mine[0][6].startswith("unreachable: "), mine
    assert all(line.split("\t")[2] == "Failed" for line in out[1:])
    bad = ctl.run("provisioning", "list", "--status", "Broken", check=False)
    assert bad.returncode == 2 and "--status" in bad.stderr

    for who in (slug, j["tenantId"], j["correlationId"]):
        show = ctl.run("provisioning", "show", who).stdout
        head, _, steps = show.partition("\n\n")
        fields = dict(line.split("\t", 1) for line in head.splitlines())
        assert (fields["tenant"], fields["status"], fields["currentStep"], fields["attempts"]) == (
            slug, "Failed", "database", "5"), show
        rows = [line.split("\t") for line in steps.splitlines()]
        assert rows[0] == ["step", "status", "attempts", "startedAt", "completedAt", "error"]
        by = {r[0]: r for r in rows[1:]}
        assert by["validate"][1:3] == ["Completed", "1"] and by["database"][1] == "Failed", rows
        assert by["database"][5].startswith("unreachable: "), rows
    missing = ctl.run("provisioning", "show", "no-such-tenant", check=False)
    assert missing.returncode == 1 and "no provisioning job" in missing.stderr

    r = ctl.run("provisioning", "retry", slug)
    assert r.stdout.strip() == f"retrying {slug}"
    assert job(api, admin.key, slug)["status"] in ("Pending", "InProgress")
    again = ctl.run("provisioning", "retry", slug, check=False)
    assert again.returncode == 1 and "only a Failed job can be retried" in again.stderr, again.stderr


@pytest.fixture
def own_db(stack, db):
    """An empty tenantd database of its own on the stack's server (root creates it)."""
    name = f"tenantd_prov_{uuid.uuid4().hex[:10]}"
    root_sql(stack, f"CREATE DATABASE {name}")
    try:
        root_sql(stack, f"GRANT ALL ON {name}.* TO '{stack.db_user}'@'localhost'")
        yield name
    finally:
        root_sql(stack, f"DROP DATABASE IF EXISTS {name}")


def test_provisioner_alone_runs_a_pending_job(api, admin, slug, stack, db, ctl, own_db, tmp_path):
    """A tenantd --provisioner on a database of its own, which no other provisioner serves:
    the job there is done by it alone."""
    own = OWN_KEYS + ("db.name",)
    conf = tmp_path / "tenantd.conf"
    conf.write_text("".join(inline_secrets([line for line in Path(stack.config).read_text().splitlines(True)
                                            if line.partition("=")[0].strip() not in own]))
                    + f"db.name = {own_db}\nprovision.enabled = 0\n")
    env = {k: v for k, v in child_env().items() if k != "TENANTD_DB_NAME"}
    mig = subprocess.run([stack.tenantctl, "--config", str(conf), "migrate", "--dir", str(ROOT / "sql")],
                         capture_output=True, text=True, env=env, timeout=120)
    assert mig.returncode == 0, mig.stderr

    # The tenant as the stack created it, copied into the new database with its job Pending again.
    assert_json(api.post(LIST, key=admin.key, json=tenant_body(slug)), 202)
    settled(api, admin.key, slug)
    main = stack.db_name
    pk = db.scalar(f"SELECT pk FROM tenants WHERE slug = {sql_quote(slug)}")
    root_sql(stack, f"SET FOREIGN_KEY_CHECKS = 0; "
             f"INSERT INTO {own_db}.accounts SELECT * FROM {main}.accounts WHERE id = "
             f"(SELECT account_id FROM {main}.tenants WHERE pk = {pk}); "
             f"UPDATE {own_db}.accounts SET current_tenant_pk = NULL, primary_connection_id = NULL; "
             f"INSERT INTO {own_db}.tenants SELECT * FROM {main}.tenants WHERE pk = {pk}; "
             f"UPDATE {own_db}.tenants SET provisioning_status = 'Pending'; "
             f"INSERT INTO {own_db}.provisioning_jobs (id, correlation_id, tenant_pk, status) "
             f"SELECT id, correlation_id, tenant_pk, 'Pending' FROM {main}.provisioning_jobs WHERE tenant_pk = {pk}")

    log = tmp_path / "prov.log"
    pidfile = tmp_path / "prov.pid"
    out = open(tmp_path / "prov.out", "wb")
    proc = subprocess.Popen([tenantd_binary(), "--provisioner", "--config", str(conf), "--log", str(log),
                             "--pidfile", str(pidfile)], env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
    out.close()
    try:
        def done():
            rows = root_sql(stack, "SELECT j.status, t.provisioning_status, (SELECT COUNT(*) FROM provisioning_steps "
                            "s WHERE s.job_id = j.id AND s.status = 'Completed') FROM provisioning_jobs j JOIN "
                            "tenants t ON t.pk = j.tenant_pk", db=own_db)
            return rows if rows and rows[0][0] == "Completed" else None
        rows = poll(done, "the standalone provisioner completes the job", secs=60)
        assert rows == [["Completed", "Completed", "4"]], rows
        admins = root_sql(stack, f"SELECT COUNT(*) FROM tenant_users WHERE tenant_pk = {pk} AND role = 'admin'",
                          db=own_db)
        assert admins == [["1"]]
        # One child (the provisioning process), no socket of its own; its messages go to --log.
        assert len(poll(lambda: children(proc.pid), "the provisioning process starts", secs=10)) == 1
        assert int(pidfile.read_text()) == proc.pid
        assert "provisioning process only" in read(log)
        assert not [fd for fd in os.listdir(f"/proc/{proc.pid}/fd")
                    if os.readlink(f"/proc/{proc.pid}/fd/{fd}").startswith("socket:")], "the master holds a socket"
        # SIGHUP: the master and the provisioning process reopen --log.
        pids = [proc.pid] + children(proc.pid)
        os.rename(log, tmp_path / "prov.log.1")
        proc.send_signal(signal.SIGHUP)
        want = {f"tenantd[{pid}]: log reopened" for pid in pids}
        poll(lambda: all(w in read(log) for w in want), f"{want} in the new log", secs=30)
        assert proc.poll() is None, "SIGHUP stopped tenantd --provisioner"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        assert not pidfile.exists()
        assert read(tmp_path / "prov.out") == "", "with --log nothing goes to stderr once it is open"
    finally:
        stop(proc)


def test_job_from_before_step_records_stays_readable(api, admin, db, failed):
    """Jobs provisioned before 0009 have no step rows: their steps are derived from the
    job's current step, with 0 attempts and no times."""
    slug, j = failed
    db.query(f"DELETE FROM provisioning_steps WHERE job_id = (SELECT id FROM provisioning_jobs "
             f"WHERE correlation_id = {sql_quote(j['correlationId'])})")
    old = job(api, admin.key, slug)
    assert [(s["step"], s["status"], s["attempts"], s["startedAt"], s["error"]) for s in old["steps"]] == [
        ("validate", "Completed", 0, None, None), ("database", "Failed", 0, None, None),
        ("seed", "Pending", 0, None, None), ("activate", "Pending", 0, None, None)], old
    assert (old["status"], old["currentStep"], old["errorCode"]) == ("Failed", "database", "unreachable")


def test_disallowed_host_fails_then_fixed_and_retried(api, admin, db, stack, slug, tmp_path):
    # A listener on the disallowed host, on a port the policy allows: any attempt would reach it.
    port = dead_port(stack)
    listener = socket.socket()
    try:
        listener.bind(("127.0.0.2", port))
    except OSError as e:
        listener.close()
        pytest.skip(f"cannot listen on 127.0.0.2:{port}: {e}")
    listener.listen(8)
    listener.setblocking(False)
    try:
        body = json.dumps(tenant_body(slug, connectionString=f"Server=127.0.0.2;Port={port};"
                                                             f"Database={dbname(slug)}")).encode()
        env = {"REQUEST_URI": LIST, "REQUEST_METHOD": "POST", "HTTP_AUTHORIZATION": f"Bearer {admin.key}",
               "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(body))}
        status, _, out = cgi(stack, tmp_path, env, stdin=body,
                             extra_conf="provision.db_hosts = localhost,127.0.0.1,127.0.0.2\n")
        assert status == 202, out[:300]
        j = settled(api, admin.key, slug)
        assert (j["status"], j["errorCode"], j["currentStep"], j["attempts"]) == \
            ("Failed", "not_allowed", "validate", 1), j
        assert j["error"].startswith("not_allowed: ") and "127.0.0.2" not in j["error"], j
        assert step(j, "validate")["status"] == "Failed" and step(j, "database")["attempts"] == 0, j
        with pytest.raises(BlockingIOError):
            listener.accept()
    finally:
        listener.close()
    # Mended: its own database on the project-local server, which the policy allows.
    t = assert_json(api.put(f"{LIST}/{slug}", key=admin.key, json=tenant_body(
        slug, connectionString="Server=localhost;User Id=app;Password=app-pw")), 200)
    assert t["connectionString"] is not None, t
    try:
        assert assert_json(api.post(f"{LIST}/{slug}/provisioning/retry", key=admin.key), 202)["status"] in (
            "Pending", "InProgress")
        j = settled(api, admin.key, slug)
        assert (j["status"], j["error"]) == ("Completed", None), j
        assert step(j, "validate")["attempts"] == 2 and step(j, "database")["attempts"] == 1, j
        assert root_sql(stack, "SELECT version FROM schema_migrations", db=dbname(slug)) == [["0001_tenant_schema"]]
        assert db.scalar(f"SELECT provisioning_status FROM tenants WHERE slug = {sql_quote(slug)}") == "Completed"
    finally:
        root_sql(stack, f"DROP DATABASE IF EXISTS {dbname(slug)}")
