"""The canonical API, /api/v1, end to end through nginx and MariaDB, in JSON and in XML.

Every route: create (validation, conflicts, idempotency), read (ETag, 304), PUT/PATCH
(If-Match, merge vs replace), DELETE (confirmation, cascade), activate/deactivate (user
status), upgrade, switch, provisioning status, the audit trail, and paging/sorting/filters
on a seeded set of tenants. Each test asserts status, headers, body and the database rows.
"""

import itertools
import random
import re
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

import pytest
import requests

from helpers import (assert_json, assert_problem, assert_xml, describe, is_uuid, localname, media_type,
                     sql_quote, tenant_body, tenantd_routes, wait_provisioned)

LIST = "/api/v1/tenants"
COUNT = "/api/v1/tenants/count"
AUDIT = "/api/v1/audit"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
FORMATS = ("json", "xml")

# fields[] of fcgi-app/surfaces/api_v1.c: the tenant representation, in order.
TENANT_FIELDS = [
    "id", "tenantId", "name", "displayName", "description", "adminEmail", "isActive", "validUpto",
    "expiryState", "connectionString", "issuer", "countryCode", "countryName", "city", "address", "postCode",
    "groupId", "groupName", "isAcademic", "preRelease", "maxUserCount", "maxAnalystCount", "userCount",
    "analystCount", "caseCount", "provisioningStatus", "msTenantId", "tenantDomain", "defaultDomain",
    "domainCount", "mailboxCount", "discoveryCompleted", "exchangeBootstrapStatus", "smtpAuthOrgEnabled",
    "consentedAt", "lastSyncAt", "connectedBy", "createdAt", "updatedAt",
    "externalId", "plan", "metadata",
]
ALL_PERMISSIONS = ("View", "Create", "Update", "Delete", "UpgradeSubscription", "ManageKeys", "ManageWebhooks",
                   "ViewTheme", "UpdateTheme")
PROVISIONING_STATES = ("Pending", "InProgress", "Completed", "Failed")
RFC3339_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


# ---------------------------------------------------------------------------
# JSON and XML, both ways


def xml_text(v):
    """A JSON value as tenantd writes it in XML text (None stays None: xsi:nil)."""
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def to_xml(root, fields):
    """A request body: <root><field>text</field>...</root>; None -> xsi:nil."""
    parts = []
    for k, v in fields.items():
        if v is None:
            parts.append(f'<{k} xsi:nil="true"/>')
        else:
            parts.append(f"<{k}>{escape(xml_text(v))}</{k}>")
    return f'<?xml version="1.0" encoding="UTF-8"?><{root} xmlns:xsi="{XSI}">{"".join(parts)}</{root}>'


LIST_ELEMENTS = {"data", "steps"}


def xml_value(el):
    """An element as JSON-shaped Python with text leaves: nil -> None, <data>/<steps> -> lists."""
    if el.get(f"{{{XSI}}}nil") == "true":
        return None
    kids = [c for c in el if isinstance(c.tag, str)]
    if localname(el) in LIST_ELEMENTS:
        return [xml_value(c) for c in kids]
    if localname(el) == "errors":
        # {field: [message, ...]}; the item elements' names do not matter here.
        return {localname(c): [m.text for m in c if isinstance(m.tag, str)] for c in kids}
    if not kids:
        return el.text or ""
    return {localname(c): xml_value(c) for c in kids}


def xml_keys(el):
    return [localname(c) for c in el if isinstance(c.tag, str)]


def call(api, key, method, path, fmt="json", body=None, root="tenant", headers=None, **kw):
    """A request whose body (when given) and answer are both JSON or both XML."""
    h = dict(headers or {})
    if fmt == "xml":
        h.setdefault("Accept", "application/xml")
        if body is not None:
            h["Content-Type"] = "application/xml"
            kw["data"] = to_xml(root, body).encode()
    elif body is not None:
        kw["json"] = body
    return api.request(method, path, key=key, headers=h, **kw)


def decode(r, status, fmt, root):
    """The answer's body, JSON-shaped (XML leaves are text)."""
    if fmt == "xml":
        return xml_value(assert_xml(r, status, root))
    return assert_json(r, status)


def problem(r, status, fmt="json", code=None):
    """An RFC 9457 problem (application/problem+json or +xml), as a dict."""
    if fmt == "xml":
        doc = assert_xml(r, status, "problem", "application/problem+xml")
        body = xml_value(doc)
        for field in ("type", "title", "status", "detail", "code"):
            assert field in body, f"problem lacks {field!r}{describe(r)}"
        assert body["status"] == str(status), describe(r)
        body["status"] = int(body["status"])
    else:
        body = assert_problem(r, status)
    if code is not None:
        assert body["code"] == code, f"problem code {body['code']!r}, expected {code!r}{describe(r)}"
    return body


def same(got, want, fmt):
    return got == (xml_text(want) if fmt == "xml" else want)


def assert_fields(t, want, fmt, where=""):
    bad = {k: (t.get(k, "<absent>"), v) for k, v in want.items() if not same(t.get(k, "<absent>"), v, fmt)}
    assert not bad, f"{where} fields differ (got, expected): {bad}"


def tenant_of(r, fmt, status=200):
    """The tenant in a 200 answer, with its field order checked."""
    if fmt == "xml":
        doc = assert_xml(r, status, "tenant")
        assert xml_keys(doc) == TENANT_FIELDS, f"XML tenant elements: {xml_keys(doc)}"
        return xml_value(doc)
    t = assert_json(r, status)
    assert list(t) == TENANT_FIELDS, f"JSON tenant members: {list(t)}"
    return t


def utc(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def sql_time(rfc):
    """"2027-01-31T10:00:00Z" -> "2027-01-31 10:00:00" (a DATETIME as the mariadb client prints it)."""
    return rfc.replace("T", " ").replace("Z", "")


# ---------------------------------------------------------------------------
# Database


def trow(db, slug):
    return db.one(f"SELECT * FROM tenants WHERE slug = {sql_quote(slug)}")


def trow_stable(db, slug):
    """The row without provisioning_status, which the provisioner moves on its own."""
    row = trow(db, slug)
    if row is not None:
        row.pop("provisioning_status")
    return row


def account_pk(db, name):
    return db.scalar(f"SELECT id FROM accounts WHERE name = {sql_quote(name)}")


def tenant_count(db, account_id):
    return int(db.scalar(f"SELECT COALESCE(SUM(n), 0) FROM tenant_counts WHERE account_id = {account_id}"))


def audit_rows(db, request_id):
    return db.query("SELECT action, target_id, account_id, outcome FROM audit_events"
                    f" WHERE request_id = {sql_quote(request_id)} ORDER BY id")


def hold_provisioning(db, slug, timeout=10.0):
    """Keeps the provisioner (which seeds an admin user and a default location) away from the tenant
    while a test counts its child rows: a job not yet claimed is parked an hour ahead; one in progress
    is waited for. Returns the job's status."""
    pk = trow(db, slug)["pk"]
    deadline = time.monotonic() + timeout
    while True:
        rows = db.query("UPDATE provisioning_jobs SET next_attempt_at = UTC_TIMESTAMP(3) + INTERVAL 1 HOUR"
                        f" WHERE tenant_pk = {pk} AND status = 'Pending';"
                        f" SELECT status FROM provisioning_jobs WHERE tenant_pk = {pk} ORDER BY id DESC LIMIT 1")
        status = rows[0]["status"] if rows else None
        if status != "InProgress" or time.monotonic() > deadline:
            return status
        time.sleep(0.05)


def rid(tag="canon"):
    return f"{tag}-{uuid.uuid4().hex}"


# ---------------------------------------------------------------------------
# Keys: a pool of keys of one account (the rate limit is per key and route)


class KeyPool:
    def __init__(self, ctl, db, size, permissions="all"):
        first = ctl.key(permissions=permissions)
        self.account = first.account
        self.keys = [first.key] + [ctl.key(account=first.account, permissions=permissions).key
                                   for _ in range(size - 1)]
        self.account_id = int(account_pk(db, first.account))
        self._cycle = itertools.cycle(self.keys)

    def next(self):
        return next(self._cycle)


@pytest.fixture(scope="module")
def validator(ctl, db):
    """Keys of one account for requests that are all refused: afterwards the account has no tenant."""
    pool = KeyPool(ctl, db, 2)
    yield pool
    n = db.scalar(f"SELECT COUNT(*) FROM tenants WHERE account_id = {pool.account_id}")
    assert n == "0", f"refused creates left {n} tenants behind"


@dataclass(frozen=True)
class Owner:
    """A fresh account, authenticated by a dev-issuer JWT whose subject names it (tenantd creates the
    account on first use). Cheaper than tenantctl for the many tests that need one account each."""
    account: str
    key: str  # the bearer credential (a JWT); Api's key= sends it as "Bearer ..."


@pytest.fixture
def fresh_owner(tokens):
    """fresh_owner(permissions=ALL, account=None) -> Owner (account=None: a new account)."""
    def make(permissions=ALL_PERMISSIONS, account=None):
        sub = account or f"canon-{uuid.uuid4().hex[:12]}"
        return Owner(sub, tokens.mint(sub=sub, permissions=permissions, ttl=900))
    return make


@pytest.fixture
def owner(fresh_owner):
    """A fresh account with every permission."""
    return fresh_owner()


@pytest.fixture
def made(api, owner, slug, create_tenant):
    """A tenant of owner's account: (principal, slug)."""
    create_tenant(owner, slug)
    return owner, slug


FULL_SECRET = "s3cr3t-Pa55"


def full_body(slug):
    """Every writable field."""
    return {
        "id": slug,
        "name": f"Full {slug}",
        "displayName": f"Full & Display <{slug}>",
        "description": "Every writable field; unicode: Zürich – 東京",
        "adminEmail": f"admin@{slug}.example",
        "isActive": True,
        "validUpto": "2030-06-30T23:59:59Z",
        "connectionString": f"Server=localhost;Database=tenant_{slug.replace('-', '_')};User Id=app;"
                            f"Password={FULL_SECRET};",
        "issuer": f"https://{slug}.example/auth",
        "countryCode": "DE",
        "city": "Berlin",
        "address": "Unter den Linden 1",
        "postCode": "10117",
        "groupId": "g-42",
        "groupName": "Group 42",
        "isAcademic": True,
        "preRelease": True,
        "maxUserCount": 250,
        "maxAnalystCount": 0,
        "msTenantId": str(uuid.uuid4()),
        "tenantDomain": f"{slug}.onmicrosoft.com",
        "defaultDomain": f"{slug}.example",
        "domainCount": 3,
        "mailboxCount": 40,
        "discoveryCompleted": True,
        "exchangeBootstrapStatus": "ready",
        "smtpAuthOrgEnabled": False,
        "consentedAt": "2026-01-15T10:00:00Z",
        "lastSyncAt": "2026-11-01T08:30:00Z",
        "connectedBy": "ops@example.com",
    }


# ---------------------------------------------------------------------------
# Routes

CANONICAL_ROUTES = {
    ("GET", "/api/v1/tenants", "View"), ("GET", "/api/v1/tenants/count", "View"),
    ("POST", "/api/v1/tenants", "Create"), ("GET", "/api/v1/tenants/{id}", "View"),
    ("PUT", "/api/v1/tenants/{id}", "Update"), ("PATCH", "/api/v1/tenants/{id}", "Update"),
    ("DELETE", "/api/v1/tenants/{id}", "Delete"), ("POST", "/api/v1/tenants/{id}/activate", "Update"),
    ("POST", "/api/v1/tenants/{id}/deactivate", "Update"),
    ("POST", "/api/v1/tenants/{id}/upgrade", "UpgradeSubscription"),
    ("POST", "/api/v1/tenants/{id}/switch", "View"), ("GET", "/api/v1/tenants/{id}/provisioning", "View"),
    ("GET", "/api/v1/provisioning/{correlationId}", "View"), ("GET", "/api/v1/audit", "View"),
}


def test_routes_table_has_the_canonical_api():
    """`tenantd --routes` lists every canonical route with its permission."""
    have = {(m, pat, perm) for m, pat, perm in tenantd_routes()}
    want = {(m, pat, f"Permissions.Multitenancy.{perm}") for m, pat, perm in CANONICAL_ROUTES}
    assert want <= have, f"missing: {sorted(want - have)}"


# ---------------------------------------------------------------------------
# Create and read


@pytest.mark.parametrize("fmt", FORMATS)
def test_create_every_field_then_read(api, owner, slug, db, fmt):
    body = full_body(slug)
    r = call(api, owner.key, "POST", LIST, fmt, body)
    created = decode(r, 202, fmt, "provisioning")
    assert set(created) == {"id", "tenantId", "provisioningCorrelationId", "status"}, created
    assert created["id"] == slug
    assert is_uuid(created["tenantId"]) and is_uuid(created["provisioningCorrelationId"]), created
    assert created["status"] == "Pending", created
    assert r.headers.get("Location") == f"/api/v1/provisioning/{created['provisioningCorrelationId']}", describe(r)

    row = trow(db, slug)
    assert row is not None, f"no tenants row for {slug}"
    assert row["guid"] == created["tenantId"]
    assert row["account_id"] == str(account_pk(db, owner.account))
    assert row["version"] == "1"
    # The database holds the values as given; the connection string sealed (AES-256-GCM).
    assert row["connection_string"].startswith("enc:v1:"), row["connection_string"]
    assert FULL_SECRET not in row["connection_string"]
    row["connection_string"] = body["connectionString"]
    assert {k: row[k] for k in ("name", "display_name", "description", "admin_email", "is_active", "valid_upto",
                                "connection_string", "issuer", "country_code", "city", "address", "post_code",
                                "group_id", "group_name", "is_academic", "pre_release", "max_user_count",
                                "max_analyst_count", "ms_tenant_id", "tenant_domain", "default_domain",
                                "domain_count", "mailbox_count", "discovery_completed",
                                "exchange_bootstrap_status", "smtp_auth_org_enabled", "consented_at",
                                "last_sync_at", "connected_by")} == {
        "name": body["name"], "display_name": body["displayName"], "description": body["description"],
        "admin_email": body["adminEmail"], "is_active": "1", "valid_upto": "2030-06-30 23:59:59",
        "connection_string": body["connectionString"], "issuer": body["issuer"], "country_code": "DE",
        "city": "Berlin", "address": body["address"], "post_code": "10117", "group_id": "g-42",
        "group_name": "Group 42", "is_academic": "1", "pre_release": "1", "max_user_count": "250",
        "max_analyst_count": "0", "ms_tenant_id": body["msTenantId"], "tenant_domain": body["tenantDomain"],
        "default_domain": body["defaultDomain"], "domain_count": "3", "mailbox_count": "40",
        "discovery_completed": "1", "exchange_bootstrap_status": "ready", "smtp_auth_org_enabled": "0",
        "consented_at": "2026-01-15 10:00:00", "last_sync_at": "2026-11-01 08:30:00",
        "connected_by": "ops@example.com"}
    job = db.one("SELECT correlation_id, tenant_pk FROM provisioning_jobs"
                 f" WHERE correlation_id = {sql_quote(created['provisioningCorrelationId'])}")
    assert job == {"correlation_id": created["provisioningCorrelationId"], "tenant_pk": row["pk"]}, job

    for ident in (slug, created["tenantId"]):
        r = call(api, owner.key, "GET", f"{LIST}/{ident}", fmt)
        t = tenant_of(r, fmt)
        assert r.headers.get("ETag") == '"1"', describe(r)
        want = {k: v for k, v in body.items()}
        want["connectionString"] = f"Server=localhost;Database=tenant_{slug.replace('-', '_')};User Id=***;Password=***;"
        want.update(tenantId=created["tenantId"], countryName="Germany", expiryState="Active", userCount=0,
                    analystCount=0, caseCount=0)
        assert_fields(t, want, fmt, f"GET {ident}")
        assert t["provisioningStatus"] in PROVISIONING_STATES, t
        for ts in ("createdAt", "updatedAt"):
            assert RFC3339_UTC.match(t[ts]), f"{ts} {t[ts]!r}"
        assert FULL_SECRET not in r.text, "the connection string's password leaked"


@pytest.mark.parametrize("fmt", FORMATS)
def test_create_minimal_gets_defaults(api, owner, slug, db, fmt):
    body = {"id": slug, "name": f"Minimal {slug}", "adminEmail": f"a@{slug}.example"}
    decode(call(api, owner.key, "POST", LIST, fmt, body), 202, fmt, "provisioning")
    t = tenant_of(call(api, owner.key, "GET", f"{LIST}/{slug}", fmt), fmt)
    assert_fields(t, {
        "id": slug, "name": body["name"], "adminEmail": body["adminEmail"], "displayName": None,
        "description": None, "isActive": True, "validUpto": None, "expiryState": "Active",
        "connectionString": None, "issuer": None, "countryCode": None, "countryName": None,
        "isAcademic": False, "preRelease": False, "maxUserCount": None, "domainCount": 0, "mailboxCount": 0,
        "discoveryCompleted": False, "smtpAuthOrgEnabled": None, "consentedAt": None}, fmt)


def test_create_with_xml_types_and_nil(api, owner, slug, db):
    """XML bodies: booleans as true/false/1/0, integers as text, xsi:nil for null."""
    xml = (f'<tenant xmlns:xsi="{XSI}"><id>{slug}</id><name>X &amp; {slug}</name>'
           f"<adminEmail>x@{slug}.example</adminEmail><isAcademic>1</isAcademic><preRelease>true</preRelease>"
           "<isActive>0</isActive><maxUserCount>17</maxUserCount><description xsi:nil=\"true\"/>"
           "<validUpto>2027-01-01T02:00:00+02:00</validUpto><countryCode>US</countryCode></tenant>")
    r = api.post(LIST, key=owner.key, data=xml.encode(), headers={"Content-Type": "application/xml"})
    assert_json(r, 202)
    t = tenant_of(api.get(f"{LIST}/{slug}", key=owner.key), "json")
    assert_fields(t, {"name": f"X & {slug}", "isAcademic": True, "preRelease": True, "isActive": False,
                      "maxUserCount": 17, "description": None, "validUpto": "2027-01-01T00:00:00Z",
                      "countryCode": "US", "countryName": "United States"}, "json")
    row = trow(db, slug)
    assert (row["is_academic"], row["is_active"], row["max_user_count"], row["description"], row["valid_upto"]) == \
        ("1", "0", "17", None, "2027-01-01 00:00:00"), row


@pytest.mark.parametrize("method", ["POST", "PATCH", "PUT"])
def test_xml_doctype_is_refused(api, owner, slug, db, method, create_tenant):
    """A DOCTYPE (here with an entity) is refused with 400 before anything is used."""
    path = LIST
    if method != "POST":
        create_tenant(owner, slug)
        path = f"{LIST}/{slug}"
    xml = (f'<?xml version="1.0"?><!DOCTYPE tenant [<!ENTITY e "Entity {slug}">]>'
           f"<tenant><id>{slug}</id><name>&e;</name><adminEmail>e@{slug}.example</adminEmail></tenant>")
    r = api.request(method, path, key=owner.key, data=xml.encode(),
                    headers={"Content-Type": "application/xml", "Accept": "application/xml"})
    p = problem(r, 400, "xml")
    assert "DOCTYPE" in p["detail"], p
    row = trow(db, slug)
    if method == "POST":
        assert row is None, "a tenant was created from a DOCTYPE body"
    else:
        assert row["version"] == "1" and row["name"] == f"Tenant {slug}", row


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("given,masked", [
    ("Server=localhost;Database=tenant_app;User Id=app;Password=hunter2;",
     "Server=localhost;Database=tenant_app;User Id=***;Password=***;"),
    ("Host=127.0.0.1; Uid=app; pwd=hunter2; Database=tenant_app",
     "Host=127.0.0.1; Uid=***; pwd=***; Database=tenant_app"),
], ids=["ado-password", "pwd-lowercase"])
def test_connection_string_is_masked(api, owner, slug, db, fmt, given, masked):
    decode(call(api, owner.key, "POST", LIST, fmt, tenant_body(slug, connectionString=given)), 202, fmt,
           "provisioning")
    stored = trow(db, slug)["connection_string"]
    assert stored.startswith("enc:v1:") and "hunter2" not in stored, "the database should hold it sealed"
    r = call(api, owner.key, "GET", f"{LIST}/{slug}", fmt)
    assert same(tenant_of(r, fmt)["connectionString"], masked, fmt), describe(r)
    assert "hunter2" not in r.text
    page = call(api, owner.key, "GET", LIST, fmt)
    assert "hunter2" not in page.text, f"the list shows the password{describe(page)}"
    data = decode(page, 200, fmt, "tenants")["data"]
    assert [same(t["connectionString"], masked, fmt) for t in data if t["id"] == slug] == [True]


@pytest.mark.parametrize("code,name", [("US", "United States"), ("DE", "Germany"), ("JP", "Japan"),
                                       ("GB", "United Kingdom"), ("CI", "Côte d'Ivoire")])
def test_country_name_is_derived(api, owner, slug, create_tenant, code, name):
    create_tenant(owner, slug, countryCode=code)
    t = tenant_of(api.get(f"{LIST}/{slug}", key=owner.key), "json")
    assert (t["countryCode"], t["countryName"]) == (code, name), t


def test_country_name_follows_patches(api, made, db):
    p, slug = made
    r = api.patch(f"{LIST}/{slug}", key=p.key, json={"countryCode": "FR"})
    assert (tenant_of(r, "json")["countryName"]) == "France"
    r = api.patch(f"{LIST}/{slug}", key=p.key, json={"countryCode": None})
    t = tenant_of(r, "json")
    assert (t["countryCode"], t["countryName"]) == (None, None), t
    assert trow(db, slug)["country_code"] is None


# ---------------------------------------------------------------------------
# Validation: one rule per case; every error of a request is reported together

DROP = object()
SLUG_MSG = "must be 2 to 63 lowercase letters, digits or hyphens"
EMAIL_MSG = "must be an email address"
URL_MSG = "must be an http or https URL"
TIME_MSG = "must be an RFC 3339 date-time"
INT_MSG = "must be an integer"
RANGE_MSG = "must be an integer from 0 to 2147483647"
BOOL_MSG = "must be a boolean"
COUNTRY_MSG = "must be an ISO 3166-1 alpha-2 country code"
RO_MSG = "is read-only"

RULES = [
    # (case id, body changes, field, message prefix)
    ("id-missing", {"id": DROP}, "id", "is required"),
    ("id-uppercase", {"id": "Upper-Case"}, "id", SLUG_MSG),
    ("id-leading-hyphen", {"id": "-lead"}, "id", SLUG_MSG),
    ("id-one-char", {"id": "a"}, "id", SLUG_MSG),
    ("id-underscore", {"id": "a_b"}, "id", SLUG_MSG),
    ("id-space", {"id": "a b"}, "id", SLUG_MSG),
    ("id-64-chars", {"id": "a" * 64}, "id", "is too long"),
    ("id-reserved-me", {"id": "me"}, "id", "is a reserved word"),
    ("id-reserved-count", {"id": "count"}, "id", "is a reserved word"),
    ("id-number", {"id": 42}, "id", "must be a string"),
    ("id-null", {"id": None}, "id", "must not be null"),
    ("name-missing", {"name": DROP}, "name", "is required"),
    ("name-null", {"name": None}, "name", "must not be null"),
    ("name-201-chars", {"name": "n" * 201}, "name", "is too long"),
    ("name-object", {"name": {"first": "x"}}, "name", "must be a string"),
    ("adminEmail-missing", {"adminEmail": DROP}, "adminEmail", "is required"),
    ("adminEmail-no-at", {"adminEmail": "admin.example.com"}, "adminEmail", EMAIL_MSG),
    ("adminEmail-no-dot", {"adminEmail": "admin@localhost"}, "adminEmail", EMAIL_MSG),
    ("adminEmail-two-at", {"adminEmail": "a@b@c.example"}, "adminEmail", EMAIL_MSG),
    ("adminEmail-space", {"adminEmail": "ad min@x.example"}, "adminEmail", EMAIL_MSG),
    ("adminEmail-255-chars", {"adminEmail": "a" * 243 + "@x.example.com"}, "adminEmail", "is too long"),
    ("issuer-ftp", {"issuer": "ftp://x.example"}, "issuer", URL_MSG),
    ("issuer-no-scheme", {"issuer": "x.example"}, "issuer", URL_MSG),
    ("issuer-no-host", {"issuer": "https://"}, "issuer", URL_MSG),
    ("issuer-space", {"issuer": "https://x.example/a b"}, "issuer", URL_MSG),
    ("validUpto-date-only", {"validUpto": "2027-01-01"}, "validUpto", TIME_MSG),
    ("validUpto-no-day-30-feb", {"validUpto": "2027-02-30T00:00:00Z"}, "validUpto", TIME_MSG),
    ("validUpto-words", {"validUpto": "next year"}, "validUpto", TIME_MSG),
    ("validUpto-number", {"validUpto": 1798761600}, "validUpto", TIME_MSG),
    ("consentedAt-words", {"consentedAt": "yesterday"}, "consentedAt", TIME_MSG),
    ("lastSyncAt-hour-25", {"lastSyncAt": "2026-01-01T25:00:00Z"}, "lastSyncAt", TIME_MSG),
    ("maxUserCount-negative", {"maxUserCount": -1}, "maxUserCount", RANGE_MSG),
    ("maxUserCount-2147483648", {"maxUserCount": 2147483648}, "maxUserCount", RANGE_MSG),
    ("maxUserCount-string", {"maxUserCount": "5"}, "maxUserCount", INT_MSG),
    ("maxUserCount-fraction", {"maxUserCount": 1.5}, "maxUserCount", INT_MSG),
    ("maxAnalystCount-boolean", {"maxAnalystCount": True}, "maxAnalystCount", INT_MSG),
    ("domainCount-null", {"domainCount": None}, "domainCount", "must not be null"),
    ("mailboxCount-negative", {"mailboxCount": -5}, "mailboxCount", RANGE_MSG),
    ("isActive-string", {"isActive": "true"}, "isActive", BOOL_MSG),
    ("isActive-null", {"isActive": None}, "isActive", "must not be null"),
    ("isAcademic-integer", {"isAcademic": 1}, "isAcademic", BOOL_MSG),
    ("preRelease-string", {"preRelease": "no"}, "preRelease", BOOL_MSG),
    ("countryCode-unknown", {"countryCode": "ZZ"}, "countryCode", COUNTRY_MSG),
    ("countryCode-alpha3", {"countryCode": "USA"}, "countryCode", "is too long"),
    ("countryCode-lowercase", {"countryCode": "us"}, "countryCode", COUNTRY_MSG),
    ("msTenantId-not-guid", {"msTenantId": "not-a-guid"}, "msTenantId", "must be a GUID"),
    ("exchangeBootstrapStatus-unknown", {"exchangeBootstrapStatus": "done"}, "exchangeBootstrapStatus",
     "must be ready, pending or failed"),
    ("description-2001-chars", {"description": "d" * 2001}, "description", "is too long"),
    ("postCode-21-chars", {"postCode": "1" * 21}, "postCode", "is too long"),
    ("unknown-field", {"colour": "blue"}, "colour", "is not a known field"),
    ("unknown-field-case", {"AdminEmail": "a@b.example"}, "AdminEmail", "is not a known field"),
] + [(f"read-only-{f}", {f: v}, f, RO_MSG) for f, v in [
    ("tenantId", str(uuid.uuid4())), ("userCount", 3), ("analystCount", 1), ("caseCount", 2),
    ("provisioningStatus", "Completed"), ("countryName", "Germany"), ("expiryState", "Active"),
    ("createdAt", "2026-01-01T00:00:00Z"), ("updatedAt", "2026-01-01T00:00:00Z")]]


@pytest.mark.parametrize("changes,field,message", [r[1:] for r in RULES], ids=[r[0] for r in RULES])
def test_create_validation_rule(api, validator, db, changes, field, message):
    slug = f"v-{uuid.uuid4().hex[:12]}"
    body = tenant_body(slug)
    for k, v in changes.items():
        if v is DROP:
            body.pop(k, None)
        else:
            body[k] = v
    r = api.post(LIST, key=validator.next(), json=body)
    p = problem(r, 422, code="validation_failed")
    errors = p.get("errors") or {}
    assert field in errors, f"no error for {field!r}: {errors}"
    assert any(m.startswith(message) for m in errors[field]), f"{field}: {errors[field]}, expected {message!r}"
    # Only the broken field is reported (and nothing is written: see the validator fixture).
    assert list(errors) == [field], errors


@pytest.mark.parametrize("fmt", FORMATS)
def test_create_reports_every_error_together(api, validator, db, fmt):
    slug = f"v-{uuid.uuid4().hex[:12]}"
    if fmt == "json":
        body = {"id": "Bad_Slug", "name": "n" * 201, "adminEmail": "nope", "issuer": "ftp://x", "validUpto": "soon",
                "maxUserCount": -1, "isAcademic": "yes", "countryCode": "ZZ", "tenantId": slug, "colour": "red"}
    else:
        body = {"id": "Bad_Slug", "name": "n" * 201, "adminEmail": "nope", "issuer": "ftp://x", "validUpto": "soon",
                "maxUserCount": "many", "isAcademic": "yes", "countryCode": "ZZ", "tenantId": slug, "colour": "red"}
    r = call(api, validator.next(), "POST", LIST, fmt, body)
    p = problem(r, 422, fmt, "validation_failed")
    assert set(p["errors"]) == set(body), p["errors"]
    assert p["errors"]["colour"] == ["is not a known field"]
    assert p["errors"]["tenantId"] == ["is read-only"]
    # Required fields that are missing are reported with the rest.
    r = call(api, validator.next(), "POST", LIST, fmt, {"countryCode": "ZZ"})
    p = problem(r, 422, fmt, "validation_failed")
    assert p["errors"] == {"countryCode": [COUNTRY_MSG], "id": ["is required"], "name": ["is required"],
                           "adminEmail": ["is required"]}, p["errors"]


def test_xml_validation_of_text_values(api, validator):
    """In XML every value is text: booleans must be true/false/1/0 and integers digits."""
    slug = f"v-{uuid.uuid4().hex[:12]}"
    r = call(api, validator.next(), "POST", LIST, "xml",
             tenant_body(slug, isActive="yes", maxUserCount="12a", domainCount="-1", preRelease="TRUE"))
    p = problem(r, 422, "xml", "validation_failed")
    assert p["errors"] == {"isActive": [BOOL_MSG], "maxUserCount": [INT_MSG], "domainCount": [RANGE_MSG],
                           "preRelease": [BOOL_MSG]}, p["errors"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_create_boundaries_are_accepted(api, owner, db, fmt):
    tag = uuid.uuid4().hex[:8]
    slug63 = f"b{tag}-" + "x" * (63 - len(tag) - 2)
    assert len(slug63) == 63
    body = {"id": slug63, "name": f"{tag} " + "N" * (200 - len(tag) - 1), "adminEmail": f"a@{tag}.example",
            "maxUserCount": 2147483647, "maxAnalystCount": 0, "issuer": "http://h"}
    decode(call(api, owner.key, "POST", LIST, fmt, body), 202, fmt, "provisioning")
    row = trow(db, slug63)
    assert (len(row["name"]), row["max_user_count"], row["max_analyst_count"]) == (200, "2147483647", "0"), row
    two = f"{random.choice('abcdefghijklmnopqrstuvwxyz')}{random.randint(0, 9)}"
    if trow(db, two) is None:  # two-character slugs are few; another run may have taken this one
        decode(call(api, owner.key, "POST", LIST, fmt, tenant_body(two, name=f"Two {tag}")), 202, fmt,
               "provisioning")
        assert trow(db, two)["name"] == f"Two {tag}"


def test_body_errors_before_fields(api, owner, slug, db):
    """Malformed JSON -> 400, unsupported media type -> 415, no body -> 400; nothing written."""
    problem(api.post(LIST, key=owner.key, data=b'{"id": ', headers={"Content-Type": "application/json"}), 400)
    problem(api.post(LIST, key=owner.key, data=f'{{"id": "{slug}", "id": "{slug}"}}'.encode(),
                     headers={"Content-Type": "application/json"}), 400)
    problem(api.post(LIST, key=owner.key, data=b"<tenant><id>", headers={"Content-Type": "application/xml",
                                                                          "Accept": "application/xml"}), 400, "xml")
    problem(api.post(LIST, key=owner.key, data=b"id=x", headers={"Content-Type": "application/x-www-form-urlencoded"}),
            415)
    problem(api.post(LIST, key=owner.key), 400)
    # JSON strings with NUL are malformed for tenantd's parser.
    problem(api.post(LIST, key=owner.key, json=tenant_body(slug, city="Ber\u0000lin")), 400)
    assert trow(db, slug) is None


# ---------------------------------------------------------------------------
# 404: unknown tenants and other accounts' tenants, on every {id} route


def id_routes(slug, name):
    """(method, path suffix, body) for every route under /api/v1/tenants/{id}."""
    return [
        ("GET", "", None),
        ("PUT", "", {"name": f"Taken over {slug}", "adminEmail": "x@evil.example"}),
        ("PATCH", "", {"city": "Elsewhere"}),
        ("DELETE", f"?confirmName={name}&confirmDisplayName={name}", None),
        ("POST", "/activate", {"userStatus": 2}),
        ("POST", "/deactivate", None),
        ("POST", "/upgrade", {"extendedExpiryDate": "2099-01-01T00:00:00Z"}),
        ("POST", "/switch", None),
        ("GET", "/provisioning", None),
    ]


@pytest.mark.parametrize("fmt", FORMATS)
def test_unknown_and_foreign_tenants_are_404(api, fresh_owner, slug, db, fmt, create_tenant):
    owner, other = fresh_owner(), fresh_owner()
    created = create_tenant(owner, slug).json()
    name = f"Tenant {slug}"
    cols = "version, name, admin_email, city, is_active, valid_upto, updated_at, account_id"
    before = db.one(f"SELECT {cols} FROM tenants WHERE slug = {sql_quote(slug)}")
    assert_json(api.get(COUNT, key=other.key), 200)  # the other account exists from here on
    other_pk = account_pk(db, other.account)
    for ident in ("no-such-tenant", str(uuid.uuid4()), slug, created["tenantId"]):
        for method, suffix, body in id_routes(slug, name):
            r = call(api, other.key, method, f"{LIST}/{ident}{suffix}", fmt, body)
            problem(r, 404, fmt, "tenant_not_found")
    assert db.one(f"SELECT {cols} FROM tenants WHERE slug = {sql_quote(slug)}") == before, \
        "another account changed the tenant"
    assert db.scalar(f"SELECT current_tenant_pk FROM accounts WHERE id = {other_pk}") is None
    r = call(api, other.key, "GET", f"/api/v1/provisioning/{created['provisioningCorrelationId']}", fmt)
    problem(r, 404, fmt, "provisioning_not_found")
    problem(call(api, owner.key, "GET", f"/api/v1/provisioning/{uuid.uuid4()}", fmt), 404, fmt,
            "provisioning_not_found")
    # The owner still sees it.
    tenant_of(call(api, owner.key, "GET", f"{LIST}/{slug}", fmt), fmt)


# ---------------------------------------------------------------------------
# Provisioning status


@pytest.mark.parametrize("fmt", FORMATS)
def test_provisioning_status_routes(api, owner, slug, db, fmt):
    r = call(api, owner.key, "POST", LIST, fmt, tenant_body(slug))
    created = decode(r, 202, fmt, "provisioning")
    cid = created["provisioningCorrelationId"]
    for path in (r.headers["Location"], f"/api/v1/provisioning/{cid}", f"{LIST}/{slug}/provisioning",
                 f"{LIST}/{created['tenantId']}/provisioning"):
        job = decode(call(api, owner.key, "GET", path, fmt), 200, fmt, "provisioning")
        assert job["correlationId"] == cid, job
        assert (job["id"], job["tenantId"]) == (slug, created["tenantId"]), job
        assert job["status"] in PROVISIONING_STATES, job
        assert [s["name"] for s in job["steps"]] == ["validate", "database", "seed", "activate"], job
        assert all(s["status"] in PROVISIONING_STATES for s in job["steps"]), job
        assert "error" in job and RFC3339_UTC.match(job["createdAt"]), job
    row = db.one(f"SELECT status FROM provisioning_jobs WHERE correlation_id = {sql_quote(cid)}")
    assert row is not None and row["status"] in PROVISIONING_STATES


# ---------------------------------------------------------------------------
# Conflicts


@pytest.mark.parametrize("fmt", FORMATS)
def test_duplicate_slug_or_name_409(api, fresh_owner, slug, db, fmt, create_tenant):
    a, b = fresh_owner(), fresh_owner()
    create_tenant(a, slug, name=f"Original {slug}")
    other = f"o-{uuid.uuid4().hex[:12]}"
    cases = [(a, tenant_body(slug, name=f"Other {slug}"), "id"),
             (b, tenant_body(slug, name=f"Third {slug}"), "id"),
             (a, tenant_body(other, name=f"Original {slug}"), "name"),
             (b, tenant_body(other, name=f"ORIGINAL {slug}".lower().title()), "name")]
    for who, body, what in cases:
        p = problem(call(api, who.key, "POST", LIST, fmt, body), 409, fmt, "tenant_exists")
        assert what in p["detail"], p
    assert db.scalar(f"SELECT COUNT(*) FROM tenants WHERE slug IN ({sql_quote(slug)}, {sql_quote(other)})") == "1"
    # Renaming onto another tenant's name is a conflict too, and changes nothing.
    create_tenant(a, other)
    p = problem(call(api, a.key, "PATCH", f"{LIST}/{other}", fmt, {"name": f"Original {slug}"}), 409, fmt,
                "tenant_exists")
    assert trow(db, other)["name"] == f"Tenant {other}" and trow(db, other)["version"] == "1", p


@pytest.mark.parametrize("clash", ["slug", "name"])
def test_concurrent_creates_exactly_one_wins(api, stack, owner, db, clash):
    n = 10
    tag = uuid.uuid4().hex[:10]
    bodies = []
    for i in range(n):
        s = f"c-{tag}" if clash == "slug" else f"c-{tag}-{i}"
        bodies.append(tenant_body(s, name=f"Burst {tag} {i}" if clash == "slug" else f"Burst {tag}"))
    assert_json(api.get(COUNT, key=owner.key), 200)  # the account exists before the burst
    barrier = threading.Barrier(n)
    results = [None] * n

    def worker(i):
        with requests.Session() as s:
            barrier.wait(timeout=10)
            try:
                results[i] = s.post(stack.url + LIST, json=bodies[i], timeout=30,
                                    headers={"Authorization": f"Bearer {owner.key}"})
            except requests.RequestException as e:  # reported below
                results[i] = e

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    statuses = [getattr(r, "status_code", repr(r)) for r in results]
    assert sorted(statuses, key=str) == [202] + [409] * (n - 1), statuses
    for r in results:
        if r.status_code == 409:
            assert r.json()["code"] == "tenant_exists", describe(r)
    acc = account_pk(db, owner.account)
    like = sql_quote(f"c-{tag}%")
    assert db.scalar(f"SELECT COUNT(*) FROM tenants WHERE slug LIKE {like}") == "1"
    assert tenant_count(db, acc) == 1, "tenant_counts must count the one winner"
    assert db.scalar(f"SELECT COUNT(*) FROM audit_events WHERE account_id = {acc} AND action = 'tenant.create'") == "1"
    winner = next(r for r in results if r.status_code == 202).json()
    assert db.scalar("SELECT COUNT(*) FROM provisioning_jobs j JOIN tenants t ON t.pk = j.tenant_pk"
                     f" WHERE t.slug = {sql_quote(winner['id'])}") == "1"


def test_concurrent_idempotent_creates_replay_one(api, stack, owner, slug, db):
    """The same Idempotency-Key and body ten times at once: one creates, nine replay its answer."""
    n = 10
    key = f"burst-{uuid.uuid4()}"
    assert_json(api.get(COUNT, key=owner.key), 200)  # the account exists before the burst
    barrier = threading.Barrier(n)
    results = [None] * n

    def worker(i):
        with requests.Session() as s:
            barrier.wait(timeout=10)
            try:
                results[i] = s.post(stack.url + LIST, json=tenant_body(slug), timeout=30,
                                    headers={"Authorization": f"Bearer {owner.key}", "Idempotency-Key": key})
            except requests.RequestException as e:
                results[i] = e

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert [getattr(r, "status_code", repr(r)) for r in results] == [202] * n
    assert sorted(r.headers.get("Idempotent-Replayed", "") for r in results) == [""] + ["true"] * (n - 1)
    assert len({r.text for r in results}) == 1, [r.text for r in results]
    assert db.scalar(f"SELECT COUNT(*) FROM tenants WHERE slug = {sql_quote(slug)}") == "1"
    assert tenant_count(db, account_pk(db, owner.account)) == 1


# ---------------------------------------------------------------------------
# Idempotency-Key


@pytest.mark.parametrize("fmt", FORMATS)
def test_idempotent_replay_and_key_reuse(api, owner, slug, db, fmt):
    key = f"idem-{uuid.uuid4()}"
    body = tenant_body(slug)
    h = {"Idempotency-Key": key}
    first = call(api, owner.key, "POST", LIST, fmt, body, headers=h)
    created = decode(first, 202, fmt, "provisioning")
    assert "Idempotent-Replayed" not in first.headers
    again = call(api, owner.key, "POST", LIST, fmt, body, headers=h)
    assert decode(again, 202, fmt, "provisioning") == created
    assert again.headers.get("Idempotent-Replayed") == "true", describe(again)
    assert again.headers.get("Location") == first.headers.get("Location")
    assert db.scalar(f"SELECT COUNT(*) FROM tenants WHERE slug = {sql_quote(slug)}") == "1"
    assert db.scalar("SELECT COUNT(*) FROM provisioning_jobs j JOIN tenants t ON t.pk = j.tenant_pk"
                     f" WHERE t.slug = {sql_quote(slug)}") == "1"
    acc = account_pk(db, owner.account)
    assert tenant_count(db, acc) == 1
    # The same key with another body.
    other = f"i-{uuid.uuid4().hex[:12]}"
    p = problem(call(api, owner.key, "POST", LIST, fmt, tenant_body(other), headers=h), 422, fmt,
                "idempotency_key_reused")
    assert p["detail"], p
    assert trow(db, other) is None
    # Without the key, the same body is a plain duplicate.
    problem(call(api, owner.key, "POST", LIST, fmt, body), 409, fmt, "tenant_exists")
    assert db.scalar(f"SELECT COUNT(*) FROM idempotency_keys WHERE account_id = {acc}") == "1"


def test_idempotency_key_is_per_account(api, fresh_owner, db):
    a, b = fresh_owner(), fresh_owner()
    key = f"shared-{uuid.uuid4()}"
    s1, s2 = f"i-{uuid.uuid4().hex[:12]}", f"i-{uuid.uuid4().hex[:12]}"
    assert_json(api.post(LIST, key=a.key, json=tenant_body(s1), headers={"Idempotency-Key": key}), 202)
    r = api.post(LIST, key=b.key, json=tenant_body(s2), headers={"Idempotency-Key": key})
    assert_json(r, 202)
    assert "Idempotent-Replayed" not in r.headers
    assert trow(db, s2)["account_id"] == account_pk(db, b.account)


# ---------------------------------------------------------------------------
# ETags: 304, If-Match and 412


@pytest.mark.parametrize("fmt", FORMATS)
def test_etag_if_none_match_304(api, made, fmt):
    p, slug = made
    r = call(api, p.key, "GET", f"{LIST}/{slug}", fmt)
    etag = r.headers.get("ETag")
    assert etag == '"1"', describe(r)
    for inm in (etag, f"W/{etag}", f'"99", {etag}', "*"):
        r = call(api, p.key, "GET", f"{LIST}/{slug}", fmt, headers={"If-None-Match": inm})
        assert r.status_code == 304, f"If-None-Match {inm}{describe(r)}"
        assert r.content == b"", describe(r)
        assert r.headers.get("ETag") == etag
        assert r.headers.get("X-Request-Id")
    r = call(api, p.key, "GET", f"{LIST}/{slug}", fmt, headers={"If-None-Match": '"2"'})
    tenant_of(r, fmt)


@pytest.mark.parametrize("fmt", FORMATS)
def test_if_match_412_changes_nothing(api, made, db, fmt):
    p, slug = made
    before = trow_stable(db, slug)
    name = before["name"]
    stale = {"If-Match": '"7"'}
    cases = [("PATCH", "", {"city": "Nowhere"}), ("PUT", "", {"name": "Replaced", "adminEmail": "r@r.example"}),
             ("DELETE", f"?confirmName={name}&confirmDisplayName={name}", None)]
    for method, suffix, body in cases:
        r = call(api, p.key, method, f"{LIST}/{slug}{suffix}", fmt, body, headers=stale)
        problem(r, 412, fmt, "precondition_failed")
    assert trow_stable(db, slug) == before, "a 412 changed the row"

    # The matching version applies the change, and the version moves on.
    r = call(api, p.key, "PATCH", f"{LIST}/{slug}", fmt, {"city": "Lyon"}, headers={"If-Match": '"1"'})
    assert same(tenant_of(r, fmt)["city"], "Lyon", fmt)
    assert r.headers.get("ETag") == '"2"', describe(r)
    assert trow(db, slug)["version"] == "2"
    # The old ETag is stale now.
    problem(call(api, p.key, "PATCH", f"{LIST}/{slug}", fmt, {"city": "Nice"}, headers={"If-Match": '"1"'}), 412,
            fmt)
    r = call(api, p.key, "PUT", f"{LIST}/{slug}", fmt, {"name": name, "adminEmail": "n@n.example"},
             headers={"If-Match": 'W/"2"'})
    assert r.headers.get("ETag") == '"3"', describe(r)
    assert tenant_of(r, fmt)["city"] is None
    r = call(api, p.key, "GET", f"{LIST}/{slug}", fmt)
    assert r.headers.get("ETag") == '"3"'
    r = call(api, p.key, "DELETE", f"{LIST}/{slug}?confirmName={name}&confirmDisplayName={name}", fmt,
             headers={"If-Match": '"3"'})
    decode(r, 200, fmt, "deletion")
    assert trow(db, slug) is None


# ---------------------------------------------------------------------------
# PATCH merges, PUT replaces


@pytest.mark.parametrize("fmt", FORMATS)
def test_patch_merges_and_null_clears(api, owner, slug, db, fmt, create_tenant):
    create_tenant(owner, slug, city="Oslo", description="Before", maxUserCount=9, isAcademic=True)
    r = call(api, owner.key, "PATCH", f"{LIST}/{slug}", fmt, {"description": "After", "postCode": "0150"})
    t = tenant_of(r, fmt)
    assert_fields(t, {"description": "After", "postCode": "0150", "city": "Oslo", "maxUserCount": 9,
                      "isAcademic": True, "name": f"Tenant {slug}"}, fmt)
    r = call(api, owner.key, "PATCH", f"{LIST}/{slug}", fmt, {"city": None, "maxUserCount": None,
                                                              "isAcademic": False})
    t = tenant_of(r, fmt)
    assert_fields(t, {"city": None, "maxUserCount": None, "isAcademic": False, "description": "After"}, fmt)
    row = trow(db, slug)
    assert (row["city"], row["max_user_count"], row["is_academic"], row["description"], row["version"]) == \
        (None, None, "0", "After", "3"), row
    # Non-nullable fields cannot be cleared; the same id is fine; another id is not.
    p = problem(call(api, owner.key, "PATCH", f"{LIST}/{slug}", fmt, {"name": None, "isActive": None}), 422, fmt,
                "validation_failed")
    assert set(p["errors"]) == {"name", "isActive"}, p
    tenant_of(call(api, owner.key, "PATCH", f"{LIST}/{slug}", fmt, {"id": slug}), fmt)
    p = problem(call(api, owner.key, "PATCH", f"{LIST}/{slug}", fmt, {"id": f"{slug}-x"}), 422, fmt)
    assert p["errors"] == {"id": ["cannot be changed"]}, p
    p = problem(call(api, owner.key, "PATCH", f"{LIST}/{slug}", fmt, {"userCount": 5, "colour": "x"}), 422, fmt)
    assert p["errors"] == {"userCount": [RO_MSG], "colour": ["is not a known field"]}, p
    assert trow(db, slug)["version"] == "4"
    assert trow(db, f"{slug}-x") is None


@pytest.mark.parametrize("fmt", FORMATS)
def test_put_replaces_the_whole_tenant(api, owner, slug, db, fmt):
    body = full_body(slug)
    assert_json(api.post(LIST, key=owner.key, json={**body, "isActive": False}), 202)
    # The PUT activates it (isActive defaults to true) whatever its own database's provisioning
    # is doing: forced (test_activation_refused.py has the refusal). Where no server answers for
    # the connection string's localhost (the cluster test), that provisioning fails.
    new = {"name": f"Replaced {slug}", "adminEmail": f"new@{slug}.example", "city": "Rome"}
    r = call(api, owner.key, "PUT", f"{LIST}/{slug}?force=true", fmt, new)
    t = tenant_of(r, fmt)
    assert_fields(t, {"id": slug, "name": new["name"], "adminEmail": new["adminEmail"], "city": "Rome",
                      "displayName": None, "description": None, "validUpto": None, "connectionString": None,
                      "issuer": None, "countryCode": None, "countryName": None, "address": None, "postCode": None,
                      "groupId": None, "groupName": None, "isAcademic": False, "preRelease": False,
                      "maxUserCount": None, "maxAnalystCount": None, "msTenantId": None, "domainCount": 0,
                      "mailboxCount": 0, "discoveryCompleted": False, "exchangeBootstrapStatus": None,
                      "smtpAuthOrgEnabled": None, "consentedAt": None, "lastSyncAt": None, "connectedBy": None,
                      "isActive": True}, fmt)
    row = trow(db, slug)
    assert (row["name"], row["city"], row["connection_string"], row["country_code"], row["is_active"],
            row["domain_count"], row["version"]) == (new["name"], "Rome", None, None, "1", "0", "2"), row
    # name and adminEmail are required; a different id is refused; nothing changes.
    p = problem(call(api, owner.key, "PUT", f"{LIST}/{slug}", fmt, {"city": "Paris"}), 422, fmt,
                "validation_failed")
    assert p["errors"] == {"name": ["is required"], "adminEmail": ["is required"]}, p
    p = problem(call(api, owner.key, "PUT", f"{LIST}/{slug}", fmt, {**new, "id": "someone-else"}), 422, fmt)
    assert p["errors"] == {"id": ["cannot be changed"]}, p
    assert trow(db, slug)["version"] == "2"
    tenant_of(call(api, owner.key, "PUT", f"{LIST}/{slug}", fmt, {**new, "id": slug}), fmt)
    assert trow(db, slug)["version"] == "3"


# ---------------------------------------------------------------------------
# DELETE: confirmation and cascade


@pytest.mark.parametrize("display", [None, "Shown Name"], ids=["no-display-name", "display-name"])
def test_delete_needs_both_confirmations(api, owner, slug, db, create_tenant, display):
    name = f"Tenant {slug}"
    create_tenant(owner, slug, displayName=display)
    shown = display or name
    bad = [
        ({"confirmName": name}, "confirmDisplayName"),
        ({"confirmDisplayName": shown}, "confirmName"),
        ({"confirmName": name.upper(), "confirmDisplayName": shown}, "confirmName"),
        ({"confirmName": name, "confirmDisplayName": shown + " "}, "confirmDisplayName"),
        ({"confirmName": name, "confirmDisplayName": "Shown Name" if display is None else name},
         "confirmDisplayName"),
    ]
    for params, field in bad:
        p = problem(api.delete(f"{LIST}/{slug}", key=owner.key, params=params), 422, code="validation_failed")
        assert list(p["errors"]) == [field], (params, p)
        # The same in a JSON body.
        p = problem(api.delete(f"{LIST}/{slug}", key=owner.key, json=params), 422)
        assert list(p["errors"]) == [field], (params, p)
    row = trow(db, slug)
    assert row is not None and row["version"] == "1", "a refused delete changed the tenant"
    r = api.delete(f"{LIST}/{slug}", key=owner.key, params={"confirmName": name, "confirmDisplayName": shown})
    assert assert_json(r, 200)["deleted"] is True
    assert trow(db, slug) is None


@pytest.mark.parametrize("params", [{}, {"confirmName": "wrong", "confirmDisplayName": "wrong"}],
                         ids=["both-missing", "both-wrong"])
def test_delete_reports_both_confirmations(api, made, db, params):
    """Every refused confirmation is reported at once."""
    p, slug = made
    body = problem(api.delete(f"{LIST}/{slug}", key=p.key, params=params), 422, code="validation_failed")
    assert trow(db, slug) is not None
    assert set(body["errors"]) == {"confirmName", "confirmDisplayName"}, body["errors"]


LONG_NAME = "€" * 150  # 150 characters (the limit is 200), 450 bytes of UTF-8


def test_delete_long_name_confirmed_in_query(api, owner, slug, db, create_tenant):
    create_tenant(owner, slug, name=f"{LONG_NAME} {slug}")
    name = f"{LONG_NAME} {slug}"
    r = api.delete(f"{LIST}/{slug}", key=owner.key, params={"confirmName": name, "confirmDisplayName": name})
    assert_json(r, 200)
    assert trow(db, slug) is None


def test_delete_long_name_answers_with_the_deletion(api, owner, slug, db, create_tenant):
    name = f"{LONG_NAME} {slug}"
    create_tenant(owner, slug, name=name)
    r = api.delete(f"{LIST}/{slug}", key=owner.key, json={"confirmName": name, "confirmDisplayName": name})
    assert trow(db, slug) is None  # the delete itself happens
    d = assert_json(r, 200)
    assert d["name"] == name and d["deleted"] is True, d


def cascade_state(db, pk, keep_pk, account):
    """Everything the delete touches, in one query: the children of pk and keep_pk, the account's
    current tenant and the unfiltered counts (tenant_counts) of the account and of all accounts."""
    sub = []
    for tag, p in (("", pk), ("keep_", keep_pk)):
        sub += [f"(SELECT COUNT(*) FROM provisioning_jobs WHERE tenant_pk = {p}) AS {tag}provisioningJobs",
                f"(SELECT COUNT(*) FROM api_keys WHERE tenant_pk = {p}) AS {tag}apiKeys",
                f"(SELECT COUNT(*) FROM tenant_users WHERE tenant_pk = {p}) AS {tag}users",
                f"(SELECT COUNT(*) FROM tenant_locations WHERE tenant_pk = {p}) AS {tag}locations"]
    sub += [f"(SELECT COUNT(*) FROM tenants WHERE pk = {pk}) AS tenant_rows",
            f"(SELECT current_tenant_pk FROM accounts WHERE id = {account}) AS current_tenant_pk",
            f"(SELECT COALESCE(SUM(n), 0) FROM tenant_counts WHERE account_id = {account}) AS account_count",
            "(SELECT COALESCE(SUM(n), 0) FROM tenant_counts WHERE account_id = 0) AS all_count"]
    row = db.one("SELECT " + ", ".join(sub))
    return {k: (v if k == "current_tenant_pk" else int(v)) for k, v in row.items()}


@pytest.mark.parametrize("how", ["query-json", "json-body", "xml-body", "query-xml"])
def test_delete_cascades_every_child(api, ctl, owner, slug, db, create_tenant, how):
    name, display = f"Tenant {slug}", f"Display {slug}"
    created = create_tenant(owner, slug, displayName=display).json()
    other = f"{slug}-keep"
    create_tenant(owner, other)
    hold_provisioning(db, slug)
    hold_provisioning(db, other)
    ids = db.one("SELECT a.id AS account, t.pk, k.pk AS keep_pk FROM tenants t JOIN accounts a ON a.id = t.account_id"
                 f" JOIN tenants k ON k.slug = {sql_quote(other)} WHERE t.slug = {sql_quote(slug)}")
    acc, pk, keep_pk = ids["account"], ids["pk"], ids["keep_pk"]
    db.query("INSERT INTO tenant_users (tenant_pk, email, status, is_support) VALUES "
             f"({pk}, 'u1@{slug}.example', 1, 0), ({pk}, 'u2@{slug}.example', 0, 0),"
             f" ({pk}, 'support@{slug}.example', 1, 1), ({keep_pk}, 'k@{slug}.example', 1, 0);"
             " INSERT INTO tenant_locations (tenant_pk, name, is_default) VALUES "
             f"({pk}, 'HQ', 0), ({pk}, 'Branch', 0), ({keep_pk}, 'Kept', 0)")
    ctl.run("key", "create", "--account", owner.account, "--kind", "tenant", "--tenant", slug,
            "--permissions", "View")
    assert_json(api.post(f"{LIST}/{slug}/switch", key=owner.key), 200)
    before = cascade_state(db, pk, keep_pk, acc)
    assert before["current_tenant_pk"] == pk, before
    mine = {k: before[k] for k in ("provisioningJobs", "apiKeys", "users", "locations")}
    assert mine["provisioningJobs"] == 1 and mine["apiKeys"] == 1, before
    assert mine["users"] >= 3 and mine["locations"] >= 2, before

    confirm = {"confirmName": name, "confirmDisplayName": display}
    request_id = rid("delete")
    h = {"X-Request-Id": request_id}
    if how == "query-json":
        r = api.delete(f"{LIST}/{slug}", key=owner.key, params=confirm, headers=h)
        d = assert_json(r, 200)
    elif how == "query-xml":
        r = api.delete(f"{LIST}/{created['tenantId']}", key=owner.key, params=confirm,
                       headers={**h, "Accept": "application/xml"})
        d = xml_value(assert_xml(r, 200, "deletion"))
    elif how == "json-body":
        d = assert_json(api.delete(f"{LIST}/{slug}", key=owner.key, json=confirm, headers=h), 200)
    else:
        r = api.delete(f"{LIST}/{slug}", key=owner.key, data=to_xml("confirmation", confirm).encode(),
                       headers={**h, "Content-Type": "application/xml", "Accept": "application/xml"})
        d = xml_value(assert_xml(r, 200, "deletion"))
    fmt = "xml" if "xml" in how else "json"
    assert_fields(d, {"id": slug, "tenantId": created["tenantId"], "name": name, "deleted": True}, fmt)
    assert {k: int(v) for k, v in d["removed"].items()} == mine, d

    after = cascade_state(db, pk, keep_pk, acc)
    assert after == {**before, "provisioningJobs": 0, "apiKeys": 0, "users": 0, "locations": 0, "tenant_rows": 0,
                     "current_tenant_pk": None, "account_count": before["account_count"] - 1,
                     "all_count": before["all_count"] - 1}, f"before {before}, after {after}"
    assert [(a["action"], a["target_id"]) for a in audit_rows(db, request_id)] == [("tenant.delete", slug)]
    problem(api.get(f"{LIST}/{slug}", key=owner.key), 404, code="tenant_not_found")
    problem(api.delete(f"{LIST}/{slug}", key=owner.key, params=confirm), 404)
    tenant_of(api.get(f"{LIST}/{other}", key=owner.key), "json")


# ---------------------------------------------------------------------------
# activate / deactivate with userStatus


def activation_state(db, pk):
    """(is_active, version, {user: status} of non-support users, {user: status} of support users)."""
    rows = db.query(f"SELECT u.email, u.status, u.is_support, t.is_active, t.version FROM tenants t"
                    f" LEFT JOIN tenant_users u ON u.tenant_pk = t.pk WHERE t.pk = {pk}")
    users = {"0": {}, "1": {}}
    for r in rows:
        if r["email"] is not None:
            users[r["is_support"]][r["email"].split("@")[0]] = r["status"]
    return rows[0]["is_active"], rows[0]["version"], users["0"], users["1"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_activate_deactivate_set_user_status(api, owner, slug, db, fmt, create_tenant):
    create_tenant(owner, slug)
    # Activation waits for provisioning, which seeds its admin user (a user like alice below).
    wait_provisioned(db, slug)
    pk = trow(db, slug)["pk"]
    db.query("INSERT INTO tenant_users (tenant_pk, email, status, is_support) VALUES "
             f"({pk}, 'alice@x.example', 1, 0), ({pk}, 'bob@x.example', 0, 0), ({pk}, 'sup@x.example', 1, 1)")

    r = call(api, owner.key, "POST", f"{LIST}/{slug}/deactivate", fmt, {"userStatus": 2})
    t = tenant_of(r, fmt)
    assert same(t["isActive"], False, fmt), t
    assert r.headers.get("ETag") == '"2"'
    active, version, users, support = activation_state(db, pk)
    assert (active, version) == ("0", "2")
    assert users.get("alice") and set(users.values()) == {"2"}, users  # every non-support user
    assert support == {"sup": "1"}, "support users must keep their status"

    r = call(api, owner.key, "POST", f"{LIST}/{slug}/activate", fmt, {"userStatus": 1})
    assert same(tenant_of(r, fmt)["isActive"], True, fmt)
    active, version, users, support = activation_state(db, pk)
    assert (active, version, set(users.values()), support) == ("1", "3", {"1"}, {"sup": "1"}), users

    # Without a body (or with null) the users are left alone.
    db.query(f"UPDATE tenant_users SET status = 0 WHERE tenant_pk = {pk} AND email LIKE 'bob@%'")
    tenant_of(call(api, owner.key, "POST", f"{LIST}/{slug}/deactivate", fmt), fmt)
    tenant_of(call(api, owner.key, "POST", f"{LIST}/{slug}/activate", fmt, {"userStatus": None}), fmt)
    active, version, users, support = activation_state(db, pk)
    assert (active, version, users["bob"], users["alice"]) == ("1", "5", "0", "1"), users
    db.query(f"UPDATE tenant_users SET status = 2 WHERE tenant_pk = {pk} AND is_support = 1")
    tenant_of(call(api, owner.key, "POST", f"{LIST}/{slug}/deactivate", fmt, {"userStatus": 0}), fmt)
    active, version, users, support = activation_state(db, pk)
    assert (active, version, set(users.values()), support) == ("0", "6", {"0"}, {"sup": "2"}), users

    bad = [{"userStatus": 3}, {"userStatus": -1}] + ([{"userStatus": "1"}, {"userStatus": True}] if fmt == "json"
                                                      else [{"userStatus": "x"}, {"userStatus": "12"}])
    for body in bad:
        p = problem(call(api, owner.key, "POST", f"{LIST}/{slug}/activate", fmt, body), 422, fmt,
                    "validation_failed")
        assert list(p["errors"]) == ["userStatus"], p
    assert activation_state(db, pk)[:2] == ("0", "6"), "a refused activate changed the tenant"


def test_deactivated_tenants_are_listed_as_inactive(api, owner, slug, create_tenant):
    create_tenant(owner, slug)
    assert_json(api.post(f"{LIST}/{slug}/deactivate", key=owner.key), 200)
    page = assert_json(api.get(LIST, key=owner.key, params={"isActive": "false"}), 200)
    assert [t["id"] for t in page["data"]] == [slug]
    assert assert_json(api.get(LIST, key=owner.key, params={"isActive": "true"}), 200)["totalCount"] == 0


# ---------------------------------------------------------------------------
# upgrade


@pytest.mark.parametrize("fmt", FORMATS)
def test_upgrade_extends_only_forward(api, owner, slug, db, fmt, create_tenant):
    create_tenant(owner, slug, validUpto="2027-03-31T00:00:00Z")
    r = call(api, owner.key, "POST", f"{LIST}/{slug}/upgrade", fmt,
             {"extendedExpiryDate": "2028-03-31T12:30:00Z"}, root="upgrade")
    t = tenant_of(r, fmt)
    assert same(t["validUpto"], "2028-03-31T12:30:00Z", fmt), t
    assert r.headers.get("ETag") == '"2"'
    assert trow(db, slug)["valid_upto"] == "2028-03-31 12:30:00"
    for when in ("2027-12-31T00:00:00Z", "2028-03-31T12:30:00Z", "2028-03-31T14:00:00+02:00"):
        p = problem(call(api, owner.key, "POST", f"{LIST}/{slug}/upgrade", fmt, {"extendedExpiryDate": when},
                         root="upgrade"), 422, fmt, "validation_failed")
        assert list(p["errors"]) == ["extendedExpiryDate"], p
    for body in ({"extendedExpiryDate": "soon"}, {"extendedExpiryDate": None}, {"validUpto": "2030-01-01T00:00:00Z"}):
        problem(call(api, owner.key, "POST", f"{LIST}/{slug}/upgrade", fmt, body, root="upgrade"), 422, fmt)
    row = trow(db, slug)
    assert (row["valid_upto"], row["version"]) == ("2028-03-31 12:30:00", "2"), row
    # An offset is converted to UTC.
    r = call(api, owner.key, "POST", f"{LIST}/{slug}/upgrade", fmt, {"extendedExpiryDate": "2029-01-01T01:00:00+01:00"},
             root="upgrade")
    assert same(tenant_of(r, fmt)["validUpto"], "2029-01-01T00:00:00Z", fmt)


def test_upgrade_only_into_the_future(api, fresh_owner, slug, db, create_tenant):
    """Without a validUpto, and for an expired tenant, the new date must still lie ahead."""
    p = fresh_owner()
    create_tenant(p, slug)
    now = datetime.now(timezone.utc)
    for when in ("2020-01-01T00:00:00Z", utc(now - timedelta(minutes=1))):
        e = problem(api.post(f"{LIST}/{slug}/upgrade", key=p.key, json={"extendedExpiryDate": when}), 422)
        assert list(e["errors"]) == ["extendedExpiryDate"], e
    assert trow(db, slug)["valid_upto"] is None
    # Expired a month ago: a date after the current one but still past is refused; a future one revives it.
    past = utc(now - timedelta(days=30))
    assert tenant_of(api.patch(f"{LIST}/{slug}", key=p.key, json={"validUpto": past}), "json")["expiryState"] == \
        "Expired"
    problem(api.post(f"{LIST}/{slug}/upgrade", key=p.key, json={"extendedExpiryDate": utc(now - timedelta(days=1))}),
            422)
    future = utc(now + timedelta(days=365))
    t = tenant_of(api.post(f"{LIST}/{slug}/upgrade", key=p.key, json={"extendedExpiryDate": future}), "json")
    assert (t["validUpto"], t["expiryState"]) == (future, "Active"), t
    # Update alone does not allow an upgrade.
    upd = fresh_owner(("View", "Update"), account=p.account)
    problem(api.post(f"{LIST}/{slug}/upgrade", key=upd.key, json={"extendedExpiryDate": "2099-01-01T00:00:00Z"}), 403)
    assert trow(db, slug)["valid_upto"] == sql_time(future)


# ---------------------------------------------------------------------------
# switch


@pytest.mark.parametrize("fmt", FORMATS)
def test_switch_sets_current_tenant(api, owner, db, fmt, create_tenant):
    a, b = f"s-{uuid.uuid4().hex[:12]}", f"s-{uuid.uuid4().hex[:12]}"
    create_tenant(owner, a)
    guid_b = create_tenant(owner, b).json()["tenantId"]
    acc = account_pk(db, owner.account)
    assert db.scalar(f"SELECT current_tenant_pk FROM accounts WHERE id = {acc}") is None
    r = call(api, owner.key, "POST", f"{LIST}/{a}/switch", fmt)
    s = decode(r, 200, fmt, "switch")
    assert_fields(s, {"id": a, "tenantId": trow(db, a)["guid"], "current": True}, fmt)
    assert db.scalar(f"SELECT current_tenant_pk FROM accounts WHERE id = {acc}") == trow(db, a)["pk"]
    s = decode(call(api, owner.key, "POST", f"{LIST}/{guid_b}/switch", fmt), 200, fmt, "switch")
    assert same(s["id"], b, fmt)
    assert db.scalar(f"SELECT current_tenant_pk FROM accounts WHERE id = {acc}") == trow(db, b)["pk"]
    # Switching changes the account, not the tenant.
    assert trow(db, b)["version"] == "1"


def test_switch_needs_only_view(api, fresh_owner, slug, db, create_tenant):
    owner = fresh_owner()
    create_tenant(owner, slug)
    viewer = fresh_owner(("View",), account=owner.account)
    assert_json(api.post(f"{LIST}/{slug}/switch", key=viewer.key), 200)
    assert db.scalar(f"SELECT current_tenant_pk FROM accounts WHERE name = {sql_quote(owner.account)}") == \
        trow(db, slug)["pk"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_switch_to_a_deactivated_tenant_is_refused(api, owner, db, fmt, create_tenant):
    """A deactivated tenant refuses its users: 409 tenant_inactive, the account's current
    tenant unchanged; activated again, the switch goes through."""
    slug = f"s-{uuid.uuid4().hex[:12]}"
    create_tenant(owner, slug)
    acc = account_pk(db, owner.account)
    before = db.scalar(f"SELECT current_tenant_pk FROM accounts WHERE id = {acc}")
    assert_json(api.post(f"{LIST}/{slug}/deactivate", key=owner.key), 200)
    r = call(api, owner.key, "POST", f"{LIST}/{slug}/switch", fmt)
    problem(r, 409, fmt, "tenant_inactive")
    assert db.scalar(f"SELECT current_tenant_pk FROM accounts WHERE id = {acc}") == before
    wait_provisioned(db, slug)
    assert_json(api.post(f"{LIST}/{slug}/activate", key=owner.key), 200)
    decode(call(api, owner.key, "POST", f"{LIST}/{slug}/switch", fmt), 200, fmt, "switch")
    assert db.scalar(f"SELECT current_tenant_pk FROM accounts WHERE id = {acc}") == trow(db, slug)["pk"]


# ---------------------------------------------------------------------------
# expiryState


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("delta,state", [
    (timedelta(days=30), "Active"),
    (timedelta(minutes=-5), "InGrace"),
    (timedelta(days=-3), "InGrace"),
    (timedelta(days=-6, hours=-23), "InGrace"),
    (timedelta(days=-7, hours=-1), "Expired"),
    (timedelta(days=-30), "Expired"),
    (None, "Active"),
], ids=["future", "5-minutes-ago", "3-days-ago", "6d23h-ago", "7d1h-ago", "30-days-ago", "no-expiry"])
def test_expiry_state(api, made, db, fmt, delta, state):
    p, slug = made
    when = None if delta is None else utc(datetime.now(timezone.utc) + delta)
    r = call(api, p.key, "PATCH", f"{LIST}/{slug}", fmt, {"validUpto": when})
    t = tenant_of(r, fmt)
    assert same(t["validUpto"], when, fmt) and same(t["expiryState"], state, fmt), t
    assert trow(db, slug)["valid_upto"] == (None if when is None else sql_time(when))
    page = decode(call(api, p.key, "GET", LIST, fmt), 200, fmt, "tenants")
    assert [same(x["expiryState"], state, fmt) for x in page["data"] if x["id"] == slug] == [True], page


# ---------------------------------------------------------------------------
# Audit trail


def test_every_mutation_is_audited(api, owner, slug, db):
    assert_json(api.get(COUNT, key=owner.key), 200)  # creates the account
    acc = account_pk(db, owner.account)
    steps = [
        ("tenant.create", "POST", LIST, {"json": tenant_body(slug)}),
        ("tenant.update", "PATCH", f"{LIST}/{slug}", {"json": {"city": "Kyiv"}}),
        ("tenant.replace", "PUT", f"{LIST}/{slug}", {"json": {"name": f"Tenant {slug}", "adminEmail": "a@b.example"}}),
        ("tenant.deactivate", "POST", f"{LIST}/{slug}/deactivate", {"json": {"userStatus": 0}}),
        ("tenant.activate", "POST", f"{LIST}/{slug}/activate", {}),
        ("tenant.upgrade", "POST", f"{LIST}/{slug}/upgrade", {"json": {"extendedExpiryDate": "2031-01-01T00:00:00Z"}}),
        ("tenant.switch", "POST", f"{LIST}/{slug}/switch", {}),
        ("tenant.delete", "DELETE", f"{LIST}/{slug}",
         {"params": {"confirmName": f"Tenant {slug}", "confirmDisplayName": f"Tenant {slug}"}}),
    ]
    ids = []
    for action, method, path, kw in steps:
        request_id = rid("audit")
        r = api.request(method, path, key=owner.key, headers={"X-Request-Id": request_id}, **kw)
        assert r.status_code in (200, 202), f"{action}{describe(r)}"
        assert r.headers.get("X-Request-Id") == request_id
        rows = audit_rows(db, request_id)
        assert rows == [{"action": action, "target_id": slug, "account_id": str(acc), "outcome": "ok"}], rows
        ids.append(request_id)
        if action == "tenant.create":
            wait_provisioned(db, slug)  # before it is activated again
    # Refused mutations leave no "ok" event behind (they commit nothing).
    create_again = rid("audit")
    problem(api.post(LIST, key=owner.key, json=tenant_body(slug, name=None),
                     headers={"X-Request-Id": create_again}), 422)
    assert audit_rows(db, create_again) == []

    # /api/v1/audit: newest first.
    page = assert_json(api.get(AUDIT, key=owner.key, params={"limit": 50}), 200)
    ours = [e for e in page["data"] if e["requestId"] in ids]
    assert [e["action"] for e in ours] == [s[0] for s in reversed(steps)], ours
    event_ids = [e["id"] for e in page["data"]]
    assert event_ids == sorted(event_ids, reverse=True) and len(set(event_ids)) == len(event_ids)
    for e in ours:
        assert e["targetType"] == "tenant" and e["targetId"] == slug and e["outcome"] == "ok", e
        assert RFC3339_UTC.match(e["at"]), e
    create = next(e for e in ours if e["action"] == "tenant.create")
    assert is_uuid((create.get("detail") or {}).get("correlationId")), create


@pytest.mark.parametrize("fmt", FORMATS)
def test_audit_cursor_pages_without_overlap(api, owner, db, fmt, create_tenant):
    for i in range(4):
        s = f"a-{uuid.uuid4().hex[:12]}"
        create_tenant(owner, s)
        assert_json(api.patch(f"{LIST}/{s}", key=owner.key, json={"city": f"C{i}"}), 200)
    acc = account_pk(db, owner.account)
    want = [int(r["id"]) for r in db.query(f"SELECT id FROM audit_events WHERE account_id = {acc} ORDER BY id DESC")]
    assert len(want) >= 8

    got, cursor, pages = [], None, 0
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor is not None else {})}
        r = call(api, owner.key, "GET", AUDIT, fmt, params=params)
        body = decode(r, 200, fmt, "auditEvents")
        data = body["data"] or []
        ids = [int(e["id"]) for e in data]
        assert len(ids) <= 3
        assert ids == sorted(ids, reverse=True), ids
        if got:
            assert not ids or ids[0] < got[-1], "pages overlap or go backwards"
        got += ids
        pages += 1
        nxt = body["nextCursor"]
        if nxt is None or nxt == "":
            assert "Link" not in r.headers or 'rel="next"' not in r.headers["Link"], r.headers.get("Link")
            break
        assert int(nxt) == ids[-1], body
        link = r.headers.get("Link", "")
        assert f"cursor={int(nxt)}" in link and 'rel="next"' in link, link
        cursor = int(nxt)
        assert pages < 20
    assert got == want, f"paged events {got}, database {want}"
    assert len(set(got)) == len(got)

    for params in ({"limit": 0}, {"limit": 201}, {"cursor": "abc"}, {"cursor": 0}):
        problem(call(api, owner.key, "GET", AUDIT, fmt, params=params), 422, fmt, "validation_failed")


def test_audit_is_scoped_to_the_account(api, fresh_owner, slug, create_tenant):
    a, b = fresh_owner(), fresh_owner()
    create_tenant(a, slug)
    events = assert_json(api.get(AUDIT, key=b.key), 200)["data"]
    assert all(e["targetId"] != slug for e in events), events


# ---------------------------------------------------------------------------
# Paging, sorting, filters and count on a seeded set of one account

SORT_FIELDS = ("id", "name", "createdAt", "validUpto", "consentedAt")
N_SEEDED = 35


class Seeded:
    """N_SEEDED tenants of one account with varied names, dates (with ties and nulls) and flags."""

    def __init__(self, api, ctl, db):
        self.api = api
        self.pool = KeyPool(ctl, db, 4)
        self.tag = uuid.uuid4().hex[:6]
        rnd = random.Random(self.tag)
        alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
        words = set()
        while len(words) < 2 * N_SEEDED:
            words.add("".join(rnd.choice(alphabet) for _ in range(8)))
        words = sorted(words)
        rnd.shuffle(words)
        dates = [None, "2027-01-01T00:00:00Z", "2027-06-30T12:00:00Z", "2028-03-15T08:00:00Z"]
        self.needle = f"needle{self.tag}"
        for i in range(N_SEEDED):
            name_word = "".join(c.upper() if rnd.random() < 0.5 else c for c in words[i])
            body = {
                "id": f"pg{self.tag}-{words[N_SEEDED + i]}",
                "name": f"Paging {self.tag} {name_word}",
                "adminEmail": f"admin{i}@pg{self.tag}.example",
                "isActive": i % 4 != 3,
                "validUpto": rnd.choice(dates + [f"2029-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d}T10:00:00Z"]),
                "consentedAt": rnd.choice(dates[:3] + [None, f"2026-{rnd.randint(1, 10):02d}-01T00:00:00Z"]),
                "description": (f"has the {self.needle} inside" if i % 3 == 0 else
                                "Discount 100% guaranteed" if i % 5 == 1 else "Discount 1000 guaranteed"),
            }
            if i == 7:
                body["name"] = f"Paging {self.tag} {self.needle.upper()}"
            r = api.post(LIST, key=self.pool.next(), json={k: v for k, v in body.items() if v is not None})
            assert r.status_code == 202, describe(r)
        self.rows = db.query("SELECT pk, slug, name, description, is_active, valid_upto, consented_at FROM tenants"
                             f" WHERE account_id = {self.pool.account_id}")
        assert len(self.rows) == N_SEEDED
        for row in self.rows:
            row["pk"] = int(row["pk"])

    def get(self, path=LIST, fmt="json", **params):
        return call(self.api, self.pool.next(), "GET", path, fmt, params=params)

    def expected(self, field, desc=False, rows=None):
        """The order tenantd promises: the field (NULL first ascending), ties by creation; desc reverses."""
        rows = self.rows if rows is None else rows
        col = {"id": "slug", "name": "name", "validUpto": "valid_upto", "consentedAt": "consented_at"}.get(field)
        if col is None:
            key = lambda r: r["pk"]  # noqa: E731
        elif col == "name":
            key = lambda r: (r["name"].lower(), r["pk"])  # noqa: E731 - utf8mb4_unicode_ci: case-insensitive
        else:
            key = lambda r: (r[col] is not None, r[col] or "", r["pk"])  # noqa: E731
        return [r["slug"] for r in sorted(rows, key=key, reverse=desc)]

    def matching(self, q=None, name=None, active=None):
        out = []
        for r in self.rows:
            text = (r["name"] + "\n" + (r["description"] or "")).lower()
            if q is not None and q.lower() not in text:
                continue
            if name is not None and r["name"].lower() != name.lower():
                continue
            if active is not None and r["is_active"] != ("1" if active else "0"):
                continue
            out.append(r)
        return out


@pytest.fixture(scope="module")
def seeded(api, ctl, db):
    return Seeded(api, ctl, db)


def link_urls(r):
    """Link header -> {rel: URL as written}."""
    return {m.group(2): m.group(1)
            for m in re.finditer(r'<([^>]*)>\s*;\s*rel="([^"]+)"', r.headers.get("Link", ""))}


def links(r):
    """Link header -> {rel: (path, {param: value})}."""
    out = {}
    for rel, url in link_urls(r).items():
        u = urlsplit(url)
        out[rel] = (u.path, {k: v[0] for k, v in parse_qs(u.query, keep_blank_values=True).items()})
    return out


def page_ids(page):
    return [t["id"] for t in (page["data"] or [])]


def test_list_defaults(seeded):
    r = seeded.get()
    page = assert_json(r, 200)
    assert {k: page[k] for k in ("pageNumber", "pageSize", "totalCount", "totalPages", "hasPrevious", "hasNext")} == \
        {"pageNumber": 1, "pageSize": 10, "totalCount": N_SEEDED, "totalPages": 4, "hasPrevious": False,
         "hasNext": True}, page
    assert page_ids(page) == seeded.expected("createdAt")[:10], "default order is creation order"
    assert all(list(t) == TENANT_FIELDS for t in page["data"])
    assert links(r) == {"first": (LIST, {"pageNumber": "1", "pageSize": "10"}),
                        "next": (LIST, {"pageNumber": "2", "pageSize": "10"}),
                        "last": (LIST, {"pageNumber": "4", "pageSize": "10"})}, r.headers.get("Link")


@pytest.mark.parametrize("fmt", FORMATS)
def test_last_page_and_beyond(seeded, fmt):
    order = seeded.expected("createdAt")
    r = seeded.get(fmt=fmt, pageNumber=4)
    page = decode(r, 200, fmt, "tenants")
    assert page_ids(page) == order[30:], page_ids(page)
    assert_fields(page, {"pageNumber": 4, "pageSize": 10, "totalCount": N_SEEDED, "totalPages": 4,
                         "hasPrevious": True, "hasNext": False}, fmt)
    assert {k: v[1]["pageNumber"] for k, v in links(r).items()} == {"first": "1", "prev": "3", "last": "4"}
    for beyond in (5, 1_000_000_000):
        r = seeded.get(fmt=fmt, pageNumber=beyond)
        page = decode(r, 200, fmt, "tenants")
        assert page_ids(page) == [], page
        assert_fields(page, {"pageNumber": beyond, "totalCount": N_SEEDED, "totalPages": 4, "hasPrevious": True,
                             "hasNext": False}, fmt)
        assert {k: v[1]["pageNumber"] for k, v in links(r).items()} == {"first": "1", "prev": "4", "last": "4"}
    # Page sizes that do not divide the total.
    r = seeded.get(fmt=fmt, pageSize=8, pageNumber=5)
    page = decode(r, 200, fmt, "tenants")
    assert page_ids(page) == order[32:] and same(page["totalPages"], 5, fmt), page


@pytest.mark.parametrize("fmt", FORMATS)
def test_page_size_bounds(seeded, fmt):
    page = decode(seeded.get(fmt=fmt, pageSize=100), 200, fmt, "tenants")
    assert page_ids(page) == seeded.expected("createdAt")
    assert_fields(page, {"pageSize": 100, "totalPages": 1, "hasNext": False, "hasPrevious": False}, fmt)
    page = decode(seeded.get(fmt=fmt, pageSize=1, pageNumber=N_SEEDED), 200, fmt, "tenants")
    assert page_ids(page) == seeded.expected("createdAt")[-1:]
    for params, field in [({"pageSize": 101}, "pageSize"), ({"pageSize": 0}, "pageSize"),
                          ({"pageSize": -1}, "pageSize"), ({"pageSize": "ten"}, "pageSize"),
                          ({"pageSize": ""}, "pageSize"), ({"pageNumber": 0}, "pageNumber"),
                          ({"pageNumber": "1.5"}, "pageNumber"),
                          ({"pageNumber": 1_000_000_001}, "pageNumber"), ({"sort": "bogus"}, "sort"),
                          ({"sort": "name sideways"}, "sort"), ({"sort": "Name"}, "sort"),
                          ({"sort": "description"}, "sort"), ({"isActive": "yes"}, "isActive"),
                          ({"isActive": "1"}, "isActive")]:
        p = problem(seeded.get(fmt=fmt, **params), 422, fmt, "validation_failed")
        assert list(p["errors"]) == [field], (params, p)
    # All problems of the query at once.
    p = problem(seeded.get(fmt=fmt, pageSize=101, pageNumber=0, sort="x", isActive="maybe"), 422, fmt)
    assert set(p["errors"]) == {"pageSize", "pageNumber", "sort", "isActive"}, p


@pytest.mark.parametrize("field", SORT_FIELDS)
def test_sort_orders(seeded, field):
    asc, desc = seeded.expected(field), seeded.expected(field, desc=True)
    for spec, want in [(field, asc), (f"{field} asc", asc), (f"{field} ASC", asc), (f"{field} desc", desc),
                       (f"-{field}", desc), (f"{field} DESC", desc)]:
        page = assert_json(seeded.get(sort=spec, pageSize=100), 200)
        assert page_ids(page) == want, f"sort={spec!r}"
    # Walking the pages gives the same order, without gaps or repeats (ties are stable).
    for spec, want in [(field, asc), (f"{field} desc", desc)]:
        walked = []
        for n in range(1, 6):
            walked += page_ids(assert_json(seeded.get(sort=spec, pageSize=8, pageNumber=n), 200))
        assert walked == want, f"paged sort={spec!r}"


def test_sort_order_in_xml(seeded):
    r = seeded.get(fmt="xml", sort="name desc", pageSize=100)
    doc = assert_xml(r, 200, "tenants")
    assert xml_keys(doc) == ["data", "pageNumber", "pageSize", "totalCount", "totalPages", "hasPrevious", "hasNext",
                             "incompleteResults"]
    data = doc.find("data")
    assert all(localname(t) == "tenant" and xml_keys(t) == TENANT_FIELDS for t in data)
    assert [t.findtext("id") for t in data] == seeded.expected("name", desc=True)


@pytest.mark.parametrize("fmt", FORMATS)
def test_link_header_keeps_filters_and_sort(seeded, fmt):
    q = "discount"
    want = seeded.expected("name", desc=True, rows=seeded.matching(q=q))
    assert len(want) > 10
    pages = -(-len(want) // 4)
    r = seeded.get(fmt=fmt, q=q, sort="name desc", pageSize=4, pageNumber=2)
    page = decode(r, 200, fmt, "tenants")
    assert page_ids(page) == want[4:8]
    got = links(r)
    assert set(got) == {"first", "prev", "next", "last"}, r.headers.get("Link")
    for rel, n in (("first", 1), ("prev", 1), ("next", 3), ("last", pages)):
        path, params = got[rel]
        assert path == LIST, got[rel]
        assert params == {"q": q, "sort": "name desc", "pageNumber": str(n), "pageSize": "4"}, (rel, params)
    # Following the links gives the neighbouring pages.
    headers = {"Accept": "application/xml"} if fmt == "xml" else {}
    urls = link_urls(r)
    nxt = seeded.api.get(urls["next"], key=seeded.pool.next(), headers=headers)
    assert page_ids(decode(nxt, 200, fmt, "tenants")) == want[8:12]
    last = decode(seeded.api.get(urls["last"], key=seeded.pool.next(), headers=headers), 200, fmt, "tenants")
    assert page_ids(last) == want[(pages - 1) * 4:] and same(last["hasNext"], False, fmt)
    first = decode(seeded.api.get(urls["first"], key=seeded.pool.next(), headers=headers), 200, fmt, "tenants")
    assert page_ids(first) == want[:4] and same(first["hasPrevious"], False, fmt)


@pytest.mark.parametrize("fmt", FORMATS)
def test_filters_and_count(seeded, fmt):
    some = seeded.rows[11]
    cases = [
        ({}, seeded.rows),
        ({"name": some["name"]}, [some]),
        ({"name": some["name"] + "x"}, []),
        ({"name": f"Paging {seeded.tag}"}, []),  # exact, not a prefix
        ({"q": seeded.needle}, seeded.matching(q=seeded.needle)),  # in descriptions, and in one name
        ({"q": seeded.needle.upper()}, seeded.matching(q=seeded.needle)),
        ({"q": "100%"}, seeded.matching(q="100%")),  # % is literal
        ({"q": "1000"}, seeded.matching(q="1000")),
        ({"q": "_"}, []),  # _ is literal too
        # Words are found by their start (README, "Text search and filters"), not inside a word.
        ({"q": some["name"].split()[-1][:4]}, seeded.matching(q=some["name"].split()[-1][:4])),
        ({"q": some["name"].split()[-1][2:6]}, []),
        ({"isActive": "true"}, seeded.matching(active=True)),
        ({"isActive": "false"}, seeded.matching(active=False)),
        ({"q": "discount", "isActive": "false"}, [r for r in seeded.matching(q="discount") if r["is_active"] == "0"]),
        ({"q": seeded.needle, "name": some["name"]}, [r for r in seeded.matching(q=seeded.needle) if r is some]),
    ]
    assert seeded.matching(q="100%") and seeded.matching(q="1000")
    assert any(seeded.needle in r["name"].lower() for r in seeded.matching(q=seeded.needle))
    for params, rows in cases:
        want = seeded.expected("createdAt", rows=rows)
        page = decode(seeded.get(fmt=fmt, pageSize=100, **params), 200, fmt, "tenants")
        assert page_ids(page) == want, f"{params}: {page_ids(page)} != {want}"
        assert same(page["totalCount"], len(want), fmt) and same(page["totalPages"], max(1, -(-len(want) // 100)),
                                                                  fmt), (params, page)
        count = decode(seeded.get(COUNT, fmt=fmt, **params), 200, fmt, "count")
        assert count == {"count": xml_text(len(want)) if fmt == "xml" else len(want),  # a small set: complete
                         "incompleteResults": "false" if fmt == "xml" else False}, (params, count)
    for params in ({"isActive": "no"}, {"isActive": ""}, {"name": "n" * 300}):
        problem(seeded.get(COUNT, fmt=fmt, **params), 422, fmt, "validation_failed")


def test_link_header_keeps_a_long_filter(api, owner):
    q = "é" * 100
    for _ in range(3):
        s = f"l-{uuid.uuid4().hex[:12]}"
        assert_json(api.post(LIST, key=owner.key, json=tenant_body(s, description=f"x {q} y")), 202)
    assert_json(api.post(LIST, key=owner.key, json=tenant_body(f"l-{uuid.uuid4().hex[:12]}")), 202)
    r = api.get(LIST, key=owner.key, params={"q": q, "pageSize": 1, "pageNumber": 2})
    assert assert_json(r, 200)["totalCount"] == 3
    got = links(r)
    assert set(got) == {"first", "prev", "next", "last"}, r.headers.get("Link")
    assert all(params.get("q") == q for _, params in got.values()), r.headers.get("Link")
    assert got["last"][1]["pageNumber"] == "3", r.headers.get("Link")


def test_lists_are_scoped_and_sized(seeded, api, owner):
    """Another account sees none of the seeded tenants; an empty list still has one page."""
    page = assert_json(api.get(LIST, key=owner.key, params={"q": seeded.tag}), 200)
    assert page["data"] == [] and page["totalCount"] == 0 and page["totalPages"] == 1, page
    assert page["hasNext"] is False and page["hasPrevious"] is False
    assert assert_json(api.get(COUNT, key=owner.key), 200) == {"count": 0, "incompleteResults": False}
    assert media_type(api.get(COUNT, key=owner.key, headers={"Accept": "text/xml"})) in ("text/xml",
                                                                                       "application/xml")
