"""Identity, end to end through nginx: JWTs from every configured issuer (HS256 dev, RS256 with
two keys for rotation, ES256), API key kinds and expiry, the permission of every route as
`tenantd --routes` prints it, revocation, ownership isolation, rate limiting shared by the
workers, and keys that cannot hand out more than their creator holds.

The RS256 and ES256 issuers exist in the stack of ./scripts/test (scripts/lib.sh,
add_test_jwt_issuers); without them those tests skip."""

import hashlib
import subprocess
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import pytest
import requests

from fcgi_client import direct_get, direct_request
from helpers import (assert_invalid_credential, assert_json, assert_problem, assert_status, describe,
                     hs256_raw, jwt_b64, media_type, sql_quote, tenant_body, tenantd_routes)

LIST = "/api/v1/tenants"
KEYS = "/api/v1/api-keys"
ALL_PERMISSIONS = ("View", "Create", "Update", "Delete", "UpgradeSubscription", "ManageKeys", "Metrics", "ManageWebhooks",
                   "ViewTheme", "UpdateTheme")
# Routes a client on tenantd's own host reaches without a credential: sent as from elsewhere.
LOOPBACK_FREE = {"/metrics"}
KEY_PREFIX_LEN = 20       # "tk_live_" + 12 characters, stored and shown for lookup


def short_permission(claim):
    """"Permissions.Multitenancy.Create" -> "Create"."""
    return claim.rsplit(".", 1)[-1]


def rid():
    return str(uuid.uuid4())


def fresh_get(stack, path, *, key=None, token=None, headers=None):
    """A GET on a connection of its own (requests.get opens a new one each time), so that
    successive requests are not tied to one nginx worker."""
    h = dict(headers or {})
    if key or token:
        h["Authorization"] = f"Bearer {key or token}"
    return requests.get(stack.url + path, headers=h, timeout=30, allow_redirects=False)


def in_parallel(fn, n, threads=4):
    with ThreadPoolExecutor(threads) as ex:
        return list(ex.map(fn, range(n)))


def on_every_worker(probe, request, tries=60):
    """Repeats request() (a request on a connection of its own, straight to tenantd's socket:
    whichever worker is quickest takes it) until every tenantd worker has served one, and
    returns the responses. Through nginx, kept-alive connections would tie the requests to
    whichever worker holds them."""
    before = probe()
    responses = []
    for _ in range(tries):
        responses.append(request())
        after = probe()
        if len(before) < 2 or all(after.get(pid, n) > n for pid, n in before.items()):
            return responses
    raise AssertionError(f"{tries} requests did not reach every tenantd worker ({before} -> {probe()})")


@contextmanager
def served_by_several_workers(probe):
    """Asserts that more than one tenantd worker served requests inside the block (when the
    workers can be seen at all: see the tenantd_workers fixture)."""
    before = probe()
    yield
    after = probe()
    if len(before) < 2:
        return
    moved = [pid for pid, n in before.items() if after.get(pid, n) > n]
    assert len(moved) >= 2, (f"only {len(moved)} of {len(before)} tenantd workers served the requests "
                              f"(activity before {before}, after {after})")


def key_row(db, key):
    row = db.one("SELECT id, account_id, prefix, kind, permissions, revoked_at, expires_at"
                 f" FROM api_keys WHERE prefix = {sql_quote(key[:KEY_PREFIX_LEN])}")
    assert row is not None, f"no api_keys row for prefix {key[:KEY_PREFIX_LEN]}"
    return row


def audit_rows(db, where):
    return db.query("SELECT id, account_id, principal, action, target_type, target_id, outcome, request_id,"
                    f" detail FROM audit_events WHERE {where} ORDER BY id")


def tenant_snapshot(db, slug):
    return db.one(f"SELECT * FROM tenants WHERE slug = {sql_quote(slug)}")


def tenant_fields(db, slug):
    """What a client can change about a tenant (not the provisioner's bookkeeping)."""
    return db.one("SELECT account_id, name, display_name, description, admin_email, is_active, valid_upto"
                  f" FROM tenants WHERE slug = {sql_quote(slug)}")


def wait_provisioned(api, principal, slug, timeout=15):
    """Waits until the tenant's provisioning job has finished (the provisioner updates the
    tenants row while it runs), so that a snapshot of the row stays put."""
    deadline = time.monotonic() + timeout
    while True:
        job = assert_json(api.get(f"{LIST}/{slug}/provisioning", key=principal.key), 200)
        if job.get("status") in ("Completed", "Failed") or time.monotonic() > deadline:
            assert job.get("status") in ("Completed", "Failed"), f"provisioning of {slug} still {job}"
            return job
        time.sleep(0.1)


def test_stack_runs_several_workers(tenantd_workers):
    """The rate-limit and revocation tests below prove something only with more than one worker."""
    workers = tenantd_workers()
    if not workers:
        pytest.skip("tenantd's workers are not visible (no pid file next to the config)")
    assert len(workers) >= 2, f"tenantd runs {len(workers)} worker(s): {sorted(workers)}"


class JwtAccount:
    """A fresh account that exists through a dev-issuer JWT holding every permission (quicker
    than two tenantctl runs); it creates tenants and mints its API keys over HTTP."""

    def __init__(self, api, dev_issuer):
        self.api = api
        self.account = f"jwt-owner-{uuid.uuid4().hex[:12]}"
        self.token = dev_issuer.mint(sub=self.account, permissions=list(ALL_PERMISSIONS))

    def create_tenant(self, slug, **fields):
        r = self.api.post(LIST, token=self.token, json=tenant_body(slug, **fields))
        assert_json(r, 202)
        return r

    def mint(self, permissions, **fields):
        """POST /api/v1/api-keys; the created key's JSON (with its one-time "key")."""
        body = {"kind": "account", "permissions": list(permissions), "label": "e2e"}
        body.update(fields)
        return assert_json(self.api.post(KEYS, token=self.token, json=body), 201)


# ---------------------------------------------------------------------------
# JWT: every issuer, the right key and the wrong ones

SIGNERS = ["dev", "rs-r1", "rs-r2", "es"]


@pytest.fixture(params=SIGNERS)
def signer(request):
    """(issuer, kid): the dev HS256 issuer, the RS256 issuer with either of its keys, ES256."""
    name, _, kid = request.param.partition("-")
    issuer = request.getfixturevalue(f"{name}_issuer")
    return issuer, (kid or issuer.default_kid)


def wrong_key(issuer, foreign_keys):
    return {"HS256": "not-the-dev-secret-" + "x" * 40, "RS256": foreign_keys["rsa"],
            "ES256": foreign_keys["ec"]}[issuer.alg]


def test_jwt_accepted_with_the_right_key(api, db, signer):
    issuer, kid = signer
    sub = f"jwt-{issuer.name}-{uuid.uuid4().hex[:10]}"
    r = api.get(LIST, token=issuer.mint(sub=sub, kid=kid))
    page = assert_json(r, 200)
    assert page["data"] == [] and page["totalCount"] == 0, page
    assert r.headers.get("RateLimit-Limit"), f"no RateLimit-Limit{describe(r)}"
    # sub names the account, created on first use.
    assert db.scalar(f"SELECT COUNT(*) FROM accounts WHERE name = {sql_quote(sub)}") == "1"


def test_jwt_wrong_key_401(api, db, signer, foreign_keys):
    issuer, kid = signer
    sub = f"jwt-forged-{uuid.uuid4().hex[:10]}"
    token = issuer.mint(sub=sub, kid=kid, key=wrong_key(issuer, foreign_keys), permissions=list(ALL_PERMISSIONS))
    assert_invalid_credential(api.get(LIST, token=token))
    # A refused token creates no account for its subject.
    assert db.scalar(f"SELECT COUNT(*) FROM accounts WHERE name = {sql_quote(sub)}") == "0"


def test_jwt_rs_key_of_the_other_kid_401(api, rs_issuer):
    """Each kid verifies only with its own key: r2's header over r1's signature is refused."""
    token = rs_issuer.mint(kid="r2", key=rs_issuer.keys["r1"])
    assert_invalid_credential(api.get(LIST, token=token))


def test_jwt_rs_unknown_kid_401(api, rs_issuer):
    token = rs_issuer.mint(kid="r9", key=rs_issuer.keys["r1"])
    body = assert_invalid_credential(api.get(LIST, token=token))
    assert "kid" in body["detail"], body


def test_jwt_wrong_issuer_401(api, signer):
    issuer, kid = signer
    assert_invalid_credential(api.get(LIST, token=issuer.mint(kid=kid, iss="https://evil.example")))


def test_jwt_wrong_audience_401(api, signer):
    issuer, kid = signer
    assert_invalid_credential(api.get(LIST, token=issuer.mint(kid=kid, aud="someone-else")))


def test_jwt_audience_array_containing_ours_accepted(api, signer):
    issuer, kid = signer
    assert_json(api.get(LIST, token=issuer.mint(kid=kid, aud=["other", issuer.aud])), 200)
    assert_invalid_credential(api.get(LIST, token=issuer.mint(kid=kid, aud=["other", "more"])))


def test_jwt_missing_audience_401(api, signer):
    issuer, kid = signer
    assert_invalid_credential(api.get(LIST, token=issuer.mint(kid=kid, aud=None)))


def test_jwt_expired_beyond_leeway_401(api, signer):
    issuer, kid = signer
    now = int(time.time())
    token = issuer.mint(kid=kid, iat=now - 600, nbf=now - 600, exp=now - 120)   # leeway is 60 s
    body = assert_invalid_credential(api.get(LIST, token=token))
    assert "expired" in body["detail"], body


def test_jwt_expired_within_leeway_accepted(api, signer):
    issuer, kid = signer
    now = int(time.time())
    token = issuer.mint(kid=kid, iat=now - 600, nbf=now - 600, exp=now - 30)
    assert_json(api.get(LIST, token=token), 200)


def test_jwt_without_exp_401(api, signer):
    issuer, kid = signer
    assert_invalid_credential(api.get(LIST, token=issuer.mint(kid=kid, exp=None)))


def test_jwt_nbf_in_the_future_401(api, signer):
    issuer, kid = signer
    now = int(time.time())
    assert_invalid_credential(api.get(LIST, token=issuer.mint(kid=kid, iat=now, nbf=now + 600, exp=now + 900)))


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
def test_jwt_alg_none_401(api, signer, alg):
    issuer, _ = signer
    claims = issuer.claims(permissions=list(ALL_PERMISSIONS))
    for token in (f"{jwt_b64({'alg': alg, 'typ': 'JWT'})}.{jwt_b64(claims)}.",
                  f"{jwt_b64({'alg': alg})}.{jwt_b64(claims)}.{jwt_b64(b'x' * 32)}"):
        assert_invalid_credential(api.get(LIST, token=token))


@pytest.mark.parametrize("pem_form", ["exact", "stripped"])
@pytest.mark.parametrize("with_kid", [True, False], ids=["kid", "no-kid"])
def test_jwt_algorithm_confusion_hs256_with_public_key_401(api, rs_issuer, es_issuer, pem_form, with_kid):
    """HS256 tokens claiming the RS256 (or ES256) issuer, MACed with that issuer's PUBLIC key
    file as the secret: the issuer pins its algorithm, so they are refused."""
    for issuer, kid in ((rs_issuer, "r1"), (rs_issuer, "r2"), (es_issuer, "")):
        public = issuer.public[kid]
        assert public and b"PUBLIC KEY" in public, f"public key of jwt.{issuer.name} not found"
        secret = public if pem_form == "exact" else public.strip()
        header = {"alg": "HS256", "typ": "JWT"}
        if with_kid and kid:
            header["kid"] = kid
        token = hs256_raw(header, issuer.claims(permissions=list(ALL_PERMISSIONS)), secret)
        assert_invalid_credential(api.get(LIST, token=token))


def test_jwt_rs256_token_claiming_the_es_issuer_401(api, rs_issuer, es_issuer):
    token = es_issuer.mint(kid="", key=rs_issuer.keys["r1"], alg="RS256")
    body = assert_invalid_credential(api.get(LIST, token=token))
    assert "alg" in body["detail"], body


def test_jwt_es256_token_claiming_the_rs_issuer_401(api, rs_issuer, es_issuer):
    token = rs_issuer.mint(kid="r1", key=es_issuer.keys[""], alg="ES256")
    assert_invalid_credential(api.get(LIST, token=token))


def test_jwt_hs256_with_dev_secret_claiming_the_rs_issuer_401(api, rs_issuer, dev_issuer):
    token = rs_issuer.mint(kid="r1", key=dev_issuer.keys[""], alg="HS256")
    assert_invalid_credential(api.get(LIST, token=token))


def _malformed_tokens(valid):
    head, payload, sig = valid.split(".")
    return {
        "truncated-signature": valid[:-10],
        "signature-half": f"{head}.{payload}.{sig[:len(sig) // 2]}",
        "signature-doubled": f"{head}.{payload}.{sig}{sig}",
        "truncated-in-payload": f"{head}.{payload[:len(payload) // 2]}",
        "header-only": head,
        "no-signature-segment": f"{head}.{payload}",
        "empty-signature": f"{head}.{payload}.",
        "four-segments": f"{valid}.{sig}",
        "trailing-dot": f"{valid}.",
        "empty-segments": "..",
        "dots-only": "....",
        "garbage": "garbage",
        "garbage-with-dots": "a.b.c",
        "garbage-long": "x" * 6000,
        "non-base64-header": f"{head[:-4]}!!**.{payload}.{sig}",
        "non-base64-payload": f"{head}.{payload[:-4]}$%^&.{sig}",
        "non-base64-signature": f"{head}.{payload}.{sig[:-4]}@@@@",
        "standard-base64-padding": f"{head}==.{payload}.{sig}",
        "header-not-json": f"{jwt_b64(b'not json')}.{payload}.{sig}",
        "header-json-array": f"{jwt_b64([1, 2])}.{payload}.{sig}",
        "payload-not-json": f"{head}.{jwt_b64(b'{')}.{sig}",
        "payload-json-array": f"{head}.{jwt_b64(b'[]')}.{sig}",
        "swapped-segments": f"{payload}.{head}.{sig}",
    }


MALFORMED = list(_malformed_tokens("aGVhZGVy.cGF5bG9hZA.c2ln"))


@pytest.mark.parametrize("case", MALFORMED)
def test_jwt_malformed_401_never_5xx(api, issuers, case):
    """Each case made from a valid token of every configured issuer (and key)."""
    for issuer in issuers.values():
        for kid in sorted(issuer.keys):
            valid = issuer.mint(kid=kid, permissions=list(ALL_PERMISSIONS))
            r = api.get(LIST, token=_malformed_tokens(valid)[case])
            assert r.status_code == 401, f"jwt.{issuer.name} kid {kid!r}: expected 401{describe(r)}"
            assert_invalid_credential(r)


def test_jwt_es256_signature_in_der_form_401(api, es_issuer):
    """JOSE carries ES256 signatures as R || S (64 bytes); the DER form other libraries emit
    is refused, even though the signature itself is right."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    key = serialization.load_pem_private_key(es_issuer.keys[""], password=None)
    signing_input = f"{jwt_b64({'alg': 'ES256', 'typ': 'JWT'})}.{jwt_b64(es_issuer.claims())}"
    der = key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
    assert_invalid_credential(api.get(LIST, token=f"{signing_input}.{jwt_b64(der)}"))


# ---------------------------------------------------------------------------
# JWT permission claims


@pytest.mark.parametrize("claim,value", [
    ("permission", "Permissions.Multitenancy.Create"),
    ("permission", ["Multitenancy.Create"]),
    ("permission", ["Permissions.Tenants.Create"]),
    ("permission", "Create"),
    ("permissions", ["Multitenancy.Create"]),
    ("permissions", "Permissions.Tenants.Create"),
])
def test_jwt_permission_spellings_allow_create(api, db, dev_issuer, slug, claim, value):
    sub = f"jwt-{uuid.uuid4().hex[:10]}"
    claims = dev_issuer.claims(sub=sub)
    del claims["permission"]
    claims[claim] = value
    token = dev_issuer.sign(claims)
    r = api.post(LIST, token=token, json=tenant_body(slug))
    created = assert_json(r, 202)
    assert created["id"] == slug
    owner = db.scalar("SELECT a.name FROM tenants t JOIN accounts a ON a.id = t.account_id"
                      f" WHERE t.slug = {sql_quote(slug)}")
    assert owner == sub, f"tenant owned by {owner!r}, expected the token's sub {sub!r}"


@pytest.mark.parametrize("signer_name", SIGNERS)
def test_jwt_with_view_only_403_on_create_and_audited(api, db, request, slug, signer_name):
    name, _, kid = signer_name.partition("-")
    issuer = request.getfixturevalue(f"{name}_issuer")
    sub = f"jwt-{uuid.uuid4().hex[:10]}"
    request_id = rid()
    r = api.post(LIST, token=issuer.mint(sub=sub, kid=kid or issuer.default_kid, permissions=["View"]),
                 json=tenant_body(slug), headers={"X-Request-Id": request_id})
    body = assert_problem(r, 403)
    assert "Permissions.Multitenancy.Create" in body["detail"], body
    assert tenant_snapshot(db, slug) is None, "a tenant row was written despite the 403"
    rows = audit_rows(db, f"request_id = {sql_quote(request_id)}")
    assert len(rows) == 1, f"expected one audit row for the refused request, got {rows}"
    row = rows[0]
    assert row["outcome"] == "denied", row
    assert row["action"] == "POST /api/v1/tenants", row
    assert row["principal"] == f"jwt:{sub}", row
    assert "Permissions.Multitenancy.Create" in (row["detail"] or ""), row
    account_id = db.scalar(f"SELECT id FROM accounts WHERE name = {sql_quote(sub)}")
    assert row["account_id"] == account_id, row


# ---------------------------------------------------------------------------
# API key kinds and expiry


def test_global_key_sees_other_accounts_tenant_in_get_and_list(api, dev_issuer, new_key, slug):
    owner = JwtAccount(api, dev_issuer)
    owner.create_tenant(slug)
    g = new_key("View", kind="global")
    assert g.account != owner.account
    t = assert_json(api.get(f"{LIST}/{slug}", key=g.key), 200)
    assert t["id"] == slug
    page = assert_json(api.get(LIST, key=g.key, params={"name": f"Tenant {slug}"}), 200)
    assert [x["id"] for x in page["data"]] == [slug], page
    assert page["totalCount"] == 1, page


def test_account_key_does_not_see_other_accounts_tenant(api, dev_issuer, new_key, slug):
    owner = JwtAccount(api, dev_issuer)
    owner.create_tenant(slug)
    other = new_key("all")
    body = assert_problem(api.get(f"{LIST}/{slug}", key=other.key), 404)
    assert body["code"] == "tenant_not_found", body
    page = assert_json(api.get(LIST, key=other.key, params={"name": f"Tenant {slug}"}), 200)
    assert page["data"] == [] and page["totalCount"] == 0, page
    count = assert_json(api.get(f"{LIST}/count", key=other.key), 200)
    assert count.get("count") == 0, count


def test_tenant_key_401_on_tenant_management(api, new_key, create_tenant, slug):
    owner = new_key("all")
    create_tenant(owner, slug)
    by_ctl = new_key("all", kind="tenant", account=owner.account, tenant=slug).key
    # The same kind minted over HTTP.
    by_api = assert_json(api.post(KEYS, key=owner.key, json={"kind": "tenant", "tenant": slug,
                                                             "permissions": list(ALL_PERMISSIONS)}), 201)
    assert by_api["kind"] == "tenant" and by_api["tenant"] == slug, by_api
    # The earlier name of the member is still accepted.
    by_old = assert_json(api.post(KEYS, key=owner.key, json={"kind": "tenant", "tenantId": slug,
                                                             "permissions": ["View"]}), 201)
    assert by_old["tenant"] == slug, by_old
    for tk in (by_ctl, by_api["key"], by_old["key"]):
        for path in (LIST, f"{LIST}/{slug}", f"{LIST}/{slug}/provisioning", f"{LIST}/count", KEYS):
            r = api.get(path, key=tk)
            body = assert_invalid_credential(r)
            assert body["code"] == "tenant_key_refused", f"{path}: {body}"
        assert_invalid_credential(api.get(f"{LIST}/{slug}", headers={"X-API-Key": tk}))
        assert_invalid_credential(api.post(LIST, key=tk, json=tenant_body(f"{slug}-x")))


def test_expired_key_401(api, new_key):
    expired = new_key("all", expires="2020-01-01T00:00:00Z")
    body = assert_invalid_credential(api.get(LIST, key=expired.key))
    assert "expired" in body["detail"], body
    assert_invalid_credential(api.get(LIST, headers={"X-API-Key": expired.key}))
    valid = new_key("all", expires="2099-01-01T00:00:00Z")
    assert_json(api.get(LIST, key=valid.key), 200)


# ---------------------------------------------------------------------------
# Every route's permission, from `tenantd --routes`


def pytest_generate_tests(metafunc):
    if "route" not in metafunc.fixturenames:
        return
    try:
        routes = [r for r in tenantd_routes() if r[2] is not None]
        error = None if routes else "tenantd --routes printed no route with a permission"
    except (OSError, subprocess.SubprocessError) as e:
        routes, error = [], f"tenantd --routes failed: {e}"
    if error:
        metafunc.parametrize("route", [("?", "?", error)], ids=["route-table-unavailable"])
    else:
        metafunc.parametrize("route", routes, ids=[f"{m} {p}" for m, p, _ in routes])


def global_key_only(pattern):
    """Seed 003's routes (/api/tenant) take global API keys only (ROUTE_GLOBAL_KEY)."""
    return pattern == "/api/tenant" or pattern.startswith("/api/tenant/")


# Surfaces whose answers are not RFC 9457 problems with RateLimit-* headers, by path prefix
# (the longest matching one applies): their 403 body and their requests-left header.
SURFACE_STYLES = {
    "/tenants": ({"message": "This action is unauthorized."}, "X-RateLimit-Remaining"),   # seed 002
    "/tenants/me": None,    # seed 004, under /tenants but a surface of its own
}


def surface_style(pattern):
    """(403 body, requests-left header) of the surface pattern belongs to; None for problem details."""
    prefixes = [p for p in SURFACE_STYLES if pattern == p or pattern.startswith(p + "/")]
    return SURFACE_STYLES[max(prefixes, key=len)] if prefixes else None


class RouteWorld:
    """A fresh account (JwtAccount) with a tenant and a spare API key to aim a route at;
    mint() makes the account's API keys, key_for() one that the route's kind of key."""

    def __init__(self, api, dev_issuer, slug, ctl):
        self.api = api
        self.ctl = ctl
        owner = JwtAccount(api, dev_issuer)
        self.account = owner.account
        self.mint = owner.mint
        self.correlation_id = owner.create_tenant(slug).json()["provisioningCorrelationId"]
        self.slug = slug
        self.spare_key_id = self.mint(["View"])["id"]
        # Seed 002's routes name the tenant by its 11-character id.
        r = api.get("/tenants", token=owner.token, params={"name": f"Tenant {slug}"})
        self.short_id = assert_json(r, 200)["data"][0]["id"]

    def key_for(self, pattern, permissions):
        """A key of the account holding permissions, of the kind the route takes: a global
        key (made with tenantctl: no API credential may mint one) or an account key."""
        if global_key_only(pattern):
            return self.ctl.key(account=self.account, kind="global", permissions=permissions).key
        return self.mint(permissions)["key"]

    def path(self, pattern):
        path = pattern
        if pattern.startswith(KEYS):
            path = path.replace("{id}", str(self.spare_key_id))
        path = path.replace("{correlationId}", self.correlation_id)
        if pattern.startswith("/tenants/{id}"):
            path = path.replace("{id}", self.short_id)
        while "{" in path:   # any other parameter: the tenant
            start = path.index("{")
            path = path[:start] + self.slug + path[path.index("}", start) + 1:]
        return path

    def body(self, method, pattern):
        if method not in ("POST", "PUT", "PATCH"):
            return None
        if pattern == LIST:
            return tenant_body(f"{self.slug}-n")
        if pattern == KEYS:
            return {"kind": "account", "permissions": ["ManageKeys"], "label": "route test"}
        if pattern.endswith("/upgrade"):
            return {"extendedExpiryDate": "2031-01-01T00:00:00Z"}
        if method == "PUT":
            return tenant_body(self.slug, name=f"Put {self.slug}")
        if method == "PATCH":
            return {"description": "patched by the route test"}
        return {}

    def send(self, method, pattern, key, request_id):
        if pattern in LOOPBACK_FREE:
            return direct_request(self.stack, method, self.path(pattern), key=key,
                                  headers={"X-Request-Id": request_id}, remote_addr="192.0.2.10")
        body = self.body(method, pattern)
        kw = {"json": body} if body is not None else {}
        return self.api.request(method, self.path(pattern), key=key, headers={"X-Request-Id": request_id}, **kw)


def test_route_refuses_a_key_with_every_permission_but_its_own(api, db, ctl, dev_issuer, slug, route, stack):
    method, pattern, claim = route
    if method == "?":
        pytest.fail(claim)
    world = RouteWorld(api, dev_issuer, slug, ctl)
    world.stack = stack
    before = tenant_fields(db, world.slug)
    need = short_permission(claim)
    assert need in ALL_PERMISSIONS, f"{method} {pattern} needs {claim}, unknown to this test"
    key = world.key_for(pattern, [p for p in ALL_PERMISSIONS if p != need])
    request_id = rid()
    r = world.send(method, pattern, key, request_id)
    style = surface_style(pattern)
    if style is not None:
        assert assert_json(r, 403) == style[0], describe(r)
    else:
        # Other surfaces answer in their seed's envelope, whose message names the claim too.
        assert_status(r, 403)
        detail = assert_problem(r, 403)["detail"] if media_type(r) == "application/problem+json" else r.text
        assert claim in detail, f"the answer does not name {claim}{describe(r)}"
    rows = audit_rows(db, f"request_id = {sql_quote(request_id)}")
    if method == "GET":
        assert rows == [], f"a refused GET was audited: {rows}"
    else:
        assert [(x["action"], x["outcome"]) for x in rows] == [(f"{method} {pattern}", "denied")], rows
        assert rows[0]["principal"] == f"key:{key_row(db, key)['id']}", rows
    # Nothing changed (the provisioner may still be at work on other columns).
    assert tenant_fields(db, world.slug) == before, "a refused request changed the tenant"
    assert db.scalar("SELECT current_tenant_pk FROM accounts"
                     f" WHERE name = {sql_quote(world.account)}") is None, "a refused switch switched"


def test_route_allows_a_key_with_only_its_permission(api, ctl, dev_issuer, slug, route, stack):
    method, pattern, claim = route
    if method == "?":
        pytest.fail(claim)
    world = RouteWorld(api, dev_issuer, slug, ctl)
    world.stack = stack
    key = world.key_for(pattern, [short_permission(claim)])
    r = world.send(method, pattern, key, rid())
    assert r.status_code not in (401, 403) and r.status_code < 500, \
        f"a key holding {claim} was not let through{describe(r)}"
    remaining = surface_style(pattern)[1] if surface_style(pattern) else "RateLimit-Remaining"
    assert r.headers.get(remaining) is not None, f"no {remaining}{describe(r)}"


# ---------------------------------------------------------------------------
# /api/v1/api-keys: revocation, secrecy, escalation


def create_key_via_api(api, creator, **fields):
    body = {"kind": "account", "permissions": ["View"], "label": "e2e"}
    body.update(fields)
    r = api.post(KEYS, key=creator.key, json=body)
    created = assert_json(r, 201)
    assert created["key"].startswith("tk_live_"), created
    assert r.headers.get("Location") == f"{KEYS}/{created['id']}", f"Location{describe(r)}"
    return created


def test_revoked_key_is_refused_at_once_by_every_worker(api, db, stack, admin, tenantd_workers):
    created = create_key_via_api(api, admin, label="to revoke")
    key, key_id = created["key"], created["id"]
    # Used successfully by every worker, so each may have it cached.
    for r in on_every_worker(tenantd_workers, lambda: direct_get(stack, LIST, key=key)):
        assert_json(r, 200)
    assert_json(fresh_get(stack, LIST, key=key), 200)
    r = api.delete(f"{KEYS}/{key_id}", key=admin.key)
    assert_status(r, 204)
    assert r.content == b"", f"204 with a body{describe(r)}"

    responses = on_every_worker(tenantd_workers, lambda: direct_get(stack, f"{LIST}/count", key=key))
    responses += in_parallel(lambda i: fresh_get(stack, LIST if i % 2 else f"{LIST}/count", key=key), 8)
    for r in responses:
        body = assert_invalid_credential(r)
        assert "revoked" in body["detail"], body

    row = key_row(db, key)
    assert row["revoked_at"] is not None, row
    shown = assert_json(api.get(f"{KEYS}/{key_id}", key=admin.key), 200)
    assert shown["active"] is False and shown["revokedAt"], shown
    # A second revoke finds no active key.
    assert_problem(api.delete(f"{KEYS}/{key_id}", key=admin.key), 404)

    audit = audit_rows(db, f"target_type = 'api_key' AND target_id = {sql_quote(str(key_id))}")
    actions = [(x["action"], x["outcome"]) for x in audit]
    assert actions == [("key.create", "ok"), ("key.revoke", "ok")], audit
    admin_key_id = key_row(db, admin.key)["id"]
    assert all(x["principal"] == f"key:{admin_key_id}" for x in audit), audit


def test_key_secret_is_shown_once_and_stored_as_hash_only(api, db, admin):
    created = create_key_via_api(api, admin, label="secret check")
    key, key_id = created["key"], created["id"]
    assert created["prefix"] == key[:KEY_PREFIX_LEN], created
    assert_json(api.get(LIST, key=key), 200)

    r = api.get(KEYS, key=admin.key)
    listing = assert_json(r, 200)
    entries = {e["id"]: e for e in listing["data"]}
    assert key_id in entries, listing
    assert all("key" not in e for e in listing["data"]), listing
    assert entries[key_id]["prefix"] == key[:KEY_PREFIX_LEN], entries[key_id]
    assert key not in r.text and key[KEY_PREFIX_LEN:] not in r.text, "the list shows a key's secret"
    r = api.get(KEYS, key=admin.key, headers={"Accept": "application/xml"})
    assert_status(r, 200)
    assert key[KEY_PREFIX_LEN:] not in r.text, "the XML list shows a key's secret"
    r = api.get(f"{KEYS}/{key_id}", key=admin.key)
    one = assert_json(r, 200)
    assert "key" not in one and key[KEY_PREFIX_LEN:] not in r.text, one

    # The database holds a 32-byte SHA-256 of the key, and the key in no column.
    h = db.one(f"SELECT LENGTH(hash) AS n, HEX(hash) AS h FROM api_keys WHERE id = {int(key_id)}")
    assert h == {"n": "32", "h": hashlib.sha256(key.encode()).hexdigest().upper()}, h
    columns = db.query("SELECT column_name AS c, data_type AS t FROM information_schema.columns"
                       " WHERE table_schema = DATABASE() AND table_name = 'api_keys'")
    exprs = [f"HEX(`{c['c']}`)" if c["t"] in ("binary", "varbinary", "blob", "tinyblob", "mediumblob",
                                                "longblob") else f"CAST(`{c['c']}` AS CHAR)"
             for c in columns]
    row = db.one(f"SELECT {', '.join(f'{e} AS c{i}' for i, e in enumerate(exprs))}"
                 f" FROM api_keys WHERE id = {int(key_id)}")
    secret_forms = (key, key[KEY_PREFIX_LEN:], key.encode().hex().upper())
    for value in row.values():
        for s in secret_forms:
            assert value is None or s not in value.upper() and s not in value, \
                f"api_keys stores the secret: {value!r}"


def test_key_cannot_mint_a_permission_it_lacks(api, db, new_key):
    k = new_key(["ManageKeys", "View"])
    account_id = db.scalar(f"SELECT id FROM accounts WHERE name = {sql_quote(k.account)}")
    before = db.scalar(f"SELECT COUNT(*) FROM api_keys WHERE account_id = {account_id}")
    for perms in (["Create"], ["View", "Create"], ["Permissions.Multitenancy.Delete"]):
        body = assert_problem(api.post(KEYS, key=k.key, json={"kind": "account", "permissions": perms}), 403)
        assert body["code"] == "forbidden", body
    assert db.scalar(f"SELECT COUNT(*) FROM api_keys WHERE account_id = {account_id}") == before
    # What it holds it may hand on.
    create_key_via_api(api, k, permissions=["View"])


def test_account_key_cannot_mint_a_global_key(api, db, admin, new_key):
    account_id = db.scalar(f"SELECT id FROM accounts WHERE name = {sql_quote(admin.account)}")
    body = assert_problem(api.post(KEYS, key=admin.key, json={"kind": "global", "permissions": ["View"]}), 403)
    assert body["code"] == "forbidden", body
    assert db.scalar(f"SELECT COUNT(*) FROM api_keys WHERE account_id = {account_id} AND kind = 'global'") == "0"
    g = new_key("all", kind="global")
    created = create_key_via_api(api, g, kind="global", permissions=["View"])
    assert created["kind"] == "global", created


def test_jwt_cannot_mint_a_global_key(api, dev_issuer):
    token = dev_issuer.mint(permissions=list(ALL_PERMISSIONS))
    assert_problem(api.post(KEYS, token=token, json={"kind": "global", "permissions": ["View"]}), 403)


# ---------------------------------------------------------------------------
# Isolation between accounts


def test_other_accounts_tenant_is_404_for_every_operation(api, db, new_key, create_tenant, slug):
    owner = new_key("all")
    r = create_tenant(owner, slug)
    correlation_id = r.json()["provisioningCorrelationId"]
    intruder = new_key("all")
    wait_provisioned(api, owner, slug)
    before = tenant_snapshot(db, slug)
    assert before is not None and before["version"] == "1", before

    t = f"{LIST}/{slug}"
    attempts = [
        ("GET", t, None, {}),
        ("PATCH", t, {"description": "hijacked"}, {}),
        ("PUT", t, tenant_body(slug, name=f"Hijacked {slug}"), {}),
        ("DELETE", t, None, {"confirmName": before["name"],
                             "confirmDisplayName": before["display_name"] or before["name"]}),
        ("POST", f"{t}/activate", None, {}),
        ("POST", f"{t}/deactivate", None, {}),
        ("POST", f"{t}/upgrade", {"extendedExpiryDate": "2035-01-01T00:00:00Z"}, {}),
        ("POST", f"{t}/switch", None, {}),
        ("GET", f"{t}/provisioning", None, {}),
        ("GET", f"/api/v1/provisioning/{correlation_id}", None, {}),
    ]
    for method, path, body, params in attempts:
        kw = {"json": body} if body is not None else {}
        r = api.request(method, path, key=intruder.key, params=params, **kw)
        problem = assert_problem(r, 404)
        if path.startswith(LIST):
            assert problem["code"] == "tenant_not_found", f"{method} {path}: {problem}"
        # The same by GUID.
        guid_path = path.replace(f"/{slug}", f"/{before['guid']}")
        if guid_path != path:
            assert_problem(api.request(method, guid_path, key=intruder.key, params=params, **kw), 404)

    assert tenant_snapshot(db, slug) == before, "another account's requests changed the tenant"
    current = db.scalar(f"SELECT current_tenant_pk FROM accounts WHERE name = {sql_quote(intruder.account)}")
    assert current is None, f"the intruder switched to the tenant (current_tenant_pk {current})"

    # A global key (of a third account) reaches it.
    g = new_key("all", kind="global")
    assert assert_json(api.get(t, key=g.key), 200)["id"] == slug
    patched = assert_json(api.patch(t, key=g.key, json={"description": "set by a global key"}), 200)
    assert patched["description"] == "set by a global key", patched
    after = tenant_snapshot(db, slug)
    assert after["description"] == "set by a global key" and after["version"] == "2", after
    assert after["account_id"] == before["account_id"], "the global key's PATCH moved the tenant"


# ---------------------------------------------------------------------------
# Rate limiting: per principal and route, shared by every worker


def test_rate_limit_per_key_and_route_shared_by_workers(stack, new_key, tenantd_workers):
    k = new_key("View")
    path = LIST

    def hit(i):
        return fresh_get(stack, path, key=k.key)

    with served_by_several_workers(tenantd_workers):
        # The first half one after another, each on a new connection: an exact countdown.
        seen = []
        for _ in range(30):
            r = hit(0)
            assert_json(r, 200)
            assert r.headers.get("RateLimit-Limit") == "60", f"RateLimit-Limit{describe(r)}"
            seen.append(int(r.headers.get("RateLimit-Remaining", "-1")))
            reset = int(r.headers.get("RateLimit-Reset", "-1"))
            assert 0 < reset <= 60, f"RateLimit-Reset {reset}{describe(r)}"
        assert seen == list(range(59, 29, -1)), f"RateLimit-Remaining went {seen}"
        # The second half concurrently, straight to tenantd on connections of their own (so
        # they spread over the workers): every remaining count handed out exactly once.
        responses = in_parallel(lambda i: direct_get(stack, path, key=k.key), 30, threads=6)
    for r in responses:
        assert_json(r, 200)
    rest = sorted((int(r.headers.get("RateLimit-Remaining", "-1")) for r in responses), reverse=True)
    assert rest == list(range(29, -1, -1)), f"RateLimit-Remaining of the concurrent half: {rest}"

    r = hit(0)
    body = assert_problem(r, 429)
    assert body["code"] == "rate_limited", body
    retry = r.headers.get("Retry-After", "")
    assert retry.isdigit() and 0 < int(retry) <= 60, f"Retry-After {retry!r}{describe(r)}"
    assert r.headers.get("RateLimit-Remaining") == "0", f"RateLimit-Remaining{describe(r)}"
    assert r.headers.get("RateLimit-Limit") == "60", f"RateLimit-Limit{describe(r)}"

    # Another route of the same key has its own budget, and so has another key on this route.
    r = fresh_get(stack, f"{LIST}/count", key=k.key)
    assert_json(r, 200)
    assert r.headers.get("RateLimit-Remaining") == "59", f"RateLimit-Remaining{describe(r)}"
    other = new_key("View")
    r = fresh_get(stack, path, key=other.key)
    assert_json(r, 200)
    assert r.headers.get("RateLimit-Remaining") == "59", f"RateLimit-Remaining{describe(r)}"


def test_key_revoked_by_tenantctl_is_refused_at_once_by_every_worker(api, ctl, db, stack, tenantd_workers):
    # Workers cache resolved keys (auth.cache_ttl); tenantctl on the same host
    # reaches their shared revocation epoch, so the cache never outlives it.
    key = ctl.key(permissions="View").key
    for r in on_every_worker(tenantd_workers, lambda: direct_get(stack, LIST, key=key)):
        assert_json(r, 200)
    key_id = key_row(db, key)["id"]
    ctl.run("key", "revoke", str(key_id))
    responses = on_every_worker(tenantd_workers, lambda: direct_get(stack, LIST, key=key))
    responses += in_parallel(lambda i: fresh_get(stack, LIST, key=key), 6)
    for r in responses:
        body = assert_invalid_credential(r)
        assert "revoked" in body["detail"], body


def test_key_create_names_the_tenant_one_way_in_both_directions(api, new_key, create_tenant, slug):
    """The body names a tenant key's tenant `tenant`, as the key shows it; `tenantId` is the
    earlier spelling (issue 11); both at once must agree."""
    owner = new_key("all")
    create_tenant(owner, slug)
    body = assert_problem(api.post(KEYS, key=owner.key, json={"kind": "tenant", "tenant": slug,
                                                             "tenantId": "other", "permissions": ["View"]}), 422)
    assert "tenant" in body["errors"], body
    body = assert_problem(api.post(KEYS, key=owner.key, json={"kind": "tenant", "permissions": ["View"]}), 422)
    assert "tenant" in body["errors"], body
    body = assert_problem(api.post(KEYS, key=owner.key, json={"kind": "account", "tenant": slug,
                                                             "permissions": ["View"]}), 422)
    assert "tenant" in body["errors"], body
    body = assert_problem(api.post(KEYS, key=owner.key, json={"kind": "tenant", "tenant": "no-such-tenant",
                                                             "permissions": ["View"]}), 422)
    assert "tenant" in body["errors"], body
    made = assert_json(api.post(KEYS, key=owner.key, json={"kind": "tenant", "tenant": slug, "tenantId": slug,
                                                          "permissions": ["View"]}), 201)
    shown = assert_json(api.get(f"{KEYS}/{made['id']}", key=owner.key), 200)
    assert shown["tenant"] == slug and "tenantId" not in shown, shown
