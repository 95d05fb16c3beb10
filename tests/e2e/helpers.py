"""Assertions shared by the e2e tests (import: from helpers import ...)."""

import uuid

from lxml import etree


def sql_quote(value):
    if value is None:
        return "NULL"
    return "'" + str(value).replace("\\", "\\\\").replace("'", "''") + "'"


def tenant_body(slug, **overrides):
    body = {
        "id": slug,
        "name": f"Tenant {slug}",
        "adminEmail": f"admin@{slug}.example",
        "issuer": f"https://{slug}.example",
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def media_type(r):
    return r.headers.get("Content-Type", "").split(";")[0].strip().lower()


def describe(r):
    """Request and response, for assertion messages."""
    req = r.request
    return (f"\n{req.method} {req.url} -> {r.status_code} {r.headers.get('Content-Type', '')}"
            f" (X-Request-Id {r.headers.get('X-Request-Id')})\n{r.text[:800]}")


def assert_status(r, status):
    assert r.status_code == status, f"expected {status}{describe(r)}"


def assert_common_headers(r):
    """Every response: X-Request-Id and Vary: Accept."""
    assert r.headers.get("X-Request-Id"), f"no X-Request-Id{describe(r)}"
    vary = [v.strip().lower() for v in r.headers.get("Vary", "").split(",")]
    assert "accept" in vary, f"Vary lacks Accept: {r.headers.get('Vary')!r}{describe(r)}"


def is_uuid(value):
    try:
        uuid.UUID(value)
        return True
    except (TypeError, ValueError):
        return False


def assert_json(r, status, media="application/json"):
    assert_status(r, status)
    assert media_type(r) == media, f"expected {media}{describe(r)}"
    assert_common_headers(r)
    return r.json()


def assert_problem(r, status):
    """An RFC 9457 problem in JSON with type, title, status, detail, code."""
    body = assert_json(r, status, "application/problem+json")
    for field in ("type", "title", "status", "detail", "code"):
        assert field in body, f"problem lacks {field!r}{describe(r)}"
    assert body["status"] == status, f"problem status {body['status']!r} != {status}{describe(r)}"
    return body


def parse_xml(r):
    # No entity resolution or network, whatever the server sends.
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    return etree.fromstring(r.content, parser)


def localname(el):
    return etree.QName(el).localname


def child_text(el, name):
    for c in el:
        if isinstance(c.tag, str) and localname(c) == name:
            return c.text
    return None


def assert_xml(r, status, root, media="application/xml"):
    assert_status(r, status)
    assert media_type(r) == media, f"expected {media}{describe(r)}"
    assert_common_headers(r)
    doc = parse_xml(r)
    assert localname(doc) == root, f"root element {localname(doc)!r}, expected {root!r}{describe(r)}"
    return doc


def allow_methods(r):
    return {m.strip().upper() for m in r.headers.get("Allow", "").split(",") if m.strip()}
