"""Microsoft 365 connections for the seed 000 / 004 / /api/v1/connections tests."""

import uuid

from helpers import describe, localname, parse_xml

MS_FIELDS = ("msTenantId", "label", "tenantName", "tenantDomain", "defaultDomain", "domains", "mailboxes",
             "discoveryCompleted", "exchangeBootstrapStatus", "smtpAuthOrgEnabled", "consentedAt", "lastSyncAt",
             "connectedBy")


def ms_guid():
    return str(uuid.uuid4())


def connection_body(ms=None, **overrides):
    """An import as a consent service sends it: 12 domains, 3 mailboxes per domain (seed 000)."""
    ms = ms or ms_guid()
    tag = ms[:8]
    domains = [f"d{i}-{tag}.example.com" for i in range(12)]
    body = {
        "msTenantId": ms,
        "label": f"Contoso {tag}",
        "tenantName": "Acme Corp",
        "tenantDomain": f"acme{tag}.onmicrosoft.com",
        "defaultDomain": domains[0],
        "domains": domains,
        "mailboxes": [f"{u}@{d}" for d in domains for u in ("a", "b", "c")],
        "discoveryCompleted": True,
        "exchangeBootstrapStatus": "ready",
        "smtpAuthOrgEnabled": True,
        "consentedAt": "2025-01-15T14:32:00Z",
        "lastSyncAt": "2025-04-20T08:00:00Z",
        "connectedBy": "you@example.com",
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None or k in overrides}


def import_connection(api, principal, ms=None, status=201, **overrides):
    """Imports through POST /api/v1/connections; returns the canonical connection."""
    body = connection_body(ms, **overrides)
    r = api.post("/api/v1/connections", key=principal.key, json=body)
    assert r.status_code == status, f"import: expected {status}{describe(r)}"
    return r.json()


def xml_children(r, root):
    """The XML answer's document element (checked to be root) and its child element names."""
    assert r.headers.get("Content-Type", "").startswith("application/xml"), describe(r)
    doc = parse_xml(r)
    assert localname(doc) == root, f"root <{localname(doc)}>, expected <{root}>{describe(r)}"
    return doc, [localname(c) for c in doc if isinstance(c.tag, str)]


def names(el):
    return [localname(c) for c in el if isinstance(c.tag, str)]


def types_of(obj):
    """JSON value types by member, to compare with the seed's example."""
    return {k: type(v).__name__ for k, v in obj.items()}
