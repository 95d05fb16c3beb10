"""docs/openapi.yaml and docs/tenantd.xsd against the running tenantd.

- The operations of openapi.yaml are exactly the routes `tenantd --routes` prints, each
  with the route's permission in `x-permission` (public routes: none, and no security).
- A representative request of every route is made twice, through nginx: as JSON, whose
  answer must match the operation's documented status, media type, headers and JSON
  schema (a small validator below walks the OpenAPI schema), and as XML (XML body,
  Accept: application/xml), whose answer must validate against tenantd.xsd, be named as
  the OpenAPI `xml` names say, and carry the same data in the same order as the JSON.
  The same holds for the problem documents of the 4xx answers.
- `redocly lint docs/openapi.yaml` (recommended rules) passes without warnings.

Environment (./scripts/test sets it): TENANTD_BIN, the tenantd whose routes are
compared (default: beside $TENANTCTL); TENANTD_REDOCLY, the redocly program (default:
build/npm/node_modules/.bin/redocly).
"""

import datetime
import functools
import itertools
import os
import re
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import yaml
from lxml import etree

from helpers import describe, media_type, parse_xml, tenant_body

ROOT = Path(__file__).resolve().parents[2]
OPENAPI = ROOT / "docs" / "openapi.yaml"
XSD = ROOT / "docs" / "tenantd.xsd"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
# Response headers tenantd sets on purpose: each one an answer carries must be
# documented on that answer.
NOTABLE_HEADERS = ("ETag", "Location", "Link", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset",
                   "Retry-After", "Idempotent-Replayed", "WWW-Authenticate", "X-Request-Id", "Allow")


# ---------------------------------------------------------------------------
# The documents


@pytest.fixture(scope="module")
def spec():
    with open(OPENAPI, encoding="utf-8") as f:
        return yaml.safe_load(f)


@pytest.fixture(scope="module")
def xsd():
    return etree.XMLSchema(etree.parse(str(XSD)))


def tenantd_bin():
    env = os.environ.get("TENANTD_BIN")
    if env:
        return env
    ctl = os.environ.get("TENANTCTL")
    if ctl:
        return str(Path(ctl).parent / "tenantd")
    return str(ROOT / "build" / "up" / "tenantd")


@pytest.fixture(scope="module")
def routes():
    """{(METHOD, pattern): permission} from `tenantd --routes` ("-" = public)."""
    exe = tenantd_bin()
    if not os.access(exe, os.X_OK):
        pytest.fail(f"no tenantd at {exe!r} (set TENANTD_BIN)")
    p = subprocess.run([exe, "--routes"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, f"tenantd --routes exited {p.returncode}: {p.stderr}"
    out = {}
    for line in p.stdout.splitlines():
        if line.strip():
            method, pattern, perm = line.split()
            out[(method, pattern)] = perm
    assert out, "tenantd --routes printed nothing"
    return out


def operations(spec):
    """{(METHOD, path): operation} of the OpenAPI document."""
    return {(m.upper(), path): op for path, item in spec["paths"].items()
            for m, op in item.items() if m in METHODS}


# ---------------------------------------------------------------------------
# A small OpenAPI 3.1 (JSON Schema 2020-12 subset) validator


def deref(spec, obj):
    """Follows local $refs ("#/components/..."); siblings of $ref are merged in."""
    seen = 0
    while isinstance(obj, dict) and "$ref" in obj:
        ref = obj["$ref"]
        assert ref.startswith("#/"), f"only local $refs are supported: {ref}"
        target = spec
        for part in ref[2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        rest = {k: v for k, v in obj.items() if k != "$ref"}
        obj = {**target, **rest} if rest else target
        seen += 1
        assert seen < 50, f"$ref loop at {ref}"
    return obj


RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def _format_ok(fmt, v):
    if not isinstance(v, str):
        return True
    if fmt == "date-time":
        if not RFC3339.match(v):
            return False
        try:
            datetime.datetime.fromisoformat(v.replace("Z", "+00:00"))
        except ValueError:
            return False
        return True
    if fmt == "uuid":
        return bool(UUID_RE.match(v))
    if fmt == "email":
        return re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", v) is not None
    if fmt == "uri":
        return re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$", v) is not None
    return True


def _type_ok(t, v):
    return {
        "null": v is None,
        "boolean": isinstance(v, bool),
        "integer": isinstance(v, int) and not isinstance(v, bool),
        "number": isinstance(v, (int, float)) and not isinstance(v, bool),
        "string": isinstance(v, str),
        "array": isinstance(v, list),
        "object": isinstance(v, dict),
    }[t]


def schema_errors(spec, schema, v, at="$", ordered=True):
    """Every way v breaks schema, as "path: message" strings. ordered: the members of
    an object must come in the order of its schema's properties (tenantd writes them so)."""
    s = deref(spec, schema)
    errs = []
    if s is True or s == {}:
        return errs
    if s is False:
        return [f"{at}: no value is allowed here"]
    for sub in s.get("allOf", []):
        errs += schema_errors(spec, sub, v, at, ordered)
    if "anyOf" in s and not any(not schema_errors(spec, sub, v, at, ordered) for sub in s["anyOf"]):
        errs.append(f"{at}: matches none of anyOf")
    if "oneOf" in s:
        n = sum(1 for sub in s["oneOf"] if not schema_errors(spec, sub, v, at, ordered))
        if n != 1:
            errs.append(f"{at}: matches {n} of oneOf, not exactly one")
    if "not" in s and not schema_errors(spec, s["not"], v, at, ordered):
        errs.append(f"{at}: {v!r} matches a schema it must not")
    if "type" in s:
        types = s["type"] if isinstance(s["type"], list) else [s["type"]]
        if not any(_type_ok(t, v) for t in types):
            return errs + [f"{at}: {v!r} is not of type {'/'.join(types)}"]
    if "enum" in s and v not in s["enum"]:
        errs.append(f"{at}: {v!r} is not one of {s['enum']}")
    if "const" in s and v != s["const"]:
        errs.append(f"{at}: {v!r} is not {s['const']!r}")
    if isinstance(v, str):
        if "minLength" in s and len(v) < s["minLength"]:
            errs.append(f"{at}: shorter than {s['minLength']}")
        if "maxLength" in s and len(v) > s["maxLength"]:
            errs.append(f"{at}: longer than {s['maxLength']}")
        if "pattern" in s and not re.search(s["pattern"], v):
            errs.append(f"{at}: {v!r} does not match {s['pattern']}")
        if "format" in s and not _format_ok(s["format"], v):
            errs.append(f"{at}: {v!r} is not a {s['format']}")
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        if "minimum" in s and v < s["minimum"]:
            errs.append(f"{at}: {v} < {s['minimum']}")
        if "maximum" in s and v > s["maximum"]:
            errs.append(f"{at}: {v} > {s['maximum']}")
    if isinstance(v, list):
        if "minItems" in s and len(v) < s["minItems"]:
            errs.append(f"{at}: fewer than {s['minItems']} items")
        if "items" in s:
            for i, item in enumerate(v):
                errs += schema_errors(spec, s["items"], item, f"{at}[{i}]", ordered)
    if isinstance(v, dict):
        props = s.get("properties", {})
        for name in s.get("required", []):
            if name not in v:
                errs.append(f"{at}: lacks required {name!r}")
        for name, value in v.items():
            if name in props:
                errs += schema_errors(spec, props[name], value, f"{at}.{name}", ordered)
            elif s.get("additionalProperties") is False:
                errs.append(f"{at}: {name!r} is not documented")
            elif isinstance(s.get("additionalProperties"), dict):
                errs += schema_errors(spec, s["additionalProperties"], value, f"{at}.{name}", ordered)
        if ordered and props:
            order = list(props)
            present = [k for k in v if k in props]
            if present != sorted(present, key=order.index):
                errs.append(f"{at}: members in order {present}, documented order {order}")
    return errs


def assert_valid(spec, schema, value, what, ordered=True):
    errs = schema_errors(spec, schema, value, ordered=ordered)
    assert not errs, f"{what} does not match its OpenAPI schema:\n  " + "\n  ".join(errs[:20])


# ---------------------------------------------------------------------------
# XML: bodies out, documents in


def singular(name):
    if name.endswith("ies"):
        return name[:-3] + "y"
    if name.endswith("s") and not name.endswith("ss"):
        return name[:-1]
    return "value"


def to_xml(root, value):
    """A request body as tenantd reads XML: members as elements, arrays as a wrapper of
    singular items, null as xsi:nil, every scalar as text."""
    nsmap = {"xsi": XSI}

    def fill(el, v):
        if v is None:
            el.set(f"{{{XSI}}}nil", "true")
        elif isinstance(v, dict):
            for k, item in v.items():
                fill(etree.SubElement(el, k), item)
        elif isinstance(v, list):
            for item in v:
                fill(etree.SubElement(el, singular(etree.QName(el).localname)), item)
        elif isinstance(v, bool):
            el.text = "true" if v else "false"
        else:
            el.text = str(v)

    el = etree.Element(root, nsmap=nsmap)
    fill(el, value)
    return etree.tostring(el, xml_declaration=True, encoding="UTF-8")


def is_nil(el):
    return el.get(f"{{{XSI}}}nil") in ("true", "1")


def xml_to_json(spec, schema, el):
    """Reads an XML document back into JSON values, typed by the OpenAPI schema."""
    s = deref(spec, schema)
    if is_nil(el):
        return None
    if "allOf" in s and "properties" not in s:
        merged = {"type": "object", "properties": {}}
        for sub in s["allOf"]:
            merged["properties"].update(deref(spec, sub).get("properties", {}))
        s = merged
    types = s.get("type", "object" if "properties" in s or "additionalProperties" in s else "string")
    types = types if isinstance(types, list) else [types]
    children = [c for c in el if isinstance(c.tag, str)]
    if "object" in types:
        if "properties" not in s and "additionalProperties" not in s:
            return generic_xml(el)
        out = {}
        for c in children:
            name = c.get("key") if etree.QName(c).localname == "entry" and c.get("key") else etree.QName(c).localname
            sub = s.get("properties", {}).get(name, s.get("additionalProperties", {}))
            out[name] = xml_to_json(spec, sub, c)
        return out
    if "array" in types:
        return [xml_to_json(spec, s.get("items", {}), c) for c in children]
    text = el.text or ""
    if "boolean" in types:
        assert text in ("true", "false"), f"<{etree.QName(el).localname}>: {text!r} is not a boolean"
        return text == "true"
    if "integer" in types:
        return int(text)
    return text


def generic_xml(el):
    """Untyped content (an audit event's detail): elements -> objects, text -> strings."""
    if is_nil(el):
        return None
    children = [c for c in el if isinstance(c.tag, str)]
    if not children:
        return el.text or ""
    return {etree.QName(c).localname: generic_xml(c) for c in children}


# ---------------------------------------------------------------------------
# Checking one answer against the documents


def op_response(spec, method, pattern, status):
    op = spec["paths"][pattern][method.lower()]
    responses = op["responses"]
    assert str(status) in responses, (
        f"{method} {pattern} answered {status}, which openapi.yaml does not document "
        f"(documented: {sorted(responses)})")
    return deref(spec, responses[str(status)])


def check_headers(r, resp, where):
    documented = {h.lower() for h in resp.get("headers", {})}
    for h in NOTABLE_HEADERS:
        if h in r.headers:
            assert h.lower() in documented, f"{where}: header {h} is sent but not documented{describe(r)}"


def check_json(spec, r, method, pattern, status):
    """r answered status; its JSON (or its absence) is as documented. Returns the body."""
    assert r.status_code == status, f"expected {status}{describe(r)}"
    resp = op_response(spec, method, pattern, status)
    where = f"{method} {pattern} -> {status}"
    check_headers(r, resp, where)
    content = resp.get("content", {})
    if not content:
        assert not r.content, f"{where}: documented without a body but has one{describe(r)}"
        return None
    mt = media_type(r)
    assert mt in content, f"{where}: media type {mt!r}, documented: {sorted(content)}{describe(r)}"
    assert mt.endswith("json"), f"{where}: not a JSON answer{describe(r)}"
    body = r.json()
    assert_valid(spec, content[mt]["schema"], body, f"{where} (JSON){describe(r)}")
    return body


def check_xml(spec, xsd, r, method, pattern, status, json_body=None):
    """The XML answer validates against tenantd.xsd, has the root element the OpenAPI xml
    name gives, and (when json_body is given) carries the same data as the JSON."""
    assert r.status_code == status, f"expected {status}{describe(r)}"
    resp = op_response(spec, method, pattern, status) if pattern else None
    where = f"{method} {pattern or r.request.path_url} -> {status} (XML)"
    content = resp.get("content", {}) if resp is not None else {
        "application/problem+xml": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    if resp is not None:
        check_headers(r, resp, where)
    if not content:
        assert not r.content, f"{where}: documented without a body but has one{describe(r)}"
        return None
    mt = media_type(r)
    assert mt in content and mt.endswith("xml"), f"{where}: media type {mt!r}, documented: {sorted(content)}{describe(r)}"
    doc = parse_xml(r)
    assert XSI in doc.nsmap.values(), f"{where}: the root does not declare xmlns:xsi{describe(r)}"
    if not xsd.validate(doc):
        errors = "\n  ".join(str(e) for e in list(xsd.error_log)[:10])
        pytest.fail(f"{where}: does not validate against docs/tenantd.xsd:\n  {errors}{describe(r)}")
    schema = deref(spec, content[mt]["schema"])
    root = schema.get("xml", {}).get("name")
    assert etree.QName(doc).localname == root, f"{where}: root <{etree.QName(doc).localname}>, OpenAPI xml name {root!r}"
    value = xml_to_json(spec, schema, doc)
    if json_body is not None:
        assert value == json_body, f"{where}: the XML says\n  {value}\nthe JSON says\n  {json_body}"
        assert list(value) == list(json_body), f"{where}: members in another order than in JSON"
    return value


# ---------------------------------------------------------------------------
# The representative requests


class World:
    """One account (a key with every permission) and its tenants, made once per module."""

    def __init__(self, api, ctl):
        self.api = api
        self.ctl = ctl
        self.admin = ctl.key(permissions="all")
        self.later = itertools.count(1)
        self.tenant = self.create()
        self.job = self.correlation
        r = api.get(f"/api/v1/tenants/{self.tenant}", key=self.admin.key)
        assert r.status_code == 200, describe(r)
        self.guid = r.json()["tenantId"]
        self.settle(self.job)

    def settle(self, correlation, timeout=60):
        """Waits until the provisioner has finished the job, so the GETs that are asked twice
        (JSON, then XML) see the same resource: a test must not race the provisioner."""
        deadline = time.monotonic() + timeout
        while True:
            r = self.api.get(f"/api/v1/provisioning/{correlation}", key=self.admin.key)
            assert r.status_code == 200, describe(r)
            if r.json()["status"] in ("Completed", "Failed"):
                return
            assert time.monotonic() < deadline, f"job {correlation} not settled after {timeout} s: {r.text}"
            time.sleep(0.1)

    def create(self, **fields):
        slug = f"doc-{uuid.uuid4().hex[:12]}"
        r = self.api.post("/api/v1/tenants", key=self.admin.key, json=tenant_body(slug, **fields))
        assert r.status_code == 202, describe(r)
        self.correlation = r.json()["provisioningCorrelationId"]
        return slug

    def new_api_key(self):
        r = self.api.post("/api/v1/api-keys", key=self.admin.key, json={"permissions": ["View"]})
        assert r.status_code == 201, describe(r)
        return r.json()["id"]

    def etag(self, slug):
        return self.api.get(f"/api/v1/tenants/{slug}", key=self.admin.key).headers["ETag"]

    def next_expiry(self):
        """A later date on every call, so each upgrade extends."""
        return f"{2100 + next(self.later)}-06-30T12:00:00Z"

    @functools.cached_property
    def global_key(self):
        """A global key of the same account: seed 003's routes take no other."""
        return self.ctl.key(account=self.admin.account, kind="global", permissions="all").key

    def mindzie_tenant(self):
        """A new tenant made through seed 003's POST /api/tenant."""
        name = f"Doc {uuid.uuid4().hex[:12]}"
        r = self.api.post("/api/tenant", key=self.global_key, json={"name": name, "displayName": f"{name} Display"})
        assert r.status_code == 201, describe(r)
        return r.json()


@pytest.fixture(scope="module")
def world(api, ctl):
    return World(api, ctl)


def case_list(w):
    return dict(path="/api/v1/tenants?pageSize=2&sort=name%20desc&isActive=true")


def case_create(w):
    slug = f"doc-{uuid.uuid4().hex[:12]}"
    return dict(body=tenant_body(slug, displayName=None, countryCode="NL", isAcademic=True, maxUserCount=25,
                                 validUpto="2031-01-31T00:00:00Z"),
                headers={"Idempotency-Key": uuid.uuid4().hex})


def case_put(w):
    return dict(body={"id": w.tenant, "name": f"Tenant {w.tenant}", "adminEmail": f"ops@{w.tenant}.example",
                      "displayName": "Replaced", "description": None, "countryCode": "DE", "city": "Berlin",
                      "validUpto": "2030-12-31T23:59:59Z", "preRelease": True},
                headers={"If-Match": w.etag(w.tenant)})


def case_patch(w):
    return dict(body={"description": "patched <&> \"quoted\"", "maxUserCount": 10, "maxAnalystCount": 0,
                      "smtpAuthOrgEnabled": True, "exchangeBootstrapStatus": "ready",
                      "msTenantId": str(uuid.uuid4()), "consentedAt": "2026-01-02T03:04:05Z",
                      "connectionString": "Server=localhost;Database=tenant_docs;User Id=app;Password=secret;",
                      "issuer": "https://issuer.example/tenant"},
                headers={"If-Match": w.etag(w.tenant)})


def case_switch(w):
    """A switch names an active tenant (a deactivated one is 409); the deactivate case may
    have run first."""
    r = w.api.post(f"/api/v1/tenants/{w.tenant}/activate?force=true", key=w.admin.key)
    assert r.status_code == 200, describe(r)
    return {}


def case_delete(w):
    slug = w.create(displayName="To Delete")
    return dict(path=f"/api/v1/tenants/{slug}?confirmName=Tenant%20{slug}&confirmDisplayName=To%20Delete",
                headers={"If-Match": w.etag(slug)})


def case_key_revoke(w):
    return dict(path=f"/api/v1/api-keys/{w.new_api_key()}")


# (METHOD, pattern) -> (status, request): path defaults to the pattern with the
# world's tenant; body is sent as JSON, or as XML in the XML run.
CASES = {
    ("GET", "/healthz"): (200, lambda w: {}),
    ("GET", "/readyz"): (200, lambda w: {}),
    ("GET", "/api/v1/tenants"): (200, case_list),
    ("GET", "/api/v1/tenants/count"): (200, lambda w: dict(path="/api/v1/tenants/count?q=doc")),
    ("POST", "/api/v1/tenants"): (202, case_create),
    ("GET", "/api/v1/tenants/{id}"): (200, lambda w: {}),
    ("PUT", "/api/v1/tenants/{id}"): (200, case_put),
    ("PATCH", "/api/v1/tenants/{id}"): (200, case_patch),
    ("DELETE", "/api/v1/tenants/{id}"): (200, case_delete),
    ("POST", "/api/v1/tenants/{id}/activate"): (200, lambda w: dict(body={"userStatus": 1})),
    ("POST", "/api/v1/tenants/{id}/deactivate"): (200, lambda w: {}),
    ("POST", "/api/v1/tenants/{id}/upgrade"): (200, lambda w: dict(body={"extendedExpiryDate": w.next_expiry()})),
    ("POST", "/api/v1/tenants/{id}/switch"): (200, case_switch),
    ("GET", "/api/v1/tenants/{id}/provisioning"): (200, lambda w: dict(path=f"/api/v1/tenants/{w.guid}/provisioning")),
    ("GET", "/api/v1/provisioning/{correlationId}"): (200, lambda w: dict(path=f"/api/v1/provisioning/{w.job}")),
    ("GET", "/api/v1/api-keys"): (200, lambda w: {}),
    ("POST", "/api/v1/api-keys"): (201, lambda w: dict(body={"permissions": ["View", "Permissions.Multitenancy.Create"],
                                                             "label": "docs", "expiresAt": "2030-01-01T00:00:00Z"})),
    ("GET", "/api/v1/api-keys/{id}"): (200, lambda w: dict(path=f"/api/v1/api-keys/{w.new_api_key()}")),
    ("DELETE", "/api/v1/api-keys/{id}"): (204, case_key_revoke),
    ("GET", "/api/v1/audit"): (200, lambda w: dict(path="/api/v1/audit?limit=3")),
}

# GETs whose JSON and XML answers, made one after the other, hold the same data.
STABLE = {("GET", p) for p in ("/healthz", "/readyz", "/api/v1/tenants", "/api/v1/tenants/count",
                               "/api/v1/tenants/{id}", "/api/v1/tenants/{id}/provisioning",
                               "/api/v1/provisioning/{correlationId}", "/api/v1/api-keys/{id}", "/api/v1/audit")}


# Issue 16, part C: the change feed, webhooks, export.


def new_webhook(w):
    r = w.api.post("/api/v1/webhooks", key=w.admin.key,
                   json={"url": f"https://hooks.example/{uuid.uuid4().hex[:8]}", "events": ["tenant.created"]})
    assert r.status_code == 201, describe(r)
    return r.json()["id"]


def docs_webhook(w):
    """One subscription of the world's account, made once (the GETs must see the same one twice)."""
    if not hasattr(w, "webhook"):
        w.webhook = new_webhook(w)
    return w.webhook


CASES.update({
    ("GET", "/api/v1/events"): (200, lambda w: dict(path="/api/v1/events?limit=3")),
    ("GET", "/api/v1/webhooks"): (200, lambda w: {}),
    ("POST", "/api/v1/webhooks"): (201, lambda w: dict(body={
        "url": "https://hooks.example/docs", "events": ["tenant.created", "tenant.deleted"],
        "description": "docs <&>"})),
    ("GET", "/api/v1/webhooks/{id}"): (200, lambda w: dict(path=f"/api/v1/webhooks/{docs_webhook(w)}")),
    ("PATCH", "/api/v1/webhooks/{id}"): (200, lambda w: dict(path=f"/api/v1/webhooks/{docs_webhook(w)}",
                                                              body={"description": "patched", "isActive": True})),
    ("DELETE", "/api/v1/webhooks/{id}"): (204, lambda w: dict(path=f"/api/v1/webhooks/{new_webhook(w)}")),
    ("GET", "/api/v1/webhooks/{id}/deliveries"): (200, lambda w: dict(
        path=f"/api/v1/webhooks/{docs_webhook(w)}/deliveries?limit=5")),
})
# Not the feed: an event's data is free-form, so its XML cannot say which scalar was a boolean.
STABLE |= {("GET", p) for p in ("/api/v1/webhooks/{id}", "/api/v1/webhooks/{id}/deliveries")}

# Routes whose 200 is a stream, neither JSON nor XML (the export): each documented media
# type is asked for; every NDJSON line must match the item schema, and the CSV header
# must name the item schema's properties in order.
STREAMED = {("GET", "/api/v1/tenants/export"): "?q=doc"}
CASES.update({k: (200, lambda w: {}) for k in STREAMED})


@pytest.mark.parametrize("method,pattern", sorted(STREAMED), ids=[f"{m} {p}" for m, p in sorted(STREAMED)])
def test_streamed_route_answers_as_documented(api, world, spec, method, pattern):
    import csv
    import io
    import json
    resp = op_response(spec, method, pattern, 200)
    assert set(resp["content"]) == {"application/x-ndjson", "text/csv"}
    item = deref(spec, resp["content"]["application/x-ndjson"]["schema"])
    for mt in resp["content"]:
        r = api.request(method, pattern + STREAMED[(method, pattern)], key=world.admin.key, headers={"Accept": mt})
        assert r.status_code == 200 and media_type(r) == mt, describe(r)
        check_headers(r, resp, f"{method} {pattern} ({mt})")
        if mt == "text/csv":
            header, *rows = list(csv.reader(io.StringIO(r.text, newline="")))
            assert header == list(item["properties"]), f"CSV header {header}"
            assert rows and all(len(row) == len(header) for row in rows)
        else:
            lines = r.text.splitlines()
            assert lines, describe(r)
            for line in lines:
                assert_valid(spec, item, json.loads(line), f"{method} {pattern} (NDJSON line)")


# Seed 003, mindzieStudio (/api/tenant): global API keys only, so each request names its key.


def case_mindzie_create(w):
    name = f"Doc {uuid.uuid4().hex[:12]}"
    return dict(key=w.global_key, body={"name": name, "displayName": "Doc <&> Display", "description": None,
                                        "maxUserCount": 5, "maxAnalystCount": 1, "isAcademic": True,
                                        "preRelease": False, "isDisabled": False})


def case_mindzie_put(w):
    t = w.mindzie_tenant()
    return dict(key=w.global_key, body={"tenantId": t["tenantId"], "displayName": "Changed", "description": "d",
                                        "maxUserCount": 12, "isDisabled": True})


def case_mindzie_delete(w):
    t = w.mindzie_tenant()
    return dict(key=w.global_key, body={k: t[k] for k in ("tenantId", "name", "displayName")})


CASES.update({
    ("GET", "/api/tenant"): (200, lambda w: dict(path="/api/tenant?pageSize=2", key=w.global_key)),
    ("GET", "/api/tenant/{tenantId}"): (200, lambda w: dict(path=f"/api/tenant/{w.guid}", key=w.global_key)),
    ("POST", "/api/tenant"): (201, case_mindzie_create),
    ("PUT", "/api/tenant"): (200, case_mindzie_put),
    ("DELETE", "/api/tenant"): (200, case_mindzie_delete),
})
STABLE |= {("GET", "/api/tenant"), ("GET", "/api/tenant/{tenantId}")}
# Seed 002, the Laravel-style API at /tenants (fcgi-app/surfaces/laravel.c).


def laravel_tenant(w):
    """A tenant of the world's account made through /tenants, once: (its 11-character id, name)."""
    if not hasattr(w, "laravel"):
        name = f"Doc {uuid.uuid4().hex[:12]}"
        r = w.api.post("/tenants", key=w.admin.key, json={"name": name, "country_code": "NL", "city": "Utrecht"})
        assert r.status_code == 200, describe(r)
        w.laravel = (r.json()["data"]["id"], name)
    return w.laravel


def laravel_case(suffix, **req):
    return lambda w: dict(path=f"/tenants/{laravel_tenant(w)[0]}{suffix}", **req)


def laravel_switch(w):
    """As case_switch: the tenant is activated first (forced: its provisioning may run still)."""
    r = w.api.post(f"/api/v1/tenants/{laravel_slug(w)}/activate?force=true", key=w.admin.key)
    assert r.status_code == 200, describe(r)
    return laravel_case("/switch")(w)


def laravel_slug(w):
    """The slug of laravel_tenant's tenant, which /api/v1 names it by."""
    r = w.api.get("/api/v1/tenants", key=w.admin.key, params={"q": laravel_tenant(w)[1]})
    assert r.status_code == 200, describe(r)
    return next(t["id"] for t in r.json()["data"] if t["name"] == laravel_tenant(w)[1])


def laravel_create(w):
    return dict(body={"name": f"Doc {uuid.uuid4().hex[:12]}", "country_code": "US", "city": "New York",
                      "address": "115 East 23rd Street 5th Floor", "post_code": "10010", "description": "New York"})


CASES.update({
    ("GET", "/tenants"): (200, lambda w: dict(path="/tenants?per_page=2&description=")),
    ("GET", "/tenants/count"): (200, lambda w: dict(path="/tenants/count?description=doc")),
    ("POST", "/tenants"): (200, laravel_create),
    ("PUT", "/tenants/{id}"): (200, lambda w: laravel_case("", body={
        "name": laravel_tenant(w)[1], "city": "Delft", "description": 'docs <&> "quoted"'})(w)),
    ("PUT", "/tenants/{id}/deactivate"): (200, laravel_case("/deactivate", body={"user_status": 0})),
    ("PUT", "/tenants/{id}/activate"): (200, laravel_case("/activate", body={"user_status": 1})),
    ("PUT", "/tenants/{id}/switch"): (200, laravel_switch),
})
STABLE |= {("GET", "/tenants"), ("GET", "/tenants/count")}


# --- Microsoft 365 connections (seeds 000 and 004, /api/v1/connections) ---

def m365_connect(w, **fields):
    """Imports a Microsoft 365 tenant into the world's account; returns the connection."""
    from m365_helpers import connection_body
    r = w.api.post("/api/v1/connections", key=w.admin.key, json=connection_body(**fields))
    assert r.status_code == 201, describe(r)
    return r.json()


def m365_kept(w):
    """A connection that stays (so removals never hit the last one), made once."""
    if not hasattr(w, "m365"):
        w.m365 = m365_connect(w, status="active")
    return w.m365


def case_connection_import(w):
    from m365_helpers import connection_body
    return dict(path="/api/v1/connections", body=connection_body(smtpAuthOrgEnabled=None, label="docs"))


def m365_on_kept(path):
    """A request of path (which may name the kept connection's id and msTenantId)."""
    return lambda w: dict(path=path.format(**m365_kept(w)))


def m365_on_new(path):
    """A request of path on a connection of its own (the kept one stays, so it is never the last)."""
    return lambda w: (m365_kept(w), dict(path=path.format(**m365_connect(w))))[1]


CASES.update({
    ("GET", "/api/v1/connections"): (200, m365_on_kept("/api/v1/connections")),
    ("POST", "/api/v1/connections"): (201, case_connection_import),
    ("GET", "/api/v1/connections/{id}"): (200, m365_on_kept("/api/v1/connections/{id}")),
    ("DELETE", "/api/v1/connections/{id}"): (204, m365_on_new("/api/v1/connections/{id}")),
    ("POST", "/api/v1/connections/{id}/activate"): (200, m365_on_kept("/api/v1/connections/{id}/activate")),
    ("GET", "/v1/tenants"): (200, m365_on_kept("/v1/tenants")),
    ("GET", "/v1/tenants/{tenant_id}"): (200, m365_on_kept("/v1/tenants/{msTenantId}")),
    ("DELETE", "/v1/tenants/{tenant_id}"): (200, m365_on_new("/v1/tenants/{msTenantId}")),
    ("GET", "/tenants/me/connections"): (200, m365_on_kept("/tenants/me/connections")),
    ("POST", "/tenants/me/connections/{connectionId}/activate"): (200, m365_on_kept(
        "/tenants/me/connections/{id}/activate")),
    ("DELETE", "/tenants/me/connections/{connectionId}"): (200, m365_on_new("/tenants/me/connections/{id}")),
})
STABLE |= {("GET", p) for p in ("/api/v1/connections", "/api/v1/connections/{id}", "/v1/tenants",
                                "/v1/tenants/{tenant_id}", "/tenants/me/connections")}


# Provisioning operations (issue 15): a retry needs a Failed job.  The provisioner
# fails a job only after its attempts, so the job of a settled tenant is marked
# Failed in the database; the retry then runs it again (every step is done).
def case_provisioning_retry(w):
    from conftest import Db
    slug = w.create()
    w.settle(w.correlation)
    Db(w.ctl.stack).query("UPDATE provisioning_jobs SET status = 'Failed', error = 'internal: Provisioning "
                          "failed inside tenantd; the server log has the details.' "
                          f"WHERE correlation_id = '{w.correlation}'")
    return dict(path=f"/api/v1/tenants/{slug}/provisioning/retry")


CASES.update({
    ("POST", "/api/v1/tenants/{id}/provisioning/retry"): (202, case_provisioning_retry),
})

# /metrics (ops2): a text answer, the same whatever Accept says, for a client on this host
# without a credential. Routes answering text are checked against their documented media
# type, and not as JSON or XML.
CASES.update({
    ("GET", "/metrics"): (200, lambda w: {"key": None}),
})
STABLE |= {("GET", "/metrics")}
TEXT_ROUTES = {("GET", "/metrics")}


def check_text(spec, r, method, pattern, status):
    assert r.status_code == status, f"expected {status}{describe(r)}"
    resp = op_response(spec, method, pattern, status)
    check_headers(r, resp, f"{method} {pattern} -> {status}")
    got = r.headers.get("Content-Type", "").replace(" ", "").lower()
    documented = [m.replace(" ", "").lower() for m in resp.get("content", {})]
    assert any(got == m or got.startswith(m + ";") for m in documented), (
        f"{method} {pattern}: Content-Type {got!r}, documented: {documented}{describe(r)}")
    assert r.text, f"{method} {pattern}: an empty text answer{describe(r)}"


# Issue 16, part A: external ids, metadata and plan (tests/e2e/test_beyond.py).
def case_by_external_id(w):
    ext = f"doc:{uuid.uuid4().hex}"
    w.create(externalId=ext, plan="pro", metadata={"team": "docs", "1st.key": "a <&> b"})
    return dict(path=f"/api/v1/tenants/by-external-id/{ext}")


def case_restore(w):
    slug = w.create(displayName="Restore Me")
    r = w.api.delete(f"/api/v1/tenants/{slug}?confirmName=Tenant%20{slug}&confirmDisplayName=Restore%20Me",
                     key=w.admin.key)
    assert r.status_code == 200, describe(r)
    return dict(path=f"/api/v1/tenants/{slug}/restore")


def case_deleted_list(w):
    case_restore(w)
    return dict(path="/api/v1/tenants/deleted?pageSize=2")


CASES.update({
    ("GET", "/api/v1/tenants/by-external-id/{externalId}"): (200, case_by_external_id),
    ("GET", "/api/v1/tenants/deleted"): (200, case_deleted_list),
    ("POST", "/api/v1/tenants/{id}/restore"): (200, case_restore),
    ("GET", "/api/v1/tenants/{id}/history"): (200, lambda w: dict(path=f"/api/v1/tenants/{w.tenant}/history")),
    ("GET", "/api/v1/tenants/{id}/status"): (200, lambda w: {}),
    ("GET", "/api/v1/tenants/me/status"): (200, lambda w: dict(key=w.ctl.key(
        account=w.admin.account, kind="tenant", tenant=w.create(validUpto="2020-01-01T00:00:00Z", plan="p1"),
        permissions="View").key)),
})
CASES.update({
    ("GET", "/api/v1/tenants/{id}/theme"): (200, lambda w: {}),
    ("PUT", "/api/v1/tenants/{id}/theme"): (200, lambda w: dict(body={
        "primaryColor": "#112233", "backgroundColor": "#fafafa", "logoUrl": "https://cdn.example/l.svg?a=1&b=2",
        "faviconUrl": None})),
    ("POST", "/api/v1/tenants/{id}/theme/reset"): (200, lambda w: {}),
})
STABLE |= {("GET", "/api/v1/tenants/{id}/status"), ("GET", "/api/v1/tenants/{id}/theme")}
STABLE |= {("GET", "/api/v1/tenants/by-external-id/{externalId}"), ("GET", "/api/v1/tenants/deleted")}

# Bulk (issue 16, part B): a create under an item key, and a deactivate of the world's tenant.
def case_bulk(w):
    slug = f"doc-{uuid.uuid4().hex[:12]}"
    return dict(body={"operations": [{"op": "create", "idempotencyKey": uuid.uuid4().hex, "body": tenant_body(slug)},
                                     {"op": "deactivate", "id": w.tenant}]})


CASES.update({
    ("POST", "/api/v1/tenants/bulk"): (207, case_bulk),
})


def request_body_schema(spec, method, pattern, media):
    op = spec["paths"][pattern][method.lower()]
    body = deref(spec, op.get("requestBody", {}))
    assert body, f"{method} {pattern}: a body is sent but openapi.yaml documents none"
    assert media in body["content"], f"{method} {pattern}: {media} bodies are not documented"
    return deref(spec, body["content"][media]["schema"])


def send(api, w, spec, method, pattern, req, fmt):
    path = req.get("path", pattern.replace("{id}", w.tenant))
    headers = dict(req.get("headers", {}))
    kw = {}
    if "body" in req:
        if fmt == "json":
            # Members of a request body may come in any order.
            assert_valid(spec, request_body_schema(spec, method, pattern, "application/json"), req["body"],
                         f"the request body of {method} {pattern}", ordered=False)
            kw["json"] = req["body"]
        else:
            root = request_body_schema(spec, method, pattern, "application/xml").get("xml", {}).get("name")
            assert root, f"{method} {pattern}: the XML request body schema has no xml name"
            kw["data"] = to_xml(root, req["body"])
            headers["Content-Type"] = "application/xml"
    if fmt == "xml":
        headers["Accept"] = "application/xml"
    key = None if pattern in ("/healthz", "/readyz") else req.get("key", w.admin.key)
    return api.request(method, path, key=key, headers=headers, **kw)


def test_every_route_has_a_representative_request(routes):
    assert set(CASES) == set(routes), (
        f"routes without a case: {sorted(set(routes) - set(CASES))}; "
        f"cases without a route: {sorted(set(CASES) - set(routes))}")


@pytest.mark.parametrize("method,pattern", sorted(set(CASES) - set(STREAMED)),
                         ids=[f"{m} {p}" for m, p in sorted(set(CASES) - set(STREAMED))])
def test_route_answers_as_documented(api, world, spec, xsd, method, pattern):
    status, make = CASES[(method, pattern)]
    stable = (method, pattern) in STABLE
    req = make(world)
    r = send(api, world, spec, method, pattern, req, "json")
    if (method, pattern) in TEXT_ROUTES:
        check_text(spec, r, method, pattern, status)
        check_text(spec, send(api, world, spec, method, pattern, req, "xml"), method, pattern, status)
        return
    body = check_json(spec, r, method, pattern, status)
    # A GET that changes nothing is asked again for the same thing, and its XML must
    # say what the JSON said; a mutation is made afresh, and must have the same shape.
    rx = send(api, world, spec, method, pattern, req if stable else make(world), "xml")
    value = check_xml(spec, xsd, rx, method, pattern, status)
    if body is None:
        return
    if not stable:
        assert list(value) == list(body), f"{method} {pattern}: XML members {list(value)}, JSON {list(body)}"
        return
    if value != body:
        # The resource may have changed in between (a provisioning step): then the XML
        # must say what the JSON says now.
        body = check_json(spec, send(api, world, spec, method, pattern, req, "json"), method, pattern, status)
    assert value == body, f"{method} {pattern}: the XML says\n  {value}\nthe JSON says\n  {body}"
    assert list(value) == list(body), f"{method} {pattern}: members in another order in XML than in JSON"


# ---------------------------------------------------------------------------
# Headers and statuses outside the plain path


def test_conditional_get_and_idempotent_replay_are_documented(api, world, spec):
    path = f"/api/v1/tenants/{world.tenant}"
    r = api.get(path, key=world.admin.key)
    body = check_json(spec, r, "GET", "/api/v1/tenants/{id}", 200)
    etag = r.headers["ETag"]
    assert re.match(deref(spec, spec["components"]["headers"]["ETag"])["schema"]["pattern"], etag)
    r = api.get(path, key=world.admin.key, headers={"If-None-Match": etag})
    check_json(spec, r, "GET", "/api/v1/tenants/{id}", 304)
    assert r.headers.get("ETag") == etag
    assert body["id"] == world.tenant

    body = tenant_body(f"doc-{uuid.uuid4().hex[:12]}")
    headers = {"Idempotency-Key": uuid.uuid4().hex}
    first = api.post("/api/v1/tenants", key=world.admin.key, json=body, headers=headers)
    again = api.post("/api/v1/tenants", key=world.admin.key, json=body, headers=headers)
    a = check_json(spec, first, "POST", "/api/v1/tenants", 202)
    b = check_json(spec, again, "POST", "/api/v1/tenants", 202)
    assert again.headers.get("Idempotent-Replayed") == "true", describe(again)
    assert (a["id"], a["tenantId"], a["provisioningCorrelationId"]) == (b["id"], b["tenantId"],
                                                                        b["provisioningCorrelationId"])
    assert first.headers["Location"] == f"/api/v1/provisioning/{a['provisioningCorrelationId']}"


def _big_body(w):
    return dict(path="/api/v1/tenants", data=b'{"id":"' + b"a" * (1100 * 1024) + b'"}',
                headers={"Content-Type": "application/json"})


# name -> (METHOD, operation pattern (None: no operation), status, request, JSON only).
# request(world) -> path and requests keywords; key= replaces the world's admin key.
PROBLEMS = {
    "401 no credential": ("GET", "/api/v1/tenants", 401, lambda w: dict(path="/api/v1/tenants", key=None), False),
    "401 bad key": ("GET", "/api/v1/tenants/count", 401, lambda w: dict(
        path="/api/v1/tenants/count", key=None, headers={"X-API-Key": "tk_live_" + "x" * 43}), False),
    "401 tenant key": ("GET", "/api/v1/tenants/{id}", 401, lambda w: dict(
        path=f"/api/v1/tenants/{w.tenant}", key=w.ctl.key(account=w.admin.account, kind="tenant",
                                                            tenant=w.tenant, permissions="View").key), False),
    "403 permission": ("GET", "/api/v1/api-keys", 403, lambda w: dict(
        path="/api/v1/api-keys", key=w.ctl.key(permissions="View").key), False),
    "404 tenant": ("GET", "/api/v1/tenants/{id}", 404, lambda w: dict(
        path=f"/api/v1/tenants/doc-missing-{uuid.uuid4().hex[:8]}"), False),
    "404 job": ("GET", "/api/v1/provisioning/{correlationId}", 404, lambda w: dict(
        path=f"/api/v1/provisioning/{uuid.uuid4()}"), False),
    "404 key": ("DELETE", "/api/v1/api-keys/{id}", 404, lambda w: dict(path="/api/v1/api-keys/999999999999"), False),
    "404 path": ("GET", None, 404, lambda w: dict(path="/api/v1/no-such-resource"), False),
    "405": ("PATCH", None, 405, lambda w: dict(path="/api/v1/tenants"), False),
    "406": ("GET", "/api/v1/tenants", 406, lambda w: dict(path="/api/v1/tenants", headers={"Accept": "text/plain"}),
            True),
    "409": ("POST", "/api/v1/tenants", 409, lambda w: dict(path="/api/v1/tenants", json=tenant_body(w.tenant)),
            False),
    "412": ("PATCH", "/api/v1/tenants/{id}", 412, lambda w: dict(
        path=f"/api/v1/tenants/{w.tenant}", json={"city": "Paris"}, headers={"If-Match": '"0"'}), False),
    "413": ("POST", "/api/v1/tenants", 413, _big_body, False),
    "415": ("POST", "/api/v1/api-keys", 415, lambda w: dict(
        path="/api/v1/api-keys", data=b"permissions=View", headers={"Content-Type": "text/plain"}), False),
    "400 malformed": ("PUT", "/api/v1/tenants/{id}", 400, lambda w: dict(
        path=f"/api/v1/tenants/{w.tenant}", data=b'{"name": ', headers={"Content-Type": "application/json"}),
        False),
    "400 doctype": ("POST", "/api/v1/tenants/{id}/upgrade", 400, lambda w: dict(
        path=f"/api/v1/tenants/{w.tenant}/upgrade", headers={"Content-Type": "application/xml"},
        data=b'<?xml version="1.0"?><!DOCTYPE u [<!ENTITY e "x">]><u><extendedExpiryDate>&e;'
             b'</extendedExpiryDate></u>'), False),
    "422 fields": ("POST", "/api/v1/tenants", 422, lambda w: dict(
        path="/api/v1/tenants", json={"id": "Not A Slug", "name": None, "isActive": "yes", "userCount": 3,
                                      "9lives": 1, "countryCode": "XX"}), False),
    "422 query": ("GET", "/api/v1/tenants", 422, lambda w: dict(
        path="/api/v1/tenants?pageSize=101&sort=bogus%20up&isActive=maybe"), False),
    "422 delete": ("DELETE", "/api/v1/tenants/{id}", 422, lambda w: dict(path=f"/api/v1/tenants/{w.tenant}"), False),
    "422 keys": ("POST", "/api/v1/api-keys", 422, lambda w: dict(
        path="/api/v1/api-keys", json={"kind": "tenant", "permissions": [], "label": 5}), False),
    "422 audit": ("GET", "/api/v1/audit", 422, lambda w: dict(path="/api/v1/audit?limit=201&cursor=0"), False),
    "422 userStatus": ("POST", "/api/v1/tenants/{id}/activate", 422, lambda w: dict(
        path=f"/api/v1/tenants/{w.tenant}/activate", json={"userStatus": 3}), False),
}
PROBLEMS["409 retry"] = ("POST", "/api/v1/tenants/{id}/provisioning/retry", 409, lambda w: dict(
    path=f"/api/v1/tenants/{w.tenant}/provisioning/retry"), False)

# Tenant database migrations and activation refused before provisioning (issue 15).
CASES.update({
    ("GET", "/api/v1/tenants/migrations"): (200, lambda w: dict(path="/api/v1/tenants/migrations?limit=5")),
})
STABLE |= {("GET", "/api/v1/tenants/migrations")}
PROBLEMS["422 migrations"] = ("GET", "/api/v1/tenants/migrations", 422, lambda w: dict(
    path="/api/v1/tenants/migrations?limit=51"), False)


@pytest.mark.parametrize("name", list(PROBLEMS))
def test_problem_answers_as_documented(api, world, spec, xsd, name):
    method, pattern, status, make, json_only = PROBLEMS[name]
    kw = make(world)
    path = kw.pop("path")
    key = kw.pop("key", world.admin.key)
    headers = kw.pop("headers", {})

    def run(extra):
        return api.request(method, path, key=key, headers={**headers, **extra}, **kw)

    r = run({})
    if pattern is None:
        # Not an operation: the answer is a plain Problem.
        assert r.status_code == status, f"expected {status}{describe(r)}"
        assert media_type(r) == "application/problem+json", describe(r)
        body = r.json()
        assert_valid(spec, {"$ref": "#/components/schemas/Problem"}, body, f"{name} (JSON)")
        if status == 405:
            assert {m.strip() for m in r.headers.get("Allow", "").split(",")} >= {"GET", "POST"}, describe(r)
    else:
        body = check_json(spec, r, method, pattern, status)
        assert media_type(r) == "application/problem+json", describe(r)
    assert body["status"] == status and body["type"] == f"urn:tenantd:problem:{body['code']}", body
    if status == 422:
        assert body.get("errors"), f"a 422 without errors{describe(r)}"
    if json_only:
        return
    rx = run({"Accept": "application/xml"})
    assert media_type(rx) == "application/problem+xml", describe(rx)
    check_xml(spec, xsd, rx, method, pattern, status, body)


def test_rate_limit_answer_is_documented(api, ctl, spec, xsd):
    key = ctl.key(permissions="View").key
    r = api.get("/api/v1/tenants/count", key=key)
    check_json(spec, r, "GET", "/api/v1/tenants/count", 200)
    limit = int(r.headers.get("RateLimit-Limit", "0"))
    if limit <= 0 or limit > 1000:
        pytest.skip(f"rate limiting is off or too high to reach here (RateLimit-Limit {limit})")
    # A fresh key's window starts now; a slow run may cross into the next one.
    for _ in range(3 * limit + 3):
        r = api.get("/api/v1/tenants/count", key=key, headers={"Accept": "application/xml"})
        if r.status_code == 429:
            break
    assert r.status_code == 429, f"no 429 after {3 * limit + 4} requests with RateLimit-Limit {limit}{describe(r)}"
    check_xml(spec, xsd, r, "GET", "/api/v1/tenants/count", 429)
    assert int(r.headers["Retry-After"]) >= 0
    r = api.get("/api/v1/tenants/count", key=key)
    check_json(spec, r, "GET", "/api/v1/tenants/count", 429)


def test_documented_query_parameters_are_accepted(api, world, spec):
    """Every documented sort field (and direction), the bounds of pageSize, pageNumber and
    limit are accepted; one past a bound is not."""
    params = spec["components"]["parameters"]
    sort = params["Sort"]["schema"]
    fields = re.search(r"\(([A-Za-z|]+)\)", sort["pattern"]).group(1).split("|")
    values = [f"{f}{d}" for f in fields for d in ("", " asc", " desc")] + [f"-{f}" for f in fields]
    values += sort.get("examples", [])
    for v in values:
        assert re.search(sort["pattern"], v), v
    ok = [{"sort": v} for v in dict.fromkeys(values)]
    size, number = params["PageSize"]["schema"], params["PageNumber"]["schema"]
    ok += [{"pageSize": size["maximum"]}, {"pageSize": size["minimum"]}, {"pageNumber": number["maximum"]},
           {"isActive": "false", "name": "x", "q": "y" * params["TextSearch"]["schema"]["maxLength"]}]
    bad = [{"pageSize": size["maximum"] + 1}, {"pageSize": size["minimum"] - 1},
           {"pageNumber": number["maximum"] + 1}, {"sort": "name sideways"}, {"sort": "description"}]
    # A key of its own (the same account), for its own rate-limit budget.
    key = world.ctl.key(account=world.admin.account, permissions="View").key
    for q in ok:
        r = api.get("/api/v1/tenants", key=key, params=q)
        check_json(spec, r, "GET", "/api/v1/tenants", 200)
    for q in bad:
        r = api.get("/api/v1/tenants", key=key, params=q)
        check_json(spec, r, "GET", "/api/v1/tenants", 422)
    audit = {p["name"]: p["schema"] for p in spec["paths"]["/api/v1/audit"]["get"]["parameters"] if "name" in p}
    r = api.get("/api/v1/audit", key=world.admin.key, params={"limit": audit["limit"]["maximum"], "cursor": 1})
    check_json(spec, r, "GET", "/api/v1/audit", 200)
    r = api.get("/api/v1/audit", key=world.admin.key, params={"limit": audit["limit"]["maximum"] + 1})
    check_json(spec, r, "GET", "/api/v1/audit", 422)


def test_checks_are_not_vacuous(api, world, spec, xsd):
    """The JSON validator and the XSD refuse a tenant that is off in any of several ways."""
    r = api.get(f"/api/v1/tenants/{world.tenant}", key=world.admin.key)
    good = r.json()
    tenant = {"$ref": "#/components/schemas/Tenant"}
    assert not schema_errors(spec, tenant, good)
    bad = {
        "missing field": {k: v for k, v in good.items() if k != "caseCount"},
        "extra field": {**good, "secret": 1},
        "wrong type": {**good, "isActive": "true"},
        "null not allowed": {**good, "name": None},
        "bad date-time": {**good, "createdAt": "2026-13-45 25:00"},
        "bad enum": {**good, "expiryState": "Gone"},
        "bad uuid": {**good, "tenantId": "not-a-guid"},
        "bool as int": {**good, "userCount": True},
        "order": dict(reversed(list(good.items()))),
    }
    for what, value in bad.items():
        assert schema_errors(spec, tenant, value), f"the validator accepts a tenant with a {what}"

    rx = api.get(f"/api/v1/tenants/{world.tenant}", key=world.admin.key, headers={"Accept": "application/xml"})
    assert xsd.validate(parse_xml(rx)), xsd.error_log

    def mutated(change):
        doc = parse_xml(rx)
        change(doc)
        return xsd.validate(doc)

    def swap(doc):
        doc[0], doc[2] = copy_el(doc[2]), copy_el(doc[0])

    def nil_name(doc):
        el = doc.find("name")
        el.text = None
        el.set(f"{{{XSI}}}nil", "true")

    def bad_bool(doc):
        doc.find("isActive").text = "yes"

    def extra(doc):
        etree.SubElement(doc, "secret").text = "1"

    def drop(doc):
        doc.remove(doc.find("caseCount"))

    for change in (swap, nil_name, bad_bool, extra, drop):
        assert not mutated(change), f"tenantd.xsd accepts a tenant after {change.__name__}"


def copy_el(el):
    return etree.fromstring(etree.tostring(el))


# ---------------------------------------------------------------------------
# The documents themselves


def test_openapi_operations_are_the_routes(spec, routes):
    ops = set(operations(spec))
    assert ops == set(routes), (
        f"in `tenantd --routes` but not in openapi.yaml: {sorted(set(routes) - ops)}\n"
        f"in openapi.yaml but not in `tenantd --routes`: {sorted(ops - set(routes))}")


def test_openapi_permissions_are_the_routes(spec, routes):
    wrong = []
    for (method, path), op in operations(spec).items():
        perm = routes.get((method, path))
        if perm is None:
            continue
        security = op.get("security", spec.get("security"))
        if perm == "-":
            if "x-permission" in op or security != []:
                wrong.append(f"{method} {path}: public, so no x-permission and security: [] "
                             f"(has {op.get('x-permission')!r}, {security!r})")
        elif op.get("x-permission") != perm:
            wrong.append(f"{method} {path}: x-permission {op.get('x-permission')!r}, route needs {perm!r}")
        elif not security:
            wrong.append(f"{method} {path}: needs {perm} but documents no security")
        elif "401" not in op["responses"] or "403" not in op["responses"]:
            wrong.append(f"{method} {path}: needs {perm} but documents no 401/403")
    assert not wrong, "\n".join(wrong)


def test_openapi_tenant_fields_are_the_field_table(spec):
    """Tenant's properties are fields[] of surfaces/api_v1.c, in its order."""
    src = (ROOT / "fcgi-app" / "surfaces" / "api_v1.c").read_text()
    table = src[src.index("fields[] = {"):]
    table = table[:table.index("};")]
    names = re.findall(r'\{\s*"([A-Za-z]+)",\s*TC_', table)
    assert names, "cannot read fields[] in fcgi-app/surfaces/api_v1.c"
    tenant = spec["components"]["schemas"]["Tenant"]
    assert list(tenant["properties"]) == names
    assert tenant["required"] == names


def test_xsd_tenant_elements_are_the_field_table(spec):
    doc = etree.parse(str(XSD))
    ns = {"xs": "http://www.w3.org/2001/XMLSchema"}
    els = doc.xpath("/xs:schema/xs:complexType[@name='Tenant']/xs:sequence/xs:element", namespaces=ns)
    tenant = spec["components"]["schemas"]["Tenant"]
    assert [e.get("name") for e in els] == list(tenant["properties"])
    for e in els:
        t = tenant["properties"][e.get("name")]["type"]
        nullable = isinstance(t, list) and "null" in t
        assert (e.get("nillable") == "true") == nullable, f"<{e.get('name')}> nillable differs from the JSON nullability"


def redocly_program():
    env = os.environ.get("TENANTD_REDOCLY")
    if env:
        return env
    local = ROOT / "build" / "npm" / "node_modules" / ".bin" / "redocly"
    if os.access(local, os.X_OK):
        return str(local)
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed, so @redocly/cli cannot be: `redocly lint docs/openapi.yaml` "
                    "did not run (./scripts/test installs nodejs and npm when they are missing)")
    pytest.fail("@redocly/cli is not installed in build/npm: run ./scripts/test (redocly_install in "
                "scripts/lib.sh installs it) or set TENANTD_REDOCLY")


def test_redocly_lint_passes():
    exe = redocly_program()
    env = dict(os.environ, REDOCLY_TELEMETRY="off", REDOCLY_SUPPRESS_UPDATE_NOTICE="true", NO_COLOR="1")
    p = subprocess.run([exe, "lint", "--format=stylish", str(OPENAPI.relative_to(ROOT))], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=300)
    out = p.stdout + p.stderr
    assert p.returncode == 0, f"redocly lint docs/openapi.yaml exited {p.returncode}:\n{out[-4000:]}"
    assert not re.search(r"\bwarning\b", out, re.I), f"redocly lint warns:\n{out[-4000:]}"
