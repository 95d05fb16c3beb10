"""Deep pages read from page marks: every page of every sort, in both directions, for one account and
for all of them, is exactly what ORDER BY <field>, pk (NULL first) with LIMIT/OFFSET gives in the
database, also right after inserts, deletes, renames and date changes between the requests (a mark
of an older state must never shape a page), and whichever worker answers.

Marks only come into play past list.mark_beyond rows from both ends; ./scripts/test sets it (and
list.mark_every) low, so a few dozen tenants reach them. The list generation they rely on is tested
in test_list_generation.py.

A worker reads its first far mark of a listing alone and, at the second far one, the whole listing
in one pass for all of them (page_marks.h); test_a_second_far_page_reads_the_listing_in_one_pass
sees the passes in /metrics, and every test here checks pages that came from them.
"""

import itertools
import random
import uuid

import pytest

from conftest import _read_kv
from helpers import assert_json, describe, sql_quote
from test_metrics import scrape, value

LIST = "/api/v1/tenants"
N_TENANTS = 40
SORTS = {"id": "slug", "name": "name", "createdAt": None, "validUpto": "valid_upto",
         "consentedAt": "consented_at"}
DATES = [None, "2027-01-01T00:00:00Z", "2027-06-30T12:00:00Z", "2028-03-15T08:00:00Z"]


@pytest.fixture(scope="module")
def marks(stack):
    conf = _read_kv(stack.config)
    every, beyond = int(conf.get("list.mark_every", 1000)), int(conf.get("list.mark_beyond", 5000))
    if every > 10 or beyond > 10:
        pytest.skip(f"list.mark_every = {every}, list.mark_beyond = {beyond}: these {N_TENANTS} tenants "
                    "would never reach a mark (./scripts/test sets both low)")
    return every, beyond


class Pool:
    """Keys of one account, taken in turn, so the rate limit (per key and route) is never reached."""

    def __init__(self, ctl, db, size, kind="account", account=None):
        first = ctl.key(account=account, kind=kind)
        self.account = first.account
        self.keys = [first.key] + [ctl.key(account=first.account, kind=kind).key for _ in range(size - 1)]
        self.account_id = int(db.scalar(f"SELECT id FROM accounts WHERE name = {sql_quote(first.account)}"))
        self._cycle = itertools.cycle(self.keys)

    def next(self):
        return next(self._cycle)


class Listing:
    """One account's tenants with names in mixed case and accents, dates with ties and NULLs."""

    def __init__(self, api, ctl, db):
        self.api, self.db = api, db
        self.pool = Pool(ctl, db, 30)
        self.all = Pool(ctl, db, 6, kind="global", account=self.pool.account)
        self.rnd = random.Random(uuid.uuid4().hex)
        self.tag = uuid.uuid4().hex[:6]
        for _ in range(N_TENANTS):
            self.create()

    def word(self):
        letters = "abcdeéfgh"
        return "".join(self.rnd.choice(letters).upper() if self.rnd.random() < 0.4 else self.rnd.choice(letters)
                       for _ in range(6))

    def create(self):
        slug = f"pm{self.tag}-{uuid.uuid4().hex[:8]}"
        body = {"id": slug, "name": f"Marks {self.tag} {self.word()} {uuid.uuid4().hex[:4]}",
                "adminEmail": f"admin@{slug}.example",
                "validUpto": self.rnd.choice(DATES), "consentedAt": self.rnd.choice(DATES[:3])}
        r = self.api.post(LIST, key=self.pool.next(), json={k: v for k, v in body.items() if v is not None})
        assert r.status_code == 202, describe(r)

    def rows(self):
        return self.db.query(f"SELECT slug, name, display_name FROM tenants WHERE account_id = {self.pool.account_id}")

    def expected(self, field, desc, scoped=True):
        """The order the database gives: the promise is exactly this."""
        col, d = SORTS[field], " DESC" if desc else ""
        order = f"{col}{d}, pk{d}" if col else f"pk{d}"
        where = f"WHERE account_id = {self.pool.account_id}" if scoped else ""
        return [r["slug"] for r in self.db.query(f"SELECT slug FROM tenants {where} ORDER BY {order}")]

    def page(self, field, desc, size, number, scoped=True):
        key = self.pool.next() if scoped else self.all.next()
        r = self.api.get(LIST, key=key, params={"sort": f"{field} {'desc' if desc else 'asc'}",
                                                "pageSize": size, "pageNumber": number})
        return assert_json(r, 200)

    def check(self, field, desc, size, number, scoped=True, want=None, times=2):
        """The page, asked `times` times (so both workers answer it, with or without marks)."""
        want = self.expected(field, desc, scoped) if want is None else want
        for _ in range(times):
            page = self.page(field, desc, size, number, scoped)
            got = [t["id"] for t in page["data"]]
            assert got == want[(number - 1) * size:number * size], \
                f"sort={field} {'desc' if desc else 'asc'} pageSize={size} pageNumber={number} (of {len(want)})"
            assert page["totalCount"] == len(want), page["totalCount"]

    def mutate(self):
        """One change that can reorder the listing, through the API."""
        rows = self.rows()
        victim = self.rnd.choice(rows)
        what = self.rnd.choice(["create", "delete", "rename", "validUpto", "consentedAt", "null"])
        key = self.pool.next()
        if what == "create" or len(rows) < N_TENANTS // 2:
            self.create()
        elif what == "delete":
            r = self.api.delete(f"{LIST}/{victim['slug']}", key=key, params={
                "confirmName": victim["name"], "confirmDisplayName": victim["display_name"] or victim["name"]})
            assert r.status_code == 200, describe(r)
        else:
            body = {"rename": {"name": f"Marks {self.tag} {self.word()} {uuid.uuid4().hex[:4]}"},
                    "validUpto": {"validUpto": self.rnd.choice(DATES[1:])},
                    "consentedAt": {"consentedAt": self.rnd.choice(DATES[1:])},
                    "null": {"validUpto": None, "consentedAt": None}}[what]
            r = self.api.patch(f"{LIST}/{victim['slug']}", key=key, json=body)
            assert r.status_code == 200, describe(r)
        return what


@pytest.fixture(scope="module")
def listing(api, ctl, db, marks):
    return Listing(api, ctl, db)


@pytest.mark.parametrize("field", SORTS)
def test_every_page_of_every_order(listing, field):
    for desc in (False, True):
        want = listing.expected(field, desc)
        for size in (3, 7):
            for number in range(1, -(-len(want) // size) + 2):
                listing.check(field, desc, size, number, want=want)


@pytest.mark.parametrize("field", SORTS)
def test_every_deep_page_of_all_accounts(listing, field):
    """A global key's listing: every tenant of the stack, from marks of scope 0."""
    for desc in (False, True):
        want = listing.expected(field, desc, scoped=False)
        size = min(100, max(7, len(want) // 12))
        for number in sorted({1, 2, 3, len(want) // size // 2, len(want) // size, -(-len(want) // size)}):
            listing.check(field, desc, size, max(1, number), scoped=False, want=want)


def test_pages_after_changes_between_requests(api, listing):
    """Marks made before a change must not shape the pages after it, in either worker: each change
    is logged (sql/0022) and a worker's marks move by it (a rebase) rather than being read again.
    Every rebase here moves its marks (none is dropped: the log is whole and the names differ
    within the weights kept), and the pages they shape are exact."""
    rnd = random.Random(listing.tag)
    before = scrape(api)
    combos = [(f, d) for f in SORTS for d in (False, True)]
    for f, d in combos:  # marks in every listing, in both workers
        want = listing.expected(f, d)
        for number in (4, 6, 9):
            listing.check(f, d, 3, number, want=want)
    done = []
    for _ in range(18):
        done.append(listing.mutate())
        for f, d in rnd.sample(combos, 3):
            want = listing.expected(f, d)
            pages = -(-len(want) // 3)
            for number in sorted({rnd.randint(3, pages), pages // 2, pages - 2}):
                listing.check(f, d, 3, max(1, number), want=want)
    assert {"create", "delete"} & set(done), done
    after = scrape(api)
    # Hundreds of deep reads after 18 changes: the workers holding marks get some of them.
    assert rebases(after) > rebases(before), "no marks were moved by a logged change"
    assert dropped(after) == dropped(before), "a rebase could not place a change"


def rebases(samples):
    return value(samples, "tenantd_page_mark_reads_total", kind="rebase")


def dropped(samples):
    return value(samples, "tenantd_page_marks_dropped_total")


def test_the_log_holds_every_change(api, ctl, db, marks):
    """Each create, rename, date change and delete of an account wrote one row under the shard gen
    it bumped: the shards' gens and the log's rows agree (no gap, no duplicate)."""
    fresh = Listing(api, ctl, db)
    acc = fresh.pool.account_id
    for _ in range(12):
        fresh.mutate()
    gens = {int(r["shard"]): int(r["gen"]) for r in db.query(
        f"SELECT shard, gen FROM tenant_counts WHERE account_id = {acc}")}
    logged = db.query(f"SELECT shard, COUNT(*) AS n, MAX(gen) AS top FROM tenant_list_changes "
                      f"WHERE account_id = {acc} GROUP BY shard")
    assert logged, "nothing logged"
    for r in logged:
        assert int(r["top"]) == gens[int(r["shard"])], (r, gens)
        assert int(r["n"]) == gens[int(r["shard"])], f"shard {r['shard']}: {r['n']} rows for gen {gens}"


def test_past_the_end(listing):
    n = len(listing.rows())
    for desc in (False, True):
        for number in (-(-n // 3) + 1, 1000):
            page = listing.page("validUpto", desc, 3, number)
            assert page["data"] == [] and page["totalCount"] == n, page


def passes(api):
    return value(scrape(api), "tenantd_page_mark_reads_total", kind="pass")


# Rows 9, 20 and 30 of 40 (pageSize 1): each more than list.mark_beyond (5) rows from both ends and
# from the grid rows the others' marks sit on, whichever was read first.
FAR_PAGES = (10, 21, 31)


def test_a_second_far_page_reads_the_listing_in_one_pass(api, ctl, db, stack, marks):
    """A new account's listings are new in every worker and nothing writes to them while they are
    read: each listing's three far pages reach at most len(FAR_PAGES) - 1 workers twice, so (as long
    as there are fewer workers than far pages) some worker reads a far page after another, which
    makes it read the whole listing in one pass. The pages are exact before and after."""
    workers = int(_read_kv(stack.config).get("workers", 2))
    if workers >= len(FAR_PAGES):
        pytest.skip(f"{workers} workers: three far pages need not reach one worker twice")
    fresh = Listing(api, ctl, db)
    assert len(fresh.rows()) == N_TENANTS
    before = passes(api)
    for field in SORTS:
        want = fresh.expected(field, False)
        for number in FAR_PAGES:
            fresh.check(field, False, 1, number, want=want, times=1)
    assert passes(api) - before >= len(SORTS), "a listing read far twice by one worker without a pass"
    for field in SORTS:
        for desc in (False, True):
            want = fresh.expected(field, desc)
            for number in range(1, len(want) + 1):
                fresh.check(field, desc, 1, number, want=want, times=1)


def test_changes_past_ten_minutes_are_purged(db):
    """The provisioning process deletes logged changes older than ten minutes with its other
    purges (every connections.purge_interval seconds); a newer one stays."""
    import time

    account = 900000000 + random.randrange(1, 99999999)
    db.query("INSERT INTO tenant_list_changes (account_id, shard, gen, tenant_pk, is_active, new_name, "
             f"changed_at) VALUES ({account}, 0, 1, 1, 1, 'old', UTC_TIMESTAMP() - INTERVAL 11 MINUTE), "
             f"({account}, 0, 2, 2, 1, 'new', UTC_TIMESTAMP() - INTERVAL 9 MINUTE)")
    left = f"SELECT GROUP_CONCAT(gen ORDER BY gen) FROM tenant_list_changes WHERE account_id = {account}"
    assert db.scalar(left) == "1,2"
    deadline = time.monotonic() + 90
    while db.scalar(left) != "2":
        assert time.monotonic() < deadline, f"a change past ten minutes was not purged within 90 s: {db.scalar(left)}"
        time.sleep(0.5)
    db.query(f"DELETE FROM tenant_list_changes WHERE account_id = {account}")
