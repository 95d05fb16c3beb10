"""Fairness of the provisioning process (issue 15).

The provisioner runs jobs in a pool of provision.concurrency runners (default 4), at most
provision.per_account (default 2) of them on one account's jobs.  One account's jobs stuck on a
tenant database server that accepts connections and never answers hold two runners; another
account's new tenant is provisioned at once by a free one.

Before the pool, jobs ran one at a time: the other account's tenant waited for each stuck
attempt (provision.connect_timeout or read_timeout, 3 s or more each) of the six ahead of it.
"""
import socket
import threading
import time

import pytest

from conftest import unique_name
from helpers import assert_json, sql_quote, tenant_body
from test_connection_string import conf, dbname, dead_port
from test_provisioning_ops import poll

LIST = "/api/v1/tenants"
STUCK = 6


class SilentServer:
    """Accepts TCP connections on 127.0.0.1:port and never sends a byte (no MySQL greeting)."""

    def __init__(self, port):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.held, self.accepted, self.stopped = [], 0, False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while not self.stopped:
            try:
                c, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            self.held.append(c)
            self.accepted += 1

    def close(self):
        self.stopped = True
        self.thread.join(5)
        for c in self.held:
            c.close()
        self.sock.close()


@pytest.fixture
def silent(stack):
    server = SilentServer(dead_port(stack))
    yield server
    server.close()


def leased(db, account_id):
    """The account's jobs a runner holds now (InProgress under a live lease)."""
    return int(db.scalar("SELECT COUNT(*) FROM provisioning_jobs j JOIN tenants t ON t.pk = j.tenant_pk "
                         f"WHERE t.account_id = {int(account_id)} AND j.status = 'InProgress' "
                         "AND j.next_attempt_at > UTC_TIMESTAMP(3)"))


def test_stuck_account_does_not_delay_another(api, new_key, db, stack, silent):
    cap = int(conf(stack).get("provision.per_account", "2"))
    timeout = min(int(conf(stack).get("provision.connect_timeout", "3")),
                  int(conf(stack).get("provision.read_timeout", "10")))
    a, b = new_key("all"), new_key("all")
    port = silent.sock.getsockname()[1]
    stuck = [unique_name("stuck") for _ in range(STUCK)]
    try:
        for s in stuck:
            conn = f"Server=127.0.0.1;Port={port};Database={dbname(s)}"
            assert_json(api.post(LIST, key=a.key, json=tenant_body(s, connectionString=conn)), 202)
        # A's jobs hold runners (and the server has their connections).
        poll(lambda: leased(db, a.account_id) >= 1 and silent.accepted >= 1, "the stuck jobs run", secs=30)
        slug = unique_name("fair")
        started = time.monotonic()
        assert_json(api.post(LIST, key=b.key, json=tenant_body(slug)), 202)
        most = 0

        def done():
            nonlocal most
            most = max(most, leased(db, a.account_id))
            return db.scalar(f"SELECT j.status FROM provisioning_jobs j JOIN tenants t ON t.pk = j.tenant_pk "
                             f"WHERE t.slug = {sql_quote(slug)}") == "Completed"
        poll(done, f"{slug} is provisioned", secs=60, every=0.05)
        took = time.monotonic() - started
        # Six stuck attempts ahead of it would have cost at least 6 * timeout before the pool.
        assert took < 2 * timeout, f"B's tenant took {took:.1f} s behind A's stuck jobs"
        assert most <= cap, f"{most} of A's jobs ran at once; provision.per_account is {cap}"
        # A's jobs are still stuck meanwhile: none of them has got anywhere.
        assert db.scalar("SELECT COUNT(*) FROM provisioning_jobs j JOIN tenants t ON t.pk = j.tenant_pk "
                         f"WHERE t.account_id = {int(a.account_id)} AND j.status = 'Completed'") == "0"
    finally:
        # Their retries would hold runners in later tests.
        for s in stuck:
            r = api.delete(f"{LIST}/{s}", key=a.key, params={"confirmName": f"Tenant {s}",
                                                             "confirmDisplayName": f"Tenant {s}"})
            assert r.status_code == 200, r.text
