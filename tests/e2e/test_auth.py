"""Credentials: API keys (Bearer and X-API-Key), permissions, JWTs from the dev issuer."""

import jwt
import pytest

from helpers import assert_json, assert_problem, describe

LIST = "/api/v1/tenants"


def assert_unauthorized(r):
    body = assert_problem(r, 401)
    challenge = r.headers.get("WWW-Authenticate", "")
    assert challenge.lower().startswith("bearer"), f"WWW-Authenticate: {challenge!r}{describe(r)}"
    return body


def test_no_credentials_401(api):
    assert_unauthorized(api.get(LIST))


@pytest.mark.parametrize("headers", [
    {"Authorization": "Bearer tk_live_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
    {"X-API-Key": "tk_live_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
    {"Authorization": "Bearer tk_live_"},
    {"Authorization": "Bearer not-a-key-or-token"},
], ids=["bearer", "x-api-key", "empty-key", "garbage"])
def test_bad_key_401(api, headers):
    assert_unauthorized(api.get(LIST, headers=headers))


def test_valid_key_with_one_char_changed_401(api, admin):
    key = admin.key[:-1] + ("A" if admin.key[-1] != "A" else "B")
    assert_unauthorized(api.get(LIST, key=key))


def test_bearer_key(api, admin):
    assert_json(api.get(LIST, key=admin.key), 200)


def test_x_api_key_header(api, admin):
    assert_json(api.get(LIST, headers={"X-API-Key": admin.key}), 200)


def test_key_without_view_403(api, new_key):
    p = new_key("Create")
    assert_problem(api.get(LIST, key=p.key), 403)


def test_key_with_view_only_can_list(api, new_key):
    p = new_key("View")
    assert_json(api.get(LIST, key=p.key), 200)


# JWT (HS256, issuer https://dev.tenantd.local, audience tenantd), minted with PyJWT


def test_jwt_view_lists(api, tokens):
    assert_json(api.get(LIST, token=tokens.mint(permissions=["View"])), 200)


def test_jwt_permission_as_string(api, tokens):
    assert_json(api.get(LIST, token=tokens.mint(permission="Permissions.Multitenancy.View")), 200)


def test_jwt_without_view_403(api, tokens):
    assert_problem(api.get(LIST, token=tokens.mint(permissions=["Create"])), 403)


def test_jwt_wrong_secret_401(api, tokens):
    assert_unauthorized(api.get(LIST, token=tokens.mint(secret="x" * 48)))


def test_jwt_alg_none_401(api, tokens):
    assert_unauthorized(api.get(LIST, token=tokens.unsigned()))


def test_jwt_expired_401(api, tokens):
    assert_unauthorized(api.get(LIST, token=tokens.mint(ttl=-3600)))


def test_jwt_wrong_issuer_401(api, tokens):
    assert_unauthorized(api.get(LIST, token=tokens.mint(iss="https://evil.example")))


def test_jwt_wrong_audience_401(api, tokens):
    assert_unauthorized(api.get(LIST, token=tokens.mint(aud="someone-else")))


def test_jwt_signature_tampered_401(api, tokens):
    t = tokens.mint()
    head, payload, sig = t.split(".")
    sig = sig[:-2] + ("AA" if sig[-2:] != "AA" else "BB")
    assert_unauthorized(api.get(LIST, token=f"{head}.{payload}.{sig}"))


# Key kinds (DESIGN: global sees every account's tenants, account its own, tenant keys are
# refused by tenant management with 401)


def test_global_key_sees_other_accounts_tenant(api, new_key, slug, create_tenant):
    owner = new_key("all")
    create_tenant(owner, slug)
    g = new_key("View", kind="global")
    t = assert_json(api.get(f"{LIST}/{slug}", key=g.key), 200)
    assert t["id"] == slug


def test_tenant_key_refused_by_tenant_management(api, new_key, slug, create_tenant):
    owner = new_key("all")
    create_tenant(owner, slug)
    tk = new_key("all", kind="tenant", account=owner.account, tenant=slug)
    assert_unauthorized(api.get(LIST, key=tk.key))


def test_tenantctl_dev_token_verifies_and_works(api, ctl, stack):
    name, _ = ctl.account()
    token = ctl.run("token", "dev", "--account", name, "--permissions", "View", "--ttl", "300").stdout.strip()
    token = token.splitlines()[-1].strip()
    claims = jwt.decode(token, stack.jwt_secret, algorithms=["HS256"], audience=stack.jwt_audience,
                        issuer=stack.jwt_issuer)
    assert claims["sub"] == name, claims
    assert_json(api.get(LIST, token=token), 200)
