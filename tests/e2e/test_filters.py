"""List filters and text search at scale (issue 12).

isActive pages and counts come from per-(account, isActive) counters in tenant_counts and indexes
(sql/0010), with page marks of their own: every isActive value, sort order and direction gives exactly
the rows and count of a brute-force SQL query over a seeded account, first, deep and last pages, also
after renames, activations, deactivations and deletes; and the counters stay exact under concurrent
creates, activations, deactivations and deletes.
"""

import random
import re
import unicodedata
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from helpers import assert_json, assert_xml, child_text, describe, sql_quote, tenant_body

LIST = "/api/v1/tenants"
COUNT = "/api/v1/tenants/count"
SORTS = {"id": "slug", "name": "name", "createdAt": None, "validUpto": "valid_upto", "consentedAt": "consented_at"}
SIZE = 25
ACTIVITY = {None: None, "true": 1, "false": 0}


def parallel(fn, items, workers=8):
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(fn, items))


# Keys of one account taken in turn: the test stack limits each key to rate_limit.per_minute
# requests per route, and these tests send thousands.
KEYS = 24


class Account:
    """A fresh account with n seeded tenants (tenantctl seed: fast, all active)."""

    def __init__(self, api, ctl, db, n):
        self.api, self.db = api, db
        first = ctl.key()
        self.keys = [first] + [ctl.key(account=first.account) for _ in range(KEYS - 1)]
        self.turn = 0
        self.id = int(db.scalar(f"SELECT id FROM accounts WHERE name = {sql_quote(self.p.account)}"))
        start = random.randint(10 ** 9, 9 * 10 ** 9)
        ctl.run("seed", "--tenants", str(n), "--account", self.p.account,
                "--prefix", f"flt{uuid.uuid4().hex[:8]}-", "--start", str(start))
        assert self.sql_count(None) == n, "seed names collided with existing tenants"

    @property
    def p(self):
        """The account's next key (the same account, a fresh rate-limit budget)."""
        self.turn += 1
        return self.keys[self.turn % len(self.keys)]

    def slugs(self):
        return [r["slug"] for r in self.db.query(f"SELECT slug FROM tenants WHERE account_id = {self.id}")]

    def where(self, active):
        return f"account_id = {self.id}" + ("" if active is None else f" AND is_active = {active}")

    def sql_count(self, active):
        return int(self.db.scalar(f"SELECT COUNT(*) FROM tenants WHERE {self.where(active)}"))

    def sql_page(self, active, sort, desc, offset, limit):
        d = " DESC" if desc else ""
        col = SORTS[sort]
        order = f"{col}{d}, pk{d}" if col else f"pk{d}"
        return [r["slug"] for r in self.db.query(
            f"SELECT slug FROM tenants WHERE {self.where(active)} ORDER BY {order} LIMIT {limit} OFFSET {offset}")]

    def counters(self, account):
        r = self.db.one(f"SELECT COALESCE(SUM(n), 0) AS n, COALESCE(SUM(active), 0) AS a "
                        f"FROM tenant_counts WHERE account_id = {account}")
        return int(r["n"]), int(r["a"])

    def params(self, is_active, **kw):
        return dict(kw, **({} if is_active is None else {"isActive": is_active}))

    def get(self, path, is_active=None, **kw):
        return self.api.get(path, key=self.p.key, params=self.params(is_active, **kw))

    def activation(self, slug, on):
        r = self.api.post(f"{LIST}/{slug}/{'activate' if on else 'deactivate'}", key=self.p.key)
        assert r.status_code == 200, describe(r)

    def delete(self, slug):
        name = self.db.scalar(f"SELECT name FROM tenants WHERE slug = {sql_quote(slug)}")
        r = self.api.delete(f"{LIST}/{slug}", key=self.p.key, params={"confirmName": name, "confirmDisplayName": name})
        assert r.status_code == 200, describe(r)

    def assert_counts(self):
        """Every isActive value: count, totalCount and the counters against COUNT(*)."""
        for is_active, active in ACTIVITY.items():
            want = self.sql_count(active)
            assert assert_json(self.get(COUNT, is_active), 200)["count"] == want, is_active
            assert assert_json(self.get(LIST, is_active, pageSize=1), 200)["totalCount"] == want, is_active
        n, a = self.counters(self.id)
        assert (n, a) == (self.sql_count(None), self.sql_count(1))
        n, a = self.counters(0)
        assert n == int(self.db.scalar("SELECT COUNT(*) FROM tenants"))
        assert a == int(self.db.scalar("SELECT COUNT(*) FROM tenants WHERE is_active = 1"))

    def assert_pages(self, rnd):
        """Every isActive value, sort and direction: the first, a deep and the last page."""
        for is_active, active in ACTIVITY.items():
            total = self.sql_count(active)
            pages = max(1, (total + SIZE - 1) // SIZE)
            for sort in SORTS:
                for desc in (False, True):
                    for number in sorted({1, rnd.randint(1, pages), max(1, pages - 3), pages}):
                        page = assert_json(self.get(LIST, is_active, sort=f"{sort} {'desc' if desc else 'asc'}",
                                                    pageSize=SIZE, pageNumber=number), 200)
                        want = self.sql_page(active, sort, desc, (number - 1) * SIZE, SIZE)
                        assert [t["id"] for t in page["data"] or []] == want, (is_active, sort, desc, number)
                        assert page["totalCount"] == total, (is_active, sort, desc, number)


@pytest.fixture(scope="module")
def varied(api, ctl, db):
    """1,500 seeded tenants, a third deactivated, some with sort keys of their own."""
    acc = Account(api, ctl, db, 1500)
    rnd = random.Random(12)
    slugs = acc.slugs()
    parallel(lambda s: acc.activation(s, False), rnd.sample(slugs, 500))

    def vary(s):
        body = {"validUpto": f"2027-{rnd.randint(1, 12):02d}-01T00:00:00Z",
                "consentedAt": f"2026-{rnd.randint(1, 12):02d}-0{rnd.randint(1, 9)}T00:00:00Z",
                "name": f"Renamed {uuid.uuid4().hex[:10]}"}
        r = api.patch(f"{LIST}/{s}", key=acc.p.key, json=body)
        assert r.status_code == 200, describe(r)
    parallel(vary, rnd.sample(slugs, 60))
    return acc


def test_is_active_counts_and_pages_match_sql(varied):
    varied.assert_counts()
    varied.assert_pages(random.Random(1))


def test_is_active_after_activations_renames_and_deletes(varied, api):
    rnd = random.Random(2)
    slugs = varied.slugs()
    active = {r["slug"] for r in varied.db.query(
        f"SELECT slug FROM tenants WHERE account_id = {varied.id} AND is_active = 1")}
    # Read deep pages first so the workers hold page marks the changes must invalidate.
    varied.assert_pages(random.Random(3))
    parallel(lambda s: varied.activation(s, s not in active), rnd.sample(slugs, 40))
    parallel(varied.delete, rnd.sample(slugs, 30))
    for s in rnd.sample(varied.slugs(), 10):
        r = api.patch(f"{LIST}/{s}", key=varied.p.key, json={"name": f"Again {uuid.uuid4().hex[:10]}"})
        assert r.status_code == 200, describe(r)
    varied.assert_counts()
    varied.assert_pages(random.Random(3))


def test_is_active_xml(varied):
    want = varied.sql_count(0)
    root = assert_xml(varied.api.get(COUNT, key=varied.p.key, params={"isActive": "false"},
                                     headers={"Accept": "application/xml"}), 200, "count")
    assert int(child_text(root, "count")) == want
    r = varied.api.get(LIST, key=varied.p.key, params={"isActive": "false", "pageSize": SIZE, "pageNumber": 3},
                       headers={"Accept": "application/xml"})
    root = assert_xml(r, 200, "tenants")
    assert int(child_text(root, "totalCount")) == want


def test_counters_exact_under_concurrent_writes(api, ctl, db):
    acc = Account(api, ctl, db, 300)
    rnd = random.Random(4)
    slugs = acc.slugs()
    doomed = set(rnd.sample(slugs, 60))
    toggled = [s for s in slugs if s not in doomed]
    tag = uuid.uuid4().hex[:8]

    def op(i):
        kind = i % 5
        if kind == 0:
            slug = f"fc-{tag}-{i}"
            r = api.post(LIST, key=acc.p.key, json=tenant_body(slug, isActive=bool(i % 2)))
            assert r.status_code == 202, describe(r)
        elif kind == 1:
            acc.delete(sorted(doomed)[i // 5])
        elif kind in (2, 3):
            acc.activation(toggled[i % len(toggled)], kind == 2)
        else:  # deep filtered reads while the listing moves
            for is_active in ("true", "false"):
                assert acc.get(LIST, is_active, pageSize=10, pageNumber=rnd.randint(1, 20)).status_code == 200
                assert acc.get(COUNT, is_active).status_code == 200

    parallel(op, range(300))
    acc.assert_counts()
    acc.assert_pages(random.Random(5))


# ---------------------------------------------------------------------------
# Text search (sql/0011): q and seed 002's description filter hold their text as a substring, case- and
# accent-insensitively, and each of its first four words of 3 to 84 characters begins a word of the tenant's
# name or description (README: "Text search and filters").  A query with no such word is a plain substring
# match.

WORD = re.compile(r"[0-9A-Za-z_\u0080-\U0010ffff]+")


def fold(s):
    return "".join(c for c in unicodedata.normalize("NFKD", s or "") if not unicodedata.combining(c)).casefold()


def rule(q, name, description):
    """The documented rule, applied to the rows a brute-force LIKE query found."""
    text = WORD.findall(fold(name)) + WORD.findall(fold(description))
    words = [w for w in WORD.findall(fold(q)) if 3 <= len(w) <= 84][:4]
    return all(any(t.startswith(w) for t in text) for w in words)


class Searched(Account):
    def expected(self, q, column=None):
        like = "'%" + q.replace("\\", "\\\\\\\\").replace("'", "''").replace("%", "\\%").replace("_", "\\_") + "%'"
        cond = f"description LIKE {like}" if column == "description" else \
            f"(name LIKE {like} OR description LIKE {like})"
        rows = self.db.query(f"SELECT slug, name, description FROM tenants WHERE account_id = {self.id} AND {cond} "
                             "ORDER BY name, pk")
        return [r["slug"] for r in rows if rule(q, r["name"], r["description"])]

    def found(self, q, **extra):
        """Every page of GET ?q=, sorted by name, and the count."""
        out, number = [], 1
        while True:
            page = assert_json(self.get(LIST, q=q, sort="name", pageSize=100, pageNumber=number, **extra), 200)
            out += [t["id"] for t in page["data"] or []]
            if not page["hasNext"]:
                break
            number += 1
        assert page["totalCount"] == len(out), q
        assert assert_json(self.get(COUNT, q=q, **extra), 200)["count"] == len(out), q
        return out

    def laravel(self, description):
        out, page = [], 1
        while True:
            body = assert_json(self.api.get("/tenants", key=self.p.key, params={
                "description": description, "per_page": 100, "page": page}), 200)
            out += [t["name"] for t in body["data"]]
            if body["links"]["next"] is None:
                return sorted(out)
            page += 1


@pytest.fixture(scope="module")
def searched(api, ctl, db):
    """1,000 seeded tenants and a few with texts that exercise the rules."""
    acc = Searched(api, ctl, db, 1000)
    acc.tag = uuid.uuid4().hex[:6]
    texts = [("Café Zürich", "Überweisung für Ärzte"), ("CAFE zurich", "plain ASCII"),
             ("Acme 100% Widgets", "discount_rate 100% of the time"), ("O'Brien & Sons", "Fish-and-chips, London"),
             ("Nordic Élan", "ski wax for the ÉLITE"), ("Heidelberg Labs", "bergamot research"),
             ("Bergen Port", "Berg and more"), ("Multi word", "the quick brown fox jumps over the lazy dog")]
    for i, (name, description) in enumerate(texts):
        r = api.post(LIST, key=acc.p.key, json=tenant_body(f"fs-{acc.tag}-{i}", name=f"{name} {acc.tag}{i}",
                                                           description=description))
        assert r.status_code == 202, describe(r)
    return acc


def seeded_number(db, acc):
    return db.scalar(f"SELECT SUBSTRING(name, 8) FROM tenants WHERE account_id = {acc.id} "
                     "AND name LIKE 'Tenant %' ORDER BY pk LIMIT 1 OFFSET 500")


def test_search_matches_the_rule(searched, db):
    n = seeded_number(db, searched)
    queries = [n, n[:4], n[:6], f"Tenant {n}", f"tenant {n[:5]}", f"number {n}", "Seeded tenant number " + n[:7],
               "enant", n[1:6],  # inside a word: not found (word start)
               "cafe", "CAFÉ zür", "zurich", "ueberweisung", "über", "ärzte", "elan", "élite", "berg", "BERG",
               "100%", "100", "discount_rate", "count", "O'Brien", "brien", "Fish-and", "and-chips", "chips, lon",
               "quick brown", "the lazy", "over the", "fox jumps over the lazy dog", "dog", "lazy cat",
               "the quick brown fox jumps", "quick brown fox jumps ove",  # words beyond the fourth: substring only
               "1", "42", "_", "%_", "é", "ÉL"]  # no word of 3 characters: a plain substring match
    for q in queries:  # a list is its first CAP matches (below)
        assert searched.found(q) == searched.expected(q)[:CAP], q
    assert searched.found("cafe") and searched.found("zurich") and searched.found("berg")
    assert searched.found("enant") == [] and searched.found("brien") != []


def test_search_with_is_active_and_sorts(searched, db):
    n = seeded_number(db, searched)
    for s in (n[:3] + n[3], searched.tag):
        want = searched.expected(s)
        assert want
        got = searched.found(s)
        assert got == want
        actives = {r["slug"] for r in db.query(f"SELECT slug FROM tenants WHERE account_id = {searched.id} "
                                              "AND is_active = 1")}
        assert searched.found(s, isActive="true") == [x for x in want if x in actives]
        for sort in SORTS:
            page = assert_json(searched.get(LIST, q=s, sort=f"-{sort}", pageSize=3, pageNumber=2), 200)
            col = SORTS[sort] or "pk"
            ordered = [r["slug"] for r in db.query(
                f"SELECT slug FROM tenants WHERE account_id = {searched.id} AND slug IN "
                f"({', '.join(sql_quote(x) for x in want)}) ORDER BY {col} DESC, pk DESC LIMIT 3 OFFSET 3")]
            assert [t["id"] for t in page["data"] or []] == ordered, (s, sort)


def test_laravel_description_search(searched, db):
    n = seeded_number(db, searched)
    for q in (n[:5], "number " + n[:6], "über", "ueberweisung", "berg", "london", "Fish", "tenant", "9"):
        want = sorted(db.scalar(f"SELECT name FROM tenants WHERE slug = {sql_quote(s)}")
                      for s in searched.expected(q, column="description"))
        assert searched.laravel(q) == want, q


def test_search_follows_renames_and_deletes(searched, api):
    slug = f"fs-{searched.tag}-rn"
    word = f"Zephyr{uuid.uuid4().hex[:6]}"
    r = api.post(LIST, key=searched.p.key, json=tenant_body(slug, name=f"Before {word}", description="old text"))
    assert r.status_code == 202, describe(r)
    assert searched.found(word) == [slug]
    new = f"Quokka{uuid.uuid4().hex[:6]}"
    r = api.patch(f"{LIST}/{slug}", key=searched.p.key, json={"name": f"After {new}", "description": f"now {word}x"})
    assert r.status_code == 200, describe(r)
    assert searched.found(new) == [slug] == searched.found(word)  # the description holds it now
    assert searched.found(f"Before {word}") == []
    r = api.patch(f"{LIST}/{slug}", key=searched.p.key, json={"description": None})
    assert r.status_code == 200, describe(r)
    assert searched.found(word) == []
    searched.delete(slug)
    assert searched.found(new) == []
    assert searched.found(searched.tag) == searched.expected(searched.tag)


def test_search_xml(searched):
    q = searched.tag
    want = searched.expected(q)
    root = assert_xml(searched.api.get(LIST, key=searched.p.key, params={"q": q, "pageSize": 100},
                                       headers={"Accept": "application/xml"}), 200, "tenants")
    assert int(child_text(root, "totalCount")) == len(want)


def test_search_with_a_global_key(searched, ctl, db, api):
    """A global key searches every account (tenant_words by word alone)."""
    g = ctl.key(account=searched.p.account, kind="global")
    for q in (searched.tag, f"Zürich {searched.tag}", f"{searched.tag[:4]}"):
        like = "'%" + q.replace("'", "''") + "%'"
        rows = db.query(f"SELECT slug, name, description FROM tenants WHERE name LIKE {like} "
                        f"OR description LIKE {like} ORDER BY name, pk")
        want = [r["slug"] for r in rows if rule(q, r["name"], r["description"])]
        page = assert_json(api.get(LIST, key=g.key, params={"q": q, "sort": "name", "pageSize": 100}), 200)
        assert [t["id"] for t in page["data"] or []] == want, q
        assert assert_json(api.get(COUNT, key=g.key, params={"q": q}), 200)["count"] == len(want), q


# Common words and the cap (filt2).  A word held by 10,000 or more rows of tenant_words in the scope is
# common: its lists are read in their order, each row tried, rather than from the word's index range.  A
# list filtered by text, name or metadata is its first 1,000 matches (TENANT_LIST_MATCHES_MAX): totalCount
# and count stop there, pages beyond them are empty.  A text without a word of 3 characters is refused (422)
# on a scope of more than 10,000 tenants.
CAP = 1000


class Common(Searched):
    def ordered(self, q, sort="name", desc=False, active=None, column=None):
        """Every match of q by brute force, in the list's order (sort, then pk, both in direction)."""
        like = "'%" + q.replace("\\", "\\\\\\\\").replace("'", "''").replace("%", "\\%").replace("_", "\\_") + "%'"
        cond = f"description LIKE {like}" if column == "description" else \
            f"(name LIKE {like} OR description LIKE {like})"
        d = " DESC" if desc else ""
        col = SORTS[sort]
        order = f"{col}{d}, pk{d}" if col else f"pk{d}"
        rows = self.db.query(f"SELECT slug, name, description FROM tenants WHERE {self.where(active)} AND {cond} "
                             f"ORDER BY {order}")
        return [r["slug"] for r in rows if rule(q, r["name"], r["description"])]

    def assert_search(self, q, sorts=SORTS, active=None):
        """First, last and past-the-cap pages of every sort and direction, totalCount and count."""
        for sort in sorts:
            for desc in (False, True):
                want = self.ordered(q, sort, desc, None if active is None else ACTIVITY[active])
                total = min(len(want), CAP)
                for number in (1, CAP // 50, CAP // 50 + 1):
                    page = assert_json(self.get(LIST, active, q=q, sort=f"{sort} {'desc' if desc else 'asc'}",
                                                pageSize=50, pageNumber=number), 200)
                    assert [t["id"] for t in page["data"] or []] == want[:total][(number - 1) * 50:number * 50], \
                        (q, sort, desc, number)
                    assert page["totalCount"] == total, (q, sort, desc, number)
                    assert page["hasNext"] == (number * 50 < total), (q, sort, desc, number)
        assert assert_json(self.get(COUNT, active, q=q), 200)["count"] == total, q
        return want


@pytest.fixture(scope="module")
def common(api, ctl, db):
    """10,500 seeded tenants (every one holds the words tenant, seeded and number) and a few of their own."""
    acc = Common(api, ctl, db, 10500)
    acc.tag = uuid.uuid4().hex[:6]
    texts = [("Tenantless Plaza", "no seeded words"), ("Numbered Tenants", "tenant-like"),
             ("Quiet", "a tenant of its own"), ("Other", "Seeded-tenant number one")]
    for i, (name, description) in enumerate(texts):
        r = api.post(LIST, key=acc.p.key, json=tenant_body(f"fc-{acc.tag}-{i}", name=f"{name} {acc.tag}{i}",
                                                           description=description))
        assert r.status_code == 202, describe(r)
    assert int(db.scalar(f"SELECT COUNT(*) FROM tenant_words WHERE account_id = {acc.id} "
                         "AND word = 'tenant'")) >= 10000, "the word must be common for these tests"
    return acc


def test_common_words_give_their_first_matches(common, db):
    n = seeded_number(db, common)
    for q in ("tenant", "seeded tenant", "Tenant number"):
        assert len(common.assert_search(q)) > CAP, q
    # A rare word with common ones: all of its matches, read from the rare word's rows.
    for q in (f"tenant {n}", f"seeded tenant number {n[:-1]}", common.tag):
        want = common.assert_search(q, sorts=("name", "createdAt"))
        assert 0 < len(want) < CAP, q
    assert common.assert_search("number tenant", sorts=("createdAt",)) == []  # words common, text nowhere


def test_common_words_with_is_active(common, db):
    rnd = random.Random(21)
    off = rnd.sample(common.slugs(), 30)
    parallel(lambda s: common.activation(s, False), off)
    want = common.assert_search("tenant", active="false")
    assert set(off) <= set(want) and len(want) < CAP
    common.assert_search("seeded tenant", sorts=("name", "validUpto"), active="true")


def test_common_words_after_updates_and_deletes(common, api, db):
    first = common.ordered("tenant", "name")[:5]
    r = api.patch(f"{LIST}/{first[0]}", key=common.p.key, json={"name": f"Renamed {uuid.uuid4().hex[:8]}",
                                                                "description": None})
    assert r.status_code == 200, describe(r)
    common.delete(first[1])
    want = common.assert_search("tenant", sorts=("name",))
    assert first[0] not in want and first[1] not in want and first[2] in want


def test_laravel_description_common_word(common):
    for description in ("tenant", "seeded tenant"):
        want = common.ordered(description, "createdAt", column="description")[:CAP]
        names = {r["slug"]: r["name"] for r in common.db.query(
            f"SELECT slug, name FROM tenants WHERE account_id = {common.id}")}
        for page in (1, 10, 11):
            body = assert_json(common.api.get("/tenants", key=common.p.key, params={
                "description": description, "per_page": 100, "page": page}), 200)
            assert [t["name"] for t in body["data"]] == [names[s] for s in want[(page - 1) * 100:page * 100]]
            assert (body["links"]["next"] is None) == (page * 100 >= len(want)), (description, page)
        count = assert_json(common.api.get("/tenants/count", key=common.p.key,
                                           params={"description": description}), 200)
        assert count["count"] == len(want)


def test_short_text_refused_on_a_large_account(common, searched):
    for path in (LIST, COUNT):
        for q in ("7", "42", "_", "é"):
            r = common.get(path, q=q)
            assert r.status_code == 422, describe(r)
            assert "q" in r.json()["errors"], describe(r)
            assert r.headers["Content-Type"].startswith("application/problem+json")
        assert common.get(path, q="42 tenant").status_code == 200  # a word of 3 characters
        assert searched.get(path, q="42").status_code == 200  # 1,008 tenants: a scan is allowed
    r = common.api.get("/tenants", key=common.p.key, params={"description": "ab"})
    assert r.status_code == 422, describe(r)
    assert r.json()["errors"]["description"] == ["The description must hold a word of at least 3 characters."]
    assert common.api.get("/tenants/count", key=common.p.key, params={"description": "ab"}).status_code == 422
    root = assert_xml(common.api.get(LIST, key=common.p.key, params={"q": "7"},
                                     headers={"Accept": "application/xml"}), 422, "problem", "application/problem+xml")
    assert child_text(root, "code") == "validation_failed"


def test_global_is_active_pages(varied, ctl, db, api):
    """A global key's isActive pages (every account; sql/0012's indexes) against a brute-force query."""
    g = ctl.key(account=varied.p.account, kind="global")
    for sort in SORTS:
        for desc in (False, True):
            d = " DESC" if desc else ""
            col = SORTS[sort]
            order = f"{col}{d}, pk{d}" if col else f"pk{d}"
            for number in (1, 3):
                for _ in range(5):  # the provisioner may activate a tenant between the reads: read again
                    sql = f"SELECT slug FROM tenants WHERE is_active = 0 ORDER BY {order} LIMIT 20 OFFSET {(number - 1) * 20}"
                    before = [r["slug"] for r in db.query(sql)]
                    page = assert_json(api.get(LIST, key=g.key, params={
                        "isActive": "false", "sort": f"{sort} {'desc' if desc else 'asc'}", "pageSize": 20,
                        "pageNumber": number}), 200)
                    if before == [r["slug"] for r in db.query(sql)]:
                        break
                assert [t["id"] for t in page["data"] or []] == before, (sort, desc, number)
                assert before, "varied deactivated 500 tenants"
