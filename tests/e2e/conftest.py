"""Fixtures for the end-to-end tests: tenantd behind real nginx and MariaDB, over HTTP.

./scripts/test starts a throwaway stack and sets:
    TENANTD_URL          base URL of nginx, e.g. http://127.0.0.1:41234
    TENANTCTL            path of tenantctl (the same build as the daemon)
    TENANTD_CONFIG       the config file tenantd and tenantctl use
    TENANTD_DB_SOCKET, TENANTD_DB_USER, TENANTD_DB_PASSWORD, TENANTD_DB_NAME
    TENANTD_JWT_ISSUER, TENANTD_JWT_AUDIENCE, TENANTD_JWT_SECRET   (the "dev" HS256 issuer)
    TENANTD_JWT_RS_ISSUER, TENANTD_JWT_RS_AUDIENCE, TENANTD_JWT_RS_KEY_R1, TENANTD_JWT_RS_KEY_R2
    TENANTD_JWT_ES_ISSUER, TENANTD_JWT_ES_AUDIENCE, TENANTD_JWT_ES_KEY
                         the test-only RS256 (kids r1, r2) and ES256 issuers and their private
                         key files (scripts/lib.sh, add_test_jwt_issuers); tests needing them
                         skip without them
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

PERMISSIONS = ("View", "Create", "Update", "Delete", "UpgradeSubscription", "ManageKeys", "ManageWebhooks",
               "ViewTheme", "UpdateTheme")


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

    def run(self, *args, check=True, timeout=60):
        if not self.stack.tenantctl or not os.access(self.stack.tenantctl, os.X_OK):
            pytest.fail(f"tenantctl not found at {self.stack.tenantctl!r} (set TENANTCTL)")
        cmd = [self.stack.tenantctl, "--config", self.stack.config, *args]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if check and p.returncode != 0:
            pytest.fail(f"{' '.join(cmd[1:])} exited {p.returncode}\nstdout: {p.stdout}\nstderr: {p.stderr}")
        return p

    def account(self, name=None):
        """Creates (idempotently) an account; returns (name, id)."""
        name = name or unique_name("acct")
        out = self.run("account", "create", name).stdout.strip()
        return name, (out.splitlines()[-1].strip() if out else "")

    def key(self, account=None, permissions="all", kind="account", tenant=None, label=None, expires=None):
        """A new API key; creates a fresh account unless one is named. expires: RFC 3339."""
        name, acc_id = self.account(account)
        if not isinstance(permissions, str):
            permissions = ",".join(permissions)
        args = ["key", "create", "--account", name, "--kind", kind, "--permissions", permissions]
        if tenant:
            args += ["--tenant", tenant]
        if label:
            args += ["--label", label]
        if expires:
            args += ["--expires", expires]
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


@dataclass(frozen=True)
class JwtIssuer:
    """A configured issuer and the keys to sign for it (tests only).

    keys: kid ("" = none) -> HS256 secret (str) or private key PEM (bytes);
    public: kid -> public key PEM (bytes), as configured in tenantd (RS256/ES256)."""
    name: str
    iss: str
    aud: str
    alg: str
    keys: dict = field(repr=False)
    public: dict = field(default_factory=dict, repr=False)

    @property
    def default_kid(self):
        return sorted(self.keys)[0]

    def claims(self, sub=None, permissions=("View",), ttl=300, **extra):
        now = int(time.time())
        perms = [permission_claim(p) for p in ([permissions] if isinstance(permissions, str) else permissions)]
        c = {"iss": self.iss, "aud": self.aud, "sub": sub or unique_name("jwt"),
             "iat": now, "nbf": now, "exp": now + ttl, "permission": perms}
        c.update(extra)
        return {k: v for k, v in c.items() if v is not None}

    def mint(self, sub=None, permissions=("View",), ttl=300, *, kid=None, key=None, alg=None, headers=None,
             **extra):
        """A token for this issuer, signed with its key kid (default: the first one). key= and
        alg= sign with something else (PyJWT: a secret or a private PEM); extra claims override
        the defaults (None removes one)."""
        return self.sign(self.claims(sub, permissions, ttl, **extra), kid=kid, key=key, alg=alg, headers=headers)

    def sign(self, claims, *, kid=None, key=None, alg=None, headers=None):
        """Any claims (a dict), signed as mint() does."""
        kid = self.default_kid if kid is None else kid
        signing_key = key if key is not None else self.keys.get(kid, self.keys[self.default_kid])
        h = {"kid": kid} if kid else {}
        h.update(headers or {})
        return jwt.encode(claims, signing_key, algorithm=alg or self.alg, headers=h or None)


def _env_or_conf(env, conf, name, key):
    return env.get(name) or conf.get(key) or ""


def load_issuers(stack):
    """The dev issuer and, when configured (./scripts/test), the RS256 and ES256 test issuers:
    name -> JwtIssuer. Private keys come from TENANTD_JWT_{RS_KEY_R1,RS_KEY_R2,ES_KEY}."""
    env, conf = os.environ, _read_kv(stack.config)
    out = {"dev": JwtIssuer("dev", stack.jwt_issuer, stack.jwt_audience, "HS256", {"": stack.jwt_secret})}

    def pem(path):
        try:
            return Path(path).read_bytes() if path else None
        except OSError:
            return None

    rs_iss = _env_or_conf(env, conf, "TENANTD_JWT_RS_ISSUER", "jwt.rs.iss")
    rs_keys = {kid: pem(env.get(f"TENANTD_JWT_RS_KEY_{kid.upper()}")) for kid in ("r1", "r2")}
    if rs_iss and all(rs_keys.values()):
        out["rs"] = JwtIssuer("rs", rs_iss, _env_or_conf(env, conf, "TENANTD_JWT_RS_AUDIENCE", "jwt.rs.audience"),
                              "RS256", rs_keys,
                              {kid: pem(conf.get(f"jwt.rs.key.{kid}")) for kid in rs_keys})
    es_iss = _env_or_conf(env, conf, "TENANTD_JWT_ES_ISSUER", "jwt.es.iss")
    es_key = pem(env.get("TENANTD_JWT_ES_KEY"))
    if es_iss and es_key:
        out["es"] = JwtIssuer("es", es_iss, _env_or_conf(env, conf, "TENANTD_JWT_ES_AUDIENCE", "jwt.es.audience"),
                              "ES256", {"": es_key}, {"": pem(conf.get("jwt.es.key"))})
    return out


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
    """new_key(permissions="all", kind="account", account=None, tenant=None, label=None, expires=None)
    -> Principal (expires: RFC 3339, may lie in the past)."""
    def make(permissions="all", kind="account", account=None, tenant=None, label=None, expires=None):
        return ctl.key(account=account, permissions=permissions, kind=kind, tenant=tenant, label=label,
                       expires=expires)
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


@pytest.fixture(scope="session")
def issuers(stack):
    """name -> JwtIssuer: "dev" (HS256) always; "rs" (RS256, kids r1/r2) and "es" (ES256) when
    the stack configures them (./scripts/test does)."""
    return load_issuers(stack)


def _issuer(issuers, name):
    if name not in issuers:
        pytest.skip(f"the stack has no jwt.{name} issuer with known private keys (./scripts/test sets one up)")
    return issuers[name]


@pytest.fixture(scope="session")
def dev_issuer(issuers):
    return issuers["dev"]


@pytest.fixture(scope="session")
def rs_issuer(issuers):
    return _issuer(issuers, "rs")


@pytest.fixture(scope="session")
def es_issuer(issuers):
    return _issuer(issuers, "es")


@pytest.fixture(scope="session")
def foreign_keys():
    """Private key PEMs tenantd does not know: {"rsa": RSA-2048, "ec": P-256}."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    def pem(k):
        return k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                               serialization.NoEncryption())
    return {"rsa": pem(rsa.generate_private_key(public_exponent=65537, key_size=2048)),
            "ec": pem(ec.generate_private_key(ec.SECP256R1()))}


def _listen_socket_inode(stack):
    """The inode of tenantd's listening unix socket (config: listen = unix:PATH), or None."""
    listen = _read_kv(stack.config).get("listen", "")
    if not listen.startswith("unix:"):
        return None
    try:
        lines = Path("/proc/net/unix").read_text().splitlines()[1:]
    except OSError:
        return None
    for line in lines:
        # Num RefCount Protocol Flags Type St Inode Path; accepted connections show the path
        # too, the listening socket alone has __SO_ACCEPTCON (0x10000) in Flags.
        f = line.split()
        if len(f) >= 8 and f[7] == listen[5:] and int(f[3], 16) & 0x10000:
            return f[6]
    return None


def _tenantd_worker_pids(stack):
    """tenantd's FastCGI workers: the master's children that hold the listening socket (the
    provisioning process, also a child, does not)."""
    try:
        master = int(Path(stack.config).parent.joinpath("run", "tenantd.pid").read_text().strip())
    except (OSError, ValueError):
        return []
    inode = _listen_socket_inode(stack)
    pids = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
            # pid (comm) state ppid ...: comm may hold spaces, so split after the last ")".
            if int(stat.rsplit(")", 1)[1].split()[1]) != master:
                continue
            if inode is not None and not any(_readlink(fd) == f"socket:[{inode}]" for fd in (d / "fd").iterdir()):
                continue
        except (OSError, ValueError, IndexError):
            continue
        pids.append(int(d.name))
    return pids


def _readlink(path):
    try:
        return os.readlink(path)
    except OSError:     # a connection closed while we looked
        return ""


@pytest.fixture(scope="session")
def tenantd_workers(stack):
    """() -> {pid: activity} for tenantd's worker processes, where activity (system calls that
    read or wrote, or else context switches) grows whenever a worker serves a request. An idle
    worker sleeps in ppoll() and does not move. {} when the workers cannot be found (no pid
    file next to the config, as with a stack not started by scripts/)."""
    def probe():
        out = {}
        for pid in _tenantd_worker_pids(stack):
            try:
                text = Path(f"/proc/{pid}/io").read_text()
                vals = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
                out[pid] = int(vals["syscr"]) + int(vals["syscw"])
            except (OSError, KeyError, ValueError):
                try:
                    st = Path(f"/proc/{pid}/status").read_text()
                    out[pid] = sum(int(line.split(":")[1]) for line in st.splitlines()
                                   if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")))
                except (OSError, ValueError):
                    continue
        return out
    return probe


def pytest_configure(config):
    config.addinivalue_line("markers", "run_last: runs after every other test (may disturb the stack)")


def pytest_collection_modifyitems(items):
    items.sort(key=lambda item: item.get_closest_marker("run_last") is not None)
