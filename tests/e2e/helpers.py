"""Assertions shared by the e2e tests (import: from helpers import ...)."""

import base64
import hashlib
import hmac
import json
import os
import subprocess
import time
import uuid
from pathlib import Path

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


def assert_invalid_credential(r):
    """401 problem for a credential that was presented but is not acceptable (bad JWT or key),
    with the RFC 6750 challenge naming invalid_token."""
    body = assert_problem(r, 401)
    challenge = r.headers.get("WWW-Authenticate", "")
    assert challenge.lower().startswith("bearer"), f"WWW-Authenticate: {challenge!r}{describe(r)}"
    assert 'error="invalid_token"' in challenge, f"WWW-Authenticate: {challenge!r}{describe(r)}"
    return body


def tenantd_binary():
    """The tenantd the stack runs: $TENANTD_BIN, else next to $TENANTCTL, else build/up/tenantd."""
    if os.environ.get("TENANTD_BIN"):
        return os.environ["TENANTD_BIN"]
    if os.environ.get("TENANTCTL"):
        return str(Path(os.environ["TENANTCTL"]).with_name("tenantd"))
    return str(Path(__file__).resolve().parents[2] / "build" / "up" / "tenantd")


def tenantd_routes(binary=None):
    """[(method, pattern, permission or None)] as `tenantd --routes` prints them."""
    out = subprocess.run([binary or tenantd_binary(), "--routes"], capture_output=True, text=True,
                         timeout=30, check=True).stdout
    routes = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3:
            routes.append((parts[0], parts[1], None if parts[2] == "-" else parts[2]))
    return routes


def jwt_b64(data):
    """base64url without padding of bytes, or of a dict/list as compact JSON."""
    if isinstance(data, (dict, list)):
        data = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hs256_raw(header, claims, secret):
    """An HS256 token over any header and claims with any secret bytes. PyJWT refuses a PEM
    as HMAC secret, which is exactly what an algorithm-confusion attack uses."""
    signing_input = f"{jwt_b64(header)}.{jwt_b64(claims)}"
    sig = hmac.new(secret if isinstance(secret, bytes) else secret.encode(), signing_input.encode(),
                   hashlib.sha256).digest()
    return f"{signing_input}.{jwt_b64(sig)}"


def cgi(stack, tmp_path, env, stdin=b"", extra_conf="", timeout=30, keep_stdin_open=False):
    """tenantd in CGI mode (no listen): (status, headers, body)."""
    conf = tmp_path / "cgi.conf"
    conf.write_text("".join(line for line in Path(stack.config).read_text().splitlines(True)
                            if not line.startswith("listen")) + extra_conf)
    full = {"PATH": "/usr/bin:/bin", "ASAN_OPTIONS": "detect_leaks=0", "REQUEST_METHOD": "GET",
            "SERVER_PROTOCOL": "HTTP/1.1", **env}
    full.setdefault("QUERY_STRING", full.get("REQUEST_URI", "").partition("?")[2])
    if keep_stdin_open:
        # stdin that never ends, like a client socket nobody closes.
        r, w = os.pipe()
        try:
            p = subprocess.run([tenantd_binary(), "--config", str(conf)], env=full, stdin=r,
                               capture_output=True, timeout=timeout)
        finally:
            os.close(r)
            os.close(w)
    else:
        p = subprocess.run([tenantd_binary(), "--config", str(conf)], env=full, input=stdin,
                           capture_output=True, timeout=timeout)
    assert p.returncode == 0, p.stderr.decode()[-2000:]
    head, _, body = p.stdout.partition(b"\r\n\r\n")
    headers = {}
    for line in head.decode().split("\r\n"):
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return int(headers["status"].split()[0]), headers, body


def inline_secrets(lines):
    """Config lines with each `secrets.key_file[.KID] = PATH` replaced by the key itself
    (`secrets.key[.KID] = ...`): for a tenantd run as another user, who may not read the
    stack's key file (mode 0600, root's)."""
    out = []
    for line in lines:
        key, sep, value = line.partition("=")
        key = key.strip()
        if sep and (key == "secrets.key_file" or key.startswith("secrets.key_file.")):
            out.append(f"secrets.key{key[len('secrets.key_file'):]} = {Path(value.strip()).read_text().strip()}\n")
        else:
            out.append(line)
    return out


def wait_settled(db, *slugs, timeout=120, every=0.1):
    """Polls (bounded) until the provisioner is done with every named tenant (its job
    Completed or Failed), whose row then stays put."""
    import time

    names = ", ".join(sql_quote(s) for s in slugs)
    deadline = time.monotonic() + timeout
    while int(db.scalar(f"SELECT COUNT(*) FROM tenants WHERE slug IN ({names}) "
                        "AND provisioning_status NOT IN ('Completed', 'Failed')")) != 0:
        assert time.monotonic() < deadline, f"provisioning of {slugs} did not settle in {timeout} s"
        time.sleep(every)


def wait_provisioned(db, *slugs, timeout=120, every=0.1):
    """Polls (bounded) until every named tenant's provisioning job has Completed, as an
    activation needs (issue 15); a Failed job fails the test at once."""
    import time

    names = ", ".join(sql_quote(s) for s in slugs)
    deadline = time.monotonic() + timeout
    while True:
        rows = db.query(f"SELECT slug, provisioning_status FROM tenants WHERE slug IN ({names})")
        status = {r["slug"]: r["provisioning_status"] for r in rows}
        assert set(status) == set(slugs), f"no tenants {set(slugs) - set(status)}"
        assert "Failed" not in status.values(), f"provisioning failed: {status}"
        if all(s == "Completed" for s in status.values()):
            return
        assert time.monotonic() < deadline, f"provisioning of {status} did not complete in {timeout} s"
        time.sleep(every)
