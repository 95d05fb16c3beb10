"""/api/v1/webhooks and the webhook deliverer (issue 16, part C).

A local receiver (http on 127.0.0.1, which the test stack's
webhooks.allow_http_hosts and webhooks.allow_private_hosts allow) answers 500
twice, then 200: the deliverer makes three attempts of one event, each signed
the Standard Webhooks way (verified here with the secret shown at creation),
and the deliveries resource shows them.
"""

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from helpers import assert_json, assert_problem, assert_xml, child_text, describe, localname, wait_provisioned


class Receiver:
    """Records every POST; answers the first `failures` with 500."""

    def __init__(self, failures=0):
        self.failures = failures
        self.calls = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    receiver.calls.append((dict((k.lower(), v) for k, v in self.headers.items()), body))
                    status = 500 if len(receiver.calls) <= receiver.failures else 200
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"nope" if status == 500 else b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(self, n, timeout=60):
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                if len(self.calls) >= n:
                    return list(self.calls)
            assert time.monotonic() < deadline, f"{len(self.calls)} calls after {timeout} s, expected {n}"
            time.sleep(0.1)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    made = []

    def make(failures=0):
        r = Receiver(failures)
        made.append(r)
        return r
    yield make
    for r in made:
        r.close()


def verify(secret, headers, body):
    key = base64.b64decode(secret[len("whsec_"):])
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    assert headers["webhook-signature"] == expected
    assert abs(int(headers["webhook-timestamp"]) - time.time()) < 300


def subscribe(api, principal, url, **fields):
    r = api.post("/api/v1/webhooks", key=principal.key, json={"url": url, **fields})
    return assert_json(r, 201), r


def settled_delivery(api, principal, webhook, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        body = assert_json(api.get(f"/api/v1/webhooks/{webhook}/deliveries", key=principal.key), 200)
        if body["data"] and body["data"][0]["status"] != "pending":
            return body
        assert time.monotonic() < deadline, f"no settled delivery after {timeout} s: {body}"
        time.sleep(0.2)


def test_delivery_retries_then_succeeds_signed(api, admin, create_tenant, receiver, db):
    rcv = receiver(failures=2)
    hook, r = subscribe(api, admin, rcv.url, events=["tenant.created"], description="e2e")
    secret = hook["secret"]
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 32
    assert r.headers["Location"].endswith(f"/api/v1/webhooks/{hook['id']}")
    # Sealed at rest, never the secret itself.
    stored = db.scalar(f"SELECT secret FROM webhooks WHERE guid = '{hook['id']}'")
    assert stored.startswith("enc:v1:") and secret not in stored

    slug = f"wh-{uuid.uuid4().hex[:12]}"
    create_tenant(admin, slug)
    # Not subscribed to: never delivered.
    assert api.post(f"/api/v1/tenants/{slug}/deactivate", key=admin.key).status_code == 200

    calls = rcv.wait_for(3)
    assert len({h["webhook-id"] for h, _ in calls}) == 1
    assert len({b for _, b in calls}) == 1
    for headers, body in calls:
        verify(secret, headers, body)
        assert headers["content-type"] == "application/json"
    event = json.loads(calls[0][1])
    assert event["type"] == "tenant.created" and event["tenantSlug"] == slug
    assert calls[0][0]["webhook-id"] == f"evt_{event['id']}"

    page = settled_delivery(api, admin, hook["id"])
    assert len(page["data"]) == 1, page
    d = page["data"][0]
    assert (d["status"], d["attemptCount"], d["eventId"], d["eventType"]) == ("succeeded", 3, event["id"],
                                                                              "tenant.created")
    assert [a["statusCode"] for a in d["attempts"]] == [500, 500, 200]
    assert [a["response"] for a in d["attempts"]] == ["nope", "nope", "ok"]
    assert d["lastStatusCode"] == 200 and d["lastError"] is None and d["nextAttemptAt"] is None
    assert d["attempts"][0]["error"] == "the receiver answered 500"
    rows = db.query(f"SELECT d.status, d.attempts FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id "
                    f"WHERE w.guid = '{hook['id']}'")
    assert rows == [{"status": "succeeded", "attempts": "3"}]
    assert len(rcv.calls) == 3


def test_events_of_a_tenant_arrive_in_order(api, admin, create_tenant, receiver, db):
    rcv = receiver(failures=1)
    subscribe(api, admin, rcv.url, events=["tenant.created", "tenant.deactivated", "tenant.activated"])
    slug = f"wh-{uuid.uuid4().hex[:12]}"
    create_tenant(admin, slug)
    wait_provisioned(db, slug)  # it is activated again below
    for op in ("deactivate", "activate"):
        assert api.post(f"/api/v1/tenants/{slug}/{op}", key=admin.key).status_code == 200
    calls = rcv.wait_for(4)
    types = [json.loads(b)["type"] for _, b in calls]
    # The first attempt failed: nothing later was sent before its retry.
    assert types == ["tenant.created", "tenant.created", "tenant.deactivated", "tenant.activated"]


def test_a_name_resolving_to_loopback_is_refused_at_delivery(api, admin, create_tenant):
    hook, _ = subscribe(api, admin, "https://localhost:9/hook", events=["tenant.created"])
    create_tenant(admin, f"wh-{uuid.uuid4().hex[:12]}")
    deadline = time.monotonic() + 60
    while True:
        data = assert_json(api.get(f"/api/v1/webhooks/{hook['id']}/deliveries", key=admin.key), 200)["data"]
        if data and data[0]["attemptCount"] >= 1:
            break
        assert time.monotonic() < deadline, data
        time.sleep(0.2)
    d = data[0]
    assert d["status"] == "pending" and d["lastStatusCode"] is None and d["nextAttemptAt"]
    assert "loopback, private or internal" in d["lastError"]
    assert d["attempts"][0]["statusCode"] is None


def test_crud(api, admin, new_key):
    hook, _ = subscribe(api, admin, "https://hooks.example/a", events=["tenant.created", "tenant.deleted"])
    assert "secret" in hook
    one = assert_json(api.get(f"/api/v1/webhooks/{hook['id']}", key=admin.key), 200)
    assert "secret" not in one
    assert one == {k: v for k, v in hook.items() if k != "secret"}
    assert one["events"] == ["tenant.created", "tenant.deleted"] and one["isActive"] is True
    assert one["description"] is None

    r = api.patch(f"/api/v1/webhooks/{hook['id']}", key=admin.key,
                  json={"events": [], "isActive": False, "description": "paused"})
    changed = assert_json(r, 200)
    assert (changed["events"], changed["isActive"], changed["description"], changed["url"]) == \
        ([], False, "paused", "https://hooks.example/a")
    listed = assert_json(api.get("/api/v1/webhooks", key=admin.key), 200)["data"]
    assert [w["id"] for w in listed] == [hook["id"]] and listed[0] == changed

    # Another account's webhook does not exist for this one.
    other = new_key("all")
    for method in ("get", "patch", "delete"):
        kw = {"json": {"description": "x"}} if method == "patch" else {}
        assert_problem(getattr(api, method)(f"/api/v1/webhooks/{hook['id']}", key=other.key, **kw), 404)
    assert_problem(api.get(f"/api/v1/webhooks/{hook['id']}/deliveries", key=other.key), 404)

    r = api.delete(f"/api/v1/webhooks/{hook['id']}", key=admin.key)
    assert r.status_code == 204, describe(r)
    assert_problem(api.get(f"/api/v1/webhooks/{hook['id']}", key=admin.key), 404)
    assert_problem(api.delete(f"/api/v1/webhooks/{hook['id']}", key=admin.key), 404)
    # Each change is an event.
    types = [e["type"] for e in api.get("/api/v1/events", key=admin.key).json()["data"]
             if e["subjectId"] == hook["id"]]
    assert types == ["webhook.created", "webhook.updated", "webhook.deleted"]


def test_xml(api, admin):
    xml = ("<webhook><url>https://hooks.example/x</url><events><event>tenant.updated</event></events>"
           "<description>xml &amp; co</description></webhook>")
    r = api.post("/api/v1/webhooks", key=admin.key, data=xml,
                 headers={"Content-Type": "application/xml", "Accept": "application/xml"})
    doc = assert_xml(r, 201, "webhook")
    made = child_text(doc, "id")
    assert child_text(doc, "secret").startswith("whsec_")
    assert child_text(doc, "description") == "xml & co"
    events = [el for el in doc if localname(el) == "events"][0]
    assert [e.text for e in events] == ["tenant.updated"]
    r = api.get("/api/v1/webhooks", key=admin.key, headers={"Accept": "application/xml"})
    doc = assert_xml(r, 200, "webhooks")
    assert [(localname(w), child_text(w, "id")) for w in doc[0]] == [("webhook", made)]


@pytest.mark.parametrize("body, field", [
    ({}, "url"),
    ({"url": "http://hooks.example/x"}, "url"),
    ({"url": "ftp://hooks.example/x"}, "url"),
    ({"url": "https://user:pw@hooks.example/x"}, "url"),
    ({"url": "https://hooks.example/x#frag"}, "url"),
    ({"url": "https://10.1.2.3/x"}, "url"),
    ({"url": "https://[::1]/x"}, "url"),
    ({"url": "https://169.254.169.254/latest"}, "url"),
    ({"url": "https://hooks.example:99999/x"}, "url"),
    ({"url": "https://hooks.example/x", "events": ["tenant.exploded"]}, "events"),
    ({"url": "https://hooks.example/x", "events": "tenant.created,tenant.deleted"}, "events"),
    ({"url": "https://hooks.example/x", "isActive": "maybe"}, "isActive"),
    ({"url": "https://hooks.example/x", "secret": "mine"}, "secret"),
    ({"url": "https://hooks.example/x", "description": "d" * 501}, "description"),
])
def test_refused_subscriptions(api, admin, body, field):
    body = assert_problem(api.post("/api/v1/webhooks", key=admin.key, json=body), 422)
    assert field in body["errors"], body


def test_bad_delivery_cursor_is_422(api, admin):
    hook, _ = subscribe(api, admin, "https://hooks.example/c")
    body = assert_problem(api.get(f"/api/v1/webhooks/{hook['id']}/deliveries?cursor=x", key=admin.key), 422)
    assert "cursor" in body["errors"]


def test_needs_manage_webhooks(api, new_key):
    p = new_key(["View", "Create", "Update", "Delete", "ManageKeys"])
    assert_problem(api.get("/api/v1/webhooks", key=p.key), 403)
    assert_problem(api.post("/api/v1/webhooks", key=p.key, json={"url": "https://hooks.example/x"}), 403)
    ok = new_key(["ManageWebhooks"])
    assert_json(api.get("/api/v1/webhooks", key=ok.key), 200)
