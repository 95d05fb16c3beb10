"""Fixtures for the end-to-end tests: tenantd behind real nginx and MariaDB, over HTTP.

./scripts/test starts a throwaway stack and sets:
    TENANTD_URL          base URL of nginx, e.g. http://127.0.0.1:41234
    TENANTCTL            path of tenantctl (the same build as the daemon)
    TENANTD_CONFIG       the config file tenantd and tenantctl use
    TENANTD_DB_SOCKET, TENANTD_DB_USER, TENANTD_DB_PASSWORD, TENANTD_DB_NAME
    TENANTD_JWT_ISSUER, TENANTD_JWT_AUDIENCE, TENANTD_JWT_SECRET   (the "dev" HS256 issuer)
    TENANTD_LOG          tenantd's log file (optional)
Without TENANTD_URL the tests use the dev stack of ./scripts/up (var/dev-credentials,
var/tenantd.conf, build/up/tenantctl), so this works too:
    ./scripts/up && /usr/bin/python3 -m pytest -q tests/e2e
Values missing from the environment are read from the config file.
"""

import base64
import json
import os
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import jwt
import pytest
import requests

from helpers import tenant_body

ROOT = Path(__file__).resolve().parents[2]

PERMISSIONS = ("View", "Create", "Update", "Delete", "UpgradeSubscription", "ManageKeys")


def permission_claim(name):
    """"View" -> "Permissions.Multitenancy.View" (full names pass through)."""
    return name if "." in name else f"Permissions.Multitenancy.{name}"


def _read_kv(path):
    """key = value lines (tenantd.conf) or KEY='value' lines (dev-credentials)."""
    out = {}
    try:
        text = Path(path).read_text()
    except OSError:
        return out
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        k, v = line.split("=", 1)
        v = v.strip()
        if len(v) >= 2 and v[0] == v[-1] and v[0] in "'\"":
            v = v[1:-1]
        out[k.strip()] = v
    return out


@dataclass(frozen=True)
class Stack:
    url: str
    tenantctl: str
    config: str
    db_socket: str
    db_user: str
    db_password: str = field(repr=False)
    db_name: str
    jwt_issuer: str
    jwt_audience: str
    jwt_secret: str = field(repr=False)
    log: str

    @classmethod
    def from_env(cls):
        env = dict(os.environ)
        if not env.get("TENANTD_URL"):
            creds = _read_kv(ROOT / "var" / "dev-credentials")
            if not creds.get("TENANTD_URL"):
                raise pytest.UsageError(
                    "TENANTD_URL is not set and var/dev-credentials does not exist: "
                    "run ./scripts/test, or ./scripts/up first")
            env = {**creds, **env, "TENANTD_URL": creds["TENANTD_URL"]}
            env.setdefault("TENANTD_CONFIG", str(ROOT / "var" / "tenantd.conf"))
            env.setdefault("TENANTCTL", str(ROOT / "build" / "up" / "tenantctl"))
            env.setdefault("TENANTD_LOG", str(ROOT / "var" / "log" / "tenantd.log"))
        config = env.get("TENANTD_CONFIG", "")
        conf = _read_kv(config)

        def pick(name, key, default=""):
            return env.get(name) or conf.get(key) or default

        return cls(
            url=env["TENANTD_URL"].rstrip("/"),
            tenantctl=env.get("TENANTCTL", ""),
            config=config,
            db_socket=pick("TENANTD_DB_SOCKET", "db.socket"),
            db_user=pick("TENANTD_DB_USER", "db.user", "tenantd"),
            db_password=pick("TENANTD_DB_PASSWORD", "db.password"),
            db_name=pick("TENANTD_DB_NAME", "db.name", "tenantd"),
            jwt_issuer=pick("TENANTD_JWT_ISSUER", "jwt.dev.iss", "https://dev.tenantd.local"),
            jwt_audience=pick("TENANTD_JWT_AUDIENCE", "jwt.dev.audience", "tenantd"),
            jwt_secret=pick("TENANTD_JWT_SECRET", "jwt.dev.secret"),
            log=env.get("TENANTD_LOG", ""),
        )


# ---------------------------------------------------------------------------
# HTTP


class Api:
    """requests.Session bound to the base URL. key= / token= add a Bearer credential."""

    def __init__(self, base):
        self.base = base
        self.session = requests.Session()

    def url(self, path):
        return path if path.startswith("http") else self.base + path

    def request(self, method, path, *, key=None, token=None, headers=None, **kw):
        h = {}
        if key is not None or token is not None:
            h["Authorization"] = f"Bearer {key if key is not None else token}"
        h.update(headers or {})
        kw.setdefault("timeout", 30)
        kw.setdefault("allow_redirects", False)
        return self.session.request(method, self.url(path), headers=h, **kw)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def put(self, path, **kw):
        return self.request("PUT", path, **kw)

    def patch(self, path, **kw):
        return self.request("PATCH", path, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)


# ---------------------------------------------------------------------------
# tenantctl: accounts and keys


@dataclass(frozen=True)
class Principal:
    account: str       # account name (= JWT sub)
    account_id: str    # as printed by `tenantctl account create`
    key: str           # tk_live_...

    @property
    def headers(self):
        return {"Authorization": f"Bearer {self.key}"}


class Ctl:
    def __init__(self, stack):
        self.stack = stack

    def run(self, *args, check=True):
        if not self.stack.tenantctl or not os.access(self.stack.tenantctl, os.X_OK):
            pytest.fail(f"tenantctl not found at {self.stack.tenantctl!r} (set TENANTCTL)")
        cmd = [self.stack.tenantctl, "--config", self.stack.config, *args]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        if check and p.returncode != 0:
            pytest.fail(f"{' '.join(cmd[1:])} exited {p.returncode}\nstdout: {p.stdout}\nstderr: {p.stderr}")
        return p

    def account(self, name=None):
        """Creates (idempotently) an account; returns (name, id)."""
        name = name or unique_name("acct")
        out = self.run("account", "create", name).stdout.strip()
        return name, (out.splitlines()[-1].strip() if out else "")

    def key(self, account=None, permissions="all", kind="account", tenant=None, label=None):
        """A new API key; creates a fresh account unless one is named."""
        name, acc_id = self.account(account)
        if not isinstance(permissions, str):
            permissions = ",".join(permissions)
        args = ["key", "create", "--account", name, "--kind", kind, "--permissions", permissions]
        if tenant:
            args += ["--tenant", tenant]
        if label:
            args += ["--label", label]
        out = self.run(*args).stdout.strip().splitlines()
        key = out[-1].strip() if out else ""
        assert key.startswith("tk_live_"), f"tenantctl key create printed {out!r}"
        return Principal(name, acc_id, key)


# ---------------------------------------------------------------------------
# JWTs, minted with PyJWT (independent of tenantd's verifier)


def b64url(data):
    if isinstance(data, (dict, list)):
        data = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Tokens:
    def __init__(self, stack):
        self.stack = stack

    def claims(self, sub=None, permissions=("View",), ttl=300, **extra):
        now = int(time.time())
        perms = [permission_claim(p) for p in ([permissions] if isinstance(permissions, str) else permissions)]
        c = {
            "iss": self.stack.jwt_issuer,
            "aud": self.stack.jwt_audience,
            "sub": sub or unique_name("jwt"),
            "iat": now,
            "nbf": now,
            "exp": now + ttl,
            "permission": perms,
        }
        c.update(extra)
        return {k: v for k, v in c.items() if v is not None}

    def mint(self, sub=None, permissions=("View",), ttl=300, secret=None, headers=None, **extra):
        """An HS256 token from the dev issuer. extra claims override (None removes one)."""
        return jwt.encode(self.claims(sub, permissions, ttl, **extra), secret or self.stack.jwt_secret,
                          algorithm="HS256", headers=headers)

    def unsigned(self, sub=None, permissions=("View",), ttl=300, **extra):
        """The same claims with {"alg": "none"} and an empty signature."""
        header = {"alg": "none", "typ": "JWT"}
        return f"{b64url(header)}.{b64url(self.claims(sub, permissions, ttl, **extra))}."


# ---------------------------------------------------------------------------
# MariaDB, through the mariadb command-line client


_UNESCAPE = {"\\t": "\t", "\\n": "\n", "\\\\": "\\", "\\0": "\0"}


def _unescape(field):
    if field == "NULL":
        return None
    out, i = [], 0
    while i < len(field):
        pair = field[i:i + 2]
        if pair in _UNESCAPE:
            out.append(_UNESCAPE[pair])
            i += 2
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


class Db:
    def __init__(self, stack):
        self.stack = stack

    def query(self, sql):
        """Rows as dicts (column name -> str or None)."""
        cmd = ["mariadb", "--no-defaults", "--default-character-set=utf8mb4", f"--socket={self.stack.db_socket}",
               "-u", self.stack.db_user, "-D", self.stack.db_name, "-B", "-e", sql]
        env = dict(os.environ, MYSQL_PWD=self.stack.db_password)
        p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=30)
        if p.returncode != 0:
            pytest.fail(f"mariadb query failed ({p.returncode}): {sql}\n{p.stderr}")
        lines = p.stdout.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        if not lines:
            return []
        header = lines[0].split("\t")
        return [dict(zip(header, map(_unescape, line.split("\t")))) for line in lines[1:]]

    def one(self, sql):
        rows = self.query(sql)
        assert len(rows) <= 1, f"expected at most one row: {sql}"
        return rows[0] if rows else None

    def scalar(self, sql):
        row = self.one(sql)
        return None if row is None else next(iter(row.values()))


# ---------------------------------------------------------------------------


def unique_name(prefix="e2e"):
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def stack():
    return Stack.from_env()


@pytest.fixture(scope="session")
def api(stack):
    return Api(stack.url)


@pytest.fixture(scope="session")
def ctl(stack):
    return Ctl(stack)


@pytest.fixture(scope="session")
def tokens(stack):
    return Tokens(stack)


@pytest.fixture(scope="session")
def db(stack):
    return Db(stack)


@pytest.fixture
def slug():
    """A fresh tenant slug (^[a-z0-9][a-z0-9-]{1,62}$)."""
    return unique_name("t")


@pytest.fixture
def new_key(ctl):
    """new_key(permissions="all", kind="account", account=None, tenant=None) -> Principal."""
    def make(permissions="all", kind="account", account=None, tenant=None, label=None):
        return ctl.key(account=account, permissions=permissions, kind=kind, tenant=tenant, label=label)
    return make


@pytest.fixture
def admin(new_key):
    """A fresh account with an account key holding every permission."""
    return new_key("all")


@pytest.fixture
def create_tenant(api):
    """create_tenant(principal, slug, **fields) -> response (asserts 202)."""
    def create(principal, slug, **fields):
        r = api.post("/api/v1/tenants", key=principal.key, json=tenant_body(slug, **fields))
        assert r.status_code == 202, f"create {slug}: {r.status_code} {r.text[:500]}"
        return r
    return create


def pytest_configure(config):
    config.addinivalue_line("markers", "run_last: runs after every other test (may disturb the stack)")


def pytest_collection_modifyitems(items):
    items.sort(key=lambda item: item.get_closest_marker("run_last") is not None)
