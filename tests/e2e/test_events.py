"""GET /api/v1/events: the change feed (issue 16, part C).

Ordered by audit id, the caller's account only, resumable from the cursor an
answer gives (next), in JSON and XML; a bad cursor is 422.
"""

import uuid

from helpers import assert_json, assert_problem, assert_xml, child_text, describe, localname, tenant_body, \
    wait_provisioned


def feed(api, principal, after=0, limit=None, **kw):
    params = {"after": after}
    if limit is not None:
        params["limit"] = limit
    return api.get("/api/v1/events", key=principal.key, params=params, **kw)


def drain(api, principal, after=0):
    """Every event after the cursor, in pages of 2, and the last cursor."""
    events = []
    while True:
        body = assert_json(feed(api, principal, after, limit=2), 200)
        events += body["data"]
        assert body["next"] == (body["data"][-1]["id"] if body["data"] else str(after))
        if not body["data"]:
            return events, after
        after = body["next"]


def test_feed_orders_the_accounts_changes(api, admin, new_key, create_tenant, db):
    slug = f"ev-{uuid.uuid4().hex[:12]}"
    create_tenant(admin, slug)
    wait_provisioned(db, slug)  # it is activated again below
    r = api.post(f"/api/v1/tenants/{slug}/deactivate", key=admin.key)
    assert r.status_code == 200, describe(r)
    r = api.patch(f"/api/v1/tenants/{slug}", key=admin.key, json={"description": "changed"})
    assert r.status_code == 200, describe(r)
    guid = api.get(f"/api/v1/tenants/{slug}", key=admin.key).json()["tenantId"]
    # Another account's changes never show.
    other = new_key("all")
    create_tenant(other, f"ev-{uuid.uuid4().hex[:12]}")

    events, cursor = drain(api, admin)
    tenant_events = [e for e in events if e["tenantSlug"] == slug]
    assert [e["type"] for e in tenant_events] == ["tenant.created", "tenant.deactivated", "tenant.updated"]
    ids = [int(e["id"]) for e in events]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    for e in tenant_events:
        assert e["tenantId"] == guid and e["subjectType"] == "tenant" and e["subjectId"] == slug
        assert e["actor"].startswith("key:") and e["occurredAt"].endswith("Z")
    # A change of state carries the state it left the tenant in (the history's detail).
    assert [e["data"] is None for e in tenant_events] == [False, False, True]
    assert "correlationId" in tenant_events[0]["data"]
    assert tenant_events[1]["data"]["isActive"] is False
    # The feed is the audit table, account by account.
    rows = db.query(f"SELECT id FROM audit_events WHERE account_id = {int(admin.account_id)} "
                    "AND outcome = 'ok' AND target_type <> 'route' ORDER BY id")
    assert [r["id"] for r in rows] == [e["id"] for e in events]
    assert all(e["tenantSlug"] != slug for e in drain(api, other)[0])

    # Resuming from the cursor gives what came later, and only that.
    r = api.post(f"/api/v1/tenants/{slug}/activate", key=admin.key)
    assert r.status_code == 200, describe(r)
    later, _ = drain(api, admin, cursor)
    assert [(e["type"], e["tenantSlug"]) for e in later] == [("tenant.activated", slug)]


def test_feed_in_xml(api, admin, create_tenant):
    slug = f"ev-{uuid.uuid4().hex[:12]}"
    create_tenant(admin, slug)
    doc = assert_xml(feed(api, admin, headers={"Accept": "application/xml"}), 200, "events")
    items = [el for el in doc if localname(el) == "data"]
    assert len(items) == 1
    events = [el for el in items[0] if localname(el) == "event"]
    assert [child_text(e, "type") for e in events] == ["tenant.created"]
    assert child_text(events[0], "tenantSlug") == slug
    assert child_text(doc, "next") == child_text(events[0], "id")


def test_empty_feed_keeps_the_cursor(api, admin):
    body = assert_json(feed(api, admin, after=999999999999), 200)
    assert body == {"data": [], "next": "999999999999"}


def test_bad_cursor_is_422(api, admin):
    for bad in ("abc", "-1", "1.5", "", "99999999999999999999"):
        body = assert_problem(feed(api, admin, after=bad), 422)
        assert "after" in body["errors"], body
    body = assert_problem(feed(api, admin, limit=501), 422)
    assert "limit" in body["errors"]


def test_feed_needs_view(api, new_key):
    p = new_key(["Create"])
    assert_problem(feed(api, p), 403)
    r = api.get("/api/v1/events")
    assert r.status_code == 401, describe(r)
