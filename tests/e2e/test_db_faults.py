"""Database faults (issue 14), each on a stack of this module's own (MariaDB, tenantd, nginx in a
temporary directory, built by scripts/lib.sh as scripts/up builds var/), so stopping or filling
its database disturbs no other test:

- MariaDB stopped under load, or frozen (SIGSTOP): every answer is a 2xx or a 503 with
  Retry-After, each within a bound set by db.read_timeout and db.connect_timeout (never a
  hang, 502 or 504);
  once it is back, tenantd recovers by itself (the same master, /readyz, creates);
- read_only: mutations get 503 and write nothing, reads go on, and recovery after read_only=0;
- disk full, simulated by a system tablespace that may not grow past a cap
  (innodb_data_file_path=...:autoextend:max, innodb_file_per_table=0) filled up by another
  table: the first create that needs a page gets 503 and leaves no row and no audit event;
- a deadlock (1213) made by a concurrent transaction: retried, the caller sees 200; a lock wait
  timeout (1205, innodb_lock_wait_timeout=2): retried, then 503 with Retry-After while the
  row stays held, 200 when it is let go between two attempts.

tenantd connects as the stack's user `tenantd`, which has no SUPER or READ ONLY ADMIN, so
read_only applies to it.
"""

import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest
import requests

from conftest import unique_name
from helpers import sql_quote, tenant_body, tenantd_binary

ROOT = Path(__file__).resolve().parents[2]
LIST = "/api/v1/tenants"
OK = (200, 201, 202)     # a create answers 202 while its tenant is provisioned
READ_TIMEOUT, CONNECT_TIMEOUT = 3, 2
# The longest a request may take while the database is away: a statement's read timeout and one
# reconnect, for it and for a request ahead of it on the same worker, and a margin for a loaded
# machine.
BOUND = 2 * (READ_TIMEOUT + CONNECT_TIMEOUT) + 10
TABLESPACE_MAX_MB = 96


def wait_for(what, timeout=60, every=0.1):
    deadline = time.monotonic() + timeout
    while True:
        got = what()
        if got:
            return got
        assert time.monotonic() < deadline, f"not settled within {timeout} s"
        time.sleep(every)


def own_env(**settings):
    """The environment without the test stack's TENANTD_* settings (scripts/test exports its
    database socket and password, which tenantd and tenantctl would take over their
    configuration file), plus settings."""
    return {**{k: v for k, v in os.environ.items() if not k.startswith("TENANTD_")}, **settings}


def lib(var, script, env=None):
    """Runs bash with scripts/lib.sh sourced and VAR set."""
    subprocess.run(["bash", "-c", f'set -euo pipefail; source "{ROOT}/scripts/lib.sh"; {script}'],
                   check=True, env=own_env(VAR=str(var), **(env or {})),
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=600)


class FaultStack:
    def __init__(self, var, port, bdir):
        self.var, self.port, self.bdir = var, port, bdir
        self.url = f"http://127.0.0.1:{port}"
        self.sock = var / "run" / "mysqld.sock"
        self.mysqld = None
        self.cap_mb = TABLESPACE_MAX_MB

    # MariaDB, with the tablespace cap and a short lock wait timeout.
    def server_args(self):
        return ["--no-defaults", "--user=root", f"--datadir={self.var}/db",
                "--innodb-buffer-pool-size=32M", "--innodb-file-per-table=0",
                "--innodb-log-file-size=16M",
                f"--innodb-data-file-path=ibdata1:12M:autoextend:max:{self.cap_mb}M"]

    def db_start(self):
        (self.var / "tmp").mkdir(exist_ok=True)  # its own: another MariaDB may clean a shared /tmp
        self.mysqld = subprocess.Popen(
            ["mariadbd", *self.server_args(), f"--socket={self.sock}", "--skip-networking", f"--tmpdir={self.var}/tmp",
             f"--pid-file={self.var}/run/mysqld.pid", f"--log-error={self.var}/log/mysqld.err",
             "--innodb-lock-wait-timeout=2", "--skip-name-resolve",
             "--character-set-server=utf8mb4", "--collation-server=utf8mb4_unicode_ci"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        wait_for(lambda: self.mysqld.poll() is not None or self.root_ok(), timeout=120, every=0.2)
        assert self.mysqld.poll() is None, (self.var / "log" / "mysqld.err").read_text()[-3000:]

    def db_stop(self):
        self.mysqld.send_signal(signal.SIGTERM)
        self.mysqld.wait(120)

    def root_ok(self):
        return subprocess.run(["mariadb-admin", "--no-defaults", f"--socket={self.sock}", "-uroot",
                               "--connect-timeout=2", "ping"], capture_output=True).returncode == 0

    def sql(self, sql, *, check=True, user="root"):
        """Rows of sql run as root (tab-separated lists of strings)."""
        r = subprocess.run(["mariadb", "--no-defaults", f"--socket={self.sock}", f"-u{user}", "-D", "tenantd",
                            "-B", "-N", "-e", sql], capture_output=True, text=True, timeout=120)
        if check:
            assert r.returncode == 0, r.stderr
        return [line.split("\t") for line in r.stdout.splitlines()]

    def scalar(self, sql):
        return self.sql(sql)[0][0]

    def ctl(self, *args):
        return subprocess.run([f"{self.bdir}/tenantctl", "--config", f"{self.var}/tenantd.conf", *args],
                              check=True, capture_output=True, text=True, timeout=120, env=own_env()).stdout

    def key(self):
        account = unique_name("faults")
        self.ctl("account", "create", account)
        return self.ctl("key", "create", "--account", account, "--kind", "account",
                        "--permissions", "all").strip().splitlines()[-1]

    def master_pid(self):
        return int((self.var / "run" / "tenantd.pid").read_text())

    def ready(self):
        try:
            return requests.get(self.url + "/readyz", timeout=BOUND).status_code == 200
        except requests.RequestException:
            return False


@pytest.fixture(scope="module")
def fs():
    # nginx's workers run as another user: the socket's directories must be open to it, which
    # pytest's own temporary directories are not.
    var = Path(tempfile.mkdtemp(prefix="tenantd-dbfaults-"))
    for d in ("", "db", "run", "log", "nginx"):
        (var / d).mkdir(exist_ok=True)
        (var / d).chmod(0o755)
    bdir = str(Path(tenantd_binary()).parent)
    port = int(subprocess.run(["bash", "-c", f'source "{ROOT}/scripts/lib.sh"; free_ports 1'],
                              capture_output=True, text=True, check=True).stdout)
    s = FaultStack(var, port, bdir)
    subprocess.run(["mariadb-install-db", *s.server_args(), "--auth-root-authentication-method=normal",
                    "--skip-test-db"], check=True, capture_output=True, timeout=600)
    s.db_start()
    env = {"TENANTD_DB_READ_TIMEOUT": str(READ_TIMEOUT), "TENANTD_DB_CONNECT_TIMEOUT": str(CONNECT_TIMEOUT),
           "TENANTD_RATE_LIMIT_PER_MINUTE": "0", "TENANTD_RATE_LIMIT_CONFLICTS_PER_MINUTE": "0",
           "TENANTD_PROVISION_ENABLED": "0", "ASAN_OPTIONS": "detect_leaks=0"}
    try:
        # db_start finds the server running and makes the users, as for scripts/up.
        lib(var, f'db_start "$VAR"; write_config "$VAR" "unix:$(tenantd_socket "$VAR")" 2; '
                 f'migrate "$VAR" "{bdir}"; tenantd_start "$VAR" "{bdir}"; nginx_start "$VAR" {port}', env)
        wait_for(s.ready, timeout=60)
        yield s
    finally:
        lib(var, 'stop_all "$VAR"')
        if s.mysqld.poll() is None:
            s.db_stop()
        shutil.rmtree(var, ignore_errors=True)


def create(fs, key, slug, timeout=BOUND * 2):
    return requests.post(fs.url + LIST, json=tenant_body(slug), timeout=timeout,
                         headers={"Authorization": f"Bearer {key}"})


def assert_unavailable(r, xml=False):
    assert r.status_code == 503, (r.status_code, r.text[:300])
    assert r.headers.get("Retry-After", "").isdigit(), r.headers
    if xml:
        assert r.headers["Content-Type"].startswith("application/problem+xml"), r.headers
        assert b"unavailable" in r.content
    else:
        assert r.json()["code"] == "unavailable", r.text
    # Never the driver's words.
    assert "MariaDB" not in r.text and "errno" not in r.text and "mysql" not in r.text.lower()


class Load:
    """Clients reading and creating in a loop; every answer with its time."""

    def __init__(self, fs, key, clients=6):
        self.fs, self.key, self.stop = fs, key, threading.Event()
        self.answers, self.lock = [], threading.Lock()
        self.threads = [threading.Thread(target=self.client, args=(i,)) for i in range(clients)]

    def client(self, i):
        with requests.Session() as s:
            s.headers["Authorization"] = f"Bearer {self.key}"
            n = 0
            while not self.stop.is_set():
                n += 1
                t0 = time.monotonic()
                try:
                    if i % 2:
                        r = s.post(self.fs.url + LIST, json=tenant_body(f"{unique_name('ld')}-{i}-{n}"),
                                   timeout=BOUND * 3)
                    else:
                        r = s.get(self.fs.url + LIST + "?pageSize=2", timeout=BOUND * 3)
                    got = (r.status_code, r.headers.get("Retry-After"), time.monotonic() - t0, time.monotonic())
                except requests.RequestException as e:
                    got = (repr(e), None, time.monotonic() - t0, time.monotonic())
                with self.lock:
                    self.answers.append(got)

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(BOUND * 4)

    def count(self, pred=lambda a: True):
        with self.lock:
            return sum(1 for a in self.answers if pred(a))


def check_answers(answers):
    bad = [a for a in answers if a[0] not in (*OK, 503)]
    assert not bad, bad[:10]
    assert all(a[1] and a[1].isdigit() for a in answers if a[0] == 503), "a 503 without Retry-After"
    slow = [a for a in answers if a[2] > BOUND]
    assert not slow, f"answers slower than {BOUND} s: {slow[:10]}"
    print(f"{len(answers)} answers, {sum(a[0] == 503 for a in answers)} of them 503, "
          f"the slowest in {max(a[2] for a in answers):.2f} s")


def recovered(fs, key):
    """tenantd serves again, without a restart: /readyz, then a create."""
    wait_for(fs.ready, timeout=120, every=0.5)
    slug = unique_name("back")
    assert create(fs, key, slug).status_code in OK
    assert fs.scalar(f"SELECT COUNT(*) FROM tenants WHERE slug = {sql_quote(slug)}") == "1"


def test_a_database_stopped_under_load_gets_503_and_recovers(fs):
    key = fs.key()
    master = fs.master_pid()
    with Load(fs, key) as load:
        wait_for(lambda: load.count(lambda a: a[0] in OK) >= 20)
        fs.db_stop()
        stopped = time.monotonic()
        # Every client meets the stopped database a few times.
        wait_for(lambda: load.count(lambda a: a[0] == 503 and a[3] > stopped) >= 12, timeout=BOUND * 4)
        fs.db_start()
        restarted = time.monotonic()
        wait_for(lambda: load.count(lambda a: a[0] in OK and a[3] - a[2] > restarted) >= 12,
                 timeout=120)
    check_answers(load.answers)
    assert fs.master_pid() == master
    recovered(fs, key)


def test_a_frozen_database_gets_503_within_the_timeouts(fs):
    """SIGSTOP: the server accepts but never answers, so only tenantd's own timeouts end a
    request (db.read_timeout, db.connect_timeout)."""
    key = fs.key()
    with Load(fs, key, clients=2) as load:  # one per worker: no queueing
        wait_for(lambda: load.count(lambda a: a[0] in OK) >= 8)
        os.kill(fs.mysqld.pid, signal.SIGSTOP)
        try:
            frozen = time.monotonic()
            wait_for(lambda: load.count(lambda a: a[0] == 503 and a[3] - a[2] > frozen) >= 3,
                     timeout=BOUND * 6)
        finally:
            os.kill(fs.mysqld.pid, signal.SIGCONT)
        thawed = time.monotonic()
        wait_for(lambda: load.count(lambda a: a[0] in OK and a[3] - a[2] > thawed) >= 8,
                 timeout=120)
    check_answers(load.answers)
    recovered(fs, key)


def test_a_read_only_database_refuses_changes_and_writes_nothing(fs):
    key = fs.key()
    auth = {"Authorization": f"Bearer {key}"}
    kept = unique_name("ro")
    assert create(fs, key, kept).status_code in OK
    counts = "SELECT (SELECT COUNT(*) FROM tenants), (SELECT COUNT(*) FROM audit_events)"
    fs.sql("SET GLOBAL read_only = 1")
    try:
        before = fs.sql(counts)
        slug = unique_name("ro-new")
        assert_unavailable(create(fs, key, slug))
        assert_unavailable(requests.patch(f"{fs.url}{LIST}/{kept}", json={"city": "Nowhere"}, timeout=BOUND,
                                          headers={**auth, "Accept": "application/xml"}), xml=True)
        assert_unavailable(requests.delete(f"{fs.url}{LIST}/{kept}", timeout=BOUND, headers=auth))
        # Reads go on.
        r = requests.get(f"{fs.url}{LIST}/{kept}", timeout=BOUND, headers=auth)
        assert r.status_code == 200 and r.json()["id"] == kept
        assert requests.get(fs.url + LIST, timeout=BOUND, headers=auth).status_code == 200
        assert fs.sql(counts) == before
        assert fs.scalar(f"SELECT COUNT(*) FROM tenants WHERE slug = {sql_quote(slug)}") == "0"
        assert fs.scalar(f"SELECT city IS NULL OR city <> 'Nowhere' FROM tenants "
                         f"WHERE slug = {sql_quote(kept)}") == "1"
    finally:
        fs.sql("SET GLOBAL read_only = 0")
    r = requests.patch(f"{fs.url}{LIST}/{kept}", json={"city": "Somewhere"}, timeout=BOUND, headers=auth)
    assert r.status_code == 200 and r.json()["city"] == "Somewhere"
    recovered(fs, key)


def test_a_full_disk_refuses_creates_and_writes_nothing(fs):
    """The system tablespace may not grow past its cap: a filler table takes what is left, then
    creates go on until one needs a page there is no room for. Then the cap is raised (the
    server restarted) and the filler dropped: creates succeed again."""
    key = fs.key()
    fs.sql("CREATE DATABASE IF NOT EXISTS filler")
    fs.sql("CREATE TABLE filler.f (b LONGBLOB) ENGINE=InnoDB")
    try:
        for size in (4 << 20, 256 << 10, 16 << 10, 1 << 10):
            stmt = f"INSERT INTO filler.f VALUES (REPEAT('x', {size}));"
            r = subprocess.run(["mariadb", "--no-defaults", f"--socket={fs.sock}", "-uroot", "--force",
                                "-e", stmt * (TABLESPACE_MAX_MB * (1 << 20) // size + 1 if size > (16 << 10)
                                              else 64)],
                               capture_output=True, text=True, timeout=600)
            assert "1114" in r.stderr, r.stderr[-500:]
        counts = "SELECT (SELECT COUNT(*) FROM tenants), (SELECT COUNT(*) FROM audit_events)"
        refused = None
        for i in range(400):
            slug = unique_name(f"full{i}")
            before = fs.sql(counts)
            r = create(fs, key, slug)
            if r.status_code not in OK:
                refused = slug
                break
        assert refused, "400 creates fitted in a full tablespace"
        assert_unavailable(r)
        assert fs.sql(counts) == before
        assert fs.scalar(f"SELECT COUNT(*) FROM audit_events WHERE target_id = {sql_quote(refused)}") == "0"
        assert "1114" in (fs.var / "log" / "tenantd.log").read_text(errors="replace"), \
            "the driver's error is not in tenantd's log"
    finally:
        # More room, as when a disk is grown: a full tablespace has none even for DROP TABLE.
        fs.db_stop()
        fs.cap_mb += 64
        fs.db_start()
        fs.sql("DROP DATABASE filler")
    recovered(fs, key)


class Holder:
    """A transaction of another session, fed a statement at a time."""

    def __init__(self, fs):
        self.fs = fs
        self.p = subprocess.Popen(["mariadb", "--no-defaults", f"--socket={fs.sock}", "-uroot", "-D", "tenantd",
                                   "-B", "-N"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)

    def run(self, sql):
        self.p.stdin.write(sql + "\n")
        self.p.stdin.flush()

    def has_locks(self):
        return self.fs.scalar("SELECT COUNT(*) FROM information_schema.INNODB_TRX t "
                              "JOIN information_schema.PROCESSLIST p ON p.ID = t.trx_mysql_thread_id "
                              "WHERE p.USER = 'root' AND t.trx_rows_locked > 0 AND p.INFO IS NULL") != "0"

    def finish(self):
        out, err = self.p.communicate(timeout=60)
        return self.p.returncode, out, err


# InnoDB refreshes what its information_schema tables show of transactions and locks only when
# they were last read more than 0.1 s ago: polled faster, they never change.
TRX_POLL = 0.25


def waiting_trx(fs):
    """Ids of transactions waiting for a lock."""
    return {r[0] for r in fs.sql("SELECT trx_id FROM information_schema.INNODB_TRX WHERE trx_state = 'LOCK WAIT'")}


def patch_in_thread(fs, key, slug, city):
    out = {}

    def go():
        t0 = time.monotonic()
        out["r"] = requests.patch(f"{fs.url}{LIST}/{slug}", json={"city": city}, timeout=BOUND * 6,
                                  headers={"Authorization": f"Bearer {key}"})
        out["secs"] = time.monotonic() - t0

    t = threading.Thread(target=go)
    t.start()
    return t, out


def test_a_deadlock_is_retried_and_the_change_succeeds(fs):
    """The holder locks the end of audit_events, tenantd's PATCH locks the tenant's row and
    waits to append its audit event, then the holder asks for the tenant's row: a deadlock, in
    which InnoDB rolls back the lighter transaction, tenantd's (the holder has written 2,000
    rows). tenantd retries it and answers 200."""
    key = fs.key()
    slug = unique_name("dl")
    assert create(fs, key, slug).status_code in OK
    deadlocks = "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'INNODB_DEADLOCKS'"
    before = int(fs.scalar(deadlocks))
    fs.sql("CREATE TABLE IF NOT EXISTS dl_scratch (n INT) ENGINE=InnoDB")
    h = Holder(fs)
    h.run("START TRANSACTION; INSERT INTO dl_scratch SELECT seq FROM seq_1_to_2000; "
          "SELECT COUNT(*) FROM audit_events WHERE id > 18446744073709551000 FOR UPDATE;")
    wait_for(h.has_locks, timeout=30, every=TRX_POLL)
    t, out = patch_in_thread(fs, key, slug, "Deadlocked")
    wait_for(lambda: waiting_trx(fs), timeout=30, every=TRX_POLL)
    h.run(f"SELECT pk FROM tenants WHERE slug = {sql_quote(slug)} FOR UPDATE; COMMIT;")
    t.join(BOUND * 6)
    rc, _, err = h.finish()
    assert rc == 0, err
    assert int(fs.scalar(deadlocks)) > before, "no deadlock happened"
    r = out["r"]
    assert r.status_code == 200 and r.json()["city"] == "Deadlocked", r.text
    assert fs.sql(f"SELECT city, version FROM tenants WHERE slug = {sql_quote(slug)}") == [["Deadlocked", "2"]]
    assert fs.scalar(f"SELECT COUNT(*) FROM audit_events WHERE target_id = {sql_quote(slug)}") == "2"


def test_a_lock_wait_timeout_is_retried_then_503(fs):
    """The row held past every attempt's innodb_lock_wait_timeout (2 s): 503 with Retry-After,
    nothing written; let go between two attempts: 200."""
    key = fs.key()
    slug = unique_name("lw")
    assert create(fs, key, slug).status_code in OK
    h = Holder(fs)
    h.run(f"START TRANSACTION; SELECT pk FROM tenants WHERE slug = {sql_quote(slug)} FOR UPDATE;")
    wait_for(h.has_locks, timeout=30, every=TRX_POLL)
    t, out = patch_in_thread(fs, key, slug, "Held")
    t.join(BOUND * 6)
    assert_unavailable(out["r"])
    assert out["secs"] >= 2 * 2, "answered before two lock waits had timed out"
    assert fs.scalar(f"SELECT version FROM tenants WHERE slug = {sql_quote(slug)}") == "1"

    # Again, letting go once a second attempt waits (a new transaction id).
    t, out = patch_in_thread(fs, key, slug, "Waited")
    seen = set()

    def second_attempt_waits():
        seen.update(waiting_trx(fs))
        return len(seen) >= 2

    wait_for(second_attempt_waits, timeout=30, every=TRX_POLL)
    h.run("COMMIT;")
    t.join(BOUND * 6)
    rc, _, err = h.finish()
    assert rc == 0, err
    assert out["r"].status_code == 200, out["r"].text
    assert fs.sql(f"SELECT city, version FROM tenants WHERE slug = {sql_quote(slug)}") == [["Waited", "2"]]
