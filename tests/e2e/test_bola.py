"""Broken object-level authorisation, on every route (issue 14): another account's key, holding
every permission, aimed at each route that names an object of the owner (tenant by slug, GUID,
11-character id or Microsoft tenant id; connection; API key; provisioning job; webhook) gets 404 — the
answer for an object that does not exist — and changes nothing.

The routes come from `tenantd --routes`, so a new route with a parameter is covered as soon as
it exists (seed 003's routes take global keys only, which see every account by design).
"""

import uuid

import pytest

from conftest import unique_name
from helpers import assert_json, sql_quote, tenant_body, tenantd_routes
from m365_helpers import connection_body

PARAM_ROUTES = sorted((m, p) for m, p, _ in tenantd_routes() if "{" in p and not p.startswith("/api/tenant"))


class Owner:
    """An account with one of every object a route can name."""

    def __init__(self, api, ctl):
        self.principal = ctl.key(permissions="all")
        key = self.principal.key
        self.slug = unique_name("bola")
        self.external_id = f"ext-{self.slug}"
        r = assert_json(api.post("/api/v1/tenants", key=key, json=tenant_body(self.slug, displayName="Bola",
                                                                              externalId=self.external_id)), 202)
        self.correlation = r["provisioningCorrelationId"]
        t = assert_json(api.get(f"/api/v1/tenants/{self.slug}", key=key), 200)
        self.guid = t["tenantId"]
        self.short_id = assert_json(api.get("/tenants", key=key, params={"name": t["name"]}), 200)["data"][0]["id"]
        self.ms = str(uuid.uuid4())
        # Two connections, so that removing one is never refused as the last.
        self.conn = assert_json(api.post("/api/v1/connections", key=key, json=connection_body(self.ms)), 201)["id"]
        assert_json(api.post("/api/v1/connections", key=key, json=connection_body()), 201)
        self.key_id = assert_json(api.post("/api/v1/api-keys", key=key, json={"permissions": ["View"]}), 201)["id"]
        self.webhook = assert_json(api.post("/api/v1/webhooks", key=key, json={"url": "https://hooks.example/bola"}),
                                   201)["id"]

    def path(self, pattern):
        values = {"{correlationId}": self.correlation, "{tenant_id}": self.ms, "{connectionId}": self.conn,
                  "{externalId}": self.external_id}
        if pattern.startswith("/api/v1/api-keys/"):
            values["{id}"] = str(self.key_id)
        elif pattern.startswith("/api/v1/connections/"):
            values["{id}"] = self.conn
        elif pattern.startswith("/api/v1/webhooks/"):
            values["{id}"] = self.webhook
        elif pattern.startswith("/tenants/{id}"):
            values["{id}"] = self.short_id
        else:
            values["{id}"] = self.slug
        for k, v in values.items():
            pattern = pattern.replace(k, v)
        assert "{" not in pattern, pattern
        return pattern


@pytest.fixture(scope="module")
def owner(api, ctl):
    return Owner(api, ctl)


def body_for(method, pattern, owner):
    if method not in ("POST", "PUT", "PATCH"):
        return None
    if pattern.endswith("/upgrade"):
        return {"extendedExpiryDate": "2031-01-01T00:00:00Z"}
    if pattern.endswith("/theme"):
        return {"primaryColor": "#000000"}
    if pattern == "/tenants/{id}":
        return {"name": f"Stolen {owner.slug}"}
    if method == "PUT":
        return tenant_body(owner.slug, name=f"Stolen {owner.slug}")
    if method == "PATCH":
        return {"description": "stolen"}
    return {}


@pytest.mark.parametrize("method,pattern", PARAM_ROUTES, ids=[f"{m} {p}" for m, p in PARAM_ROUTES])
def test_another_accounts_object_is_404_and_untouched(api, ctl, db, owner, method, pattern):
    stranger = ctl.key(permissions="all")
    before = db.one(f"SELECT version, name, is_active FROM tenants WHERE slug = {sql_quote(owner.slug)}")
    body = body_for(method, pattern, owner)
    r = api.request(method, owner.path(pattern), key=stranger.key, **({"json": body} if body is not None else {}))
    assert r.status_code == 404, f"{method} {owner.path(pattern)}: {r.status_code} {r.text[:300]}"
    assert db.one(f"SELECT version, name, is_active FROM tenants WHERE slug = {sql_quote(owner.slug)}") == before
    assert db.scalar(f"SELECT COUNT(*) FROM connections WHERE id = {sql_quote(owner.conn)} "
                     "AND disconnected_at IS NULL") == "1"
    assert db.scalar(f"SELECT revoked_at FROM api_keys WHERE id = {owner.key_id}") is None
    assert db.scalar(f"SELECT COUNT(*) FROM webhooks WHERE guid = {sql_quote(owner.webhook)} "
                     "AND description IS NULL") == "1"
    if method == "GET":
        # The path names a real object: its owner reads it.
        assert api.get(owner.path(pattern), key=owner.principal.key).status_code == 200, pattern
    # What the stranger's own account sees of it: nothing.
    assert db.scalar("SELECT current_tenant_pk FROM accounts WHERE name = "
                     f"{sql_quote(stranger.account)}") is None
