"""The list generation (sql/0006): SUM(gen) over an account's rows of tenant_counts moves with every
change that can reorder one of its listings (a create, a delete, a tenantctl seed batch, a new name,
validUpto or consentedAt), in that change's transaction, and with nothing else; the rows of account 0
(all accounts) move with it; so does a change of isActive (sql/0010). The counts stay the number of rows. Workers trust their page marks only
while it holds.
"""

import random
import uuid

from helpers import assert_json, describe, sql_quote, tenant_body

LIST = "/api/v1/tenants"


def generation(db, account_id):
    return int(db.scalar(f"SELECT COALESCE(SUM(gen), 0) FROM tenant_counts WHERE account_id = {account_id}"))


def counted(db, account_id):
    return int(db.scalar(f"SELECT COALESCE(SUM(n), 0) FROM tenant_counts WHERE account_id = {account_id}"))


def test_generation_moves_with_the_order(api, ctl, db):
    p = ctl.key()
    acct = int(db.scalar(f"SELECT id FROM accounts WHERE name = {sql_quote(p.account)}"))
    slug = f"gen-{uuid.uuid4().hex[:12]}"
    path = f"{LIST}/{slug}"

    def bumped(action):
        before, before_all = generation(db, acct), generation(db, 0)
        action()
        return generation(db, acct) - before, generation(db, 0) - before_all

    def ok(r, status=200):
        assert r.status_code == status, describe(r)

    def patch(body, **kw):
        return lambda: ok(api.patch(path, key=p.key, json=body, **kw))

    assert bumped(lambda: ok(api.post(LIST, key=p.key, json=tenant_body(
        slug, validUpto="2027-01-01T00:00:00Z")), 202)) == (1, 1)
    assert bumped(patch({"description": "not a sort key"})) == (0, 0)
    # A change of isActive moves the tenant between the isActive listings (sql/0010).
    assert bumped(lambda: ok(api.post(f"{path}/deactivate", key=p.key))) == (1, 1)
    assert bumped(lambda: ok(api.post(f"{path}/deactivate", key=p.key))) == (0, 0)  # already inactive
    assert bumped(patch({"validUpto": "2027-01-01T00:00:00Z"})) == (0, 0)  # the same value
    assert bumped(patch({"validUpto": "2027-02-01T00:00:00Z"})) == (1, 1)
    assert bumped(patch({"consentedAt": "2026-05-05T00:00:00Z"})) == (1, 1)
    assert bumped(patch({"consentedAt": None})) == (1, 1)
    assert bumped(patch({"name": f"Generation {uuid.uuid4().hex[:8]}"})) == (1, 1)
    assert bumped(lambda: ok(api.post(f"{path}/upgrade", key=p.key,
                                      json={"extendedExpiryDate": "2099-01-01T00:00:00Z"}))) == (1, 1)
    # Refused changes change nothing.
    assert bumped(lambda: ok(api.patch(path, key=p.key, headers={"If-Match": '"999999"'},
                                       json={"name": "Generation never"}), 412)) == (0, 0)
    assert bumped(lambda: ok(api.delete(path, key=p.key, params={"confirmName": "wrong",
                                                                 "confirmDisplayName": "wrong"}), 422)) == (0, 0)
    assert counted(db, acct) == 1
    name = db.scalar(f"SELECT name FROM tenants WHERE slug = {sql_quote(slug)}")
    assert bumped(lambda: assert_json(api.delete(path, key=p.key, params={
        "confirmName": name, "confirmDisplayName": name}), 200)) == (1, 1)
    assert counted(db, acct) == 0
    # A seed batch commits its rows with their count and one bump.
    start = str(random.randint(10 ** 8, 2 * 10 ** 8))
    assert bumped(lambda: ctl.run("seed", "--tenants", "3", "--account", p.account,
                                  "--prefix", f"gen{uuid.uuid4().hex[:8]}-", "--start", start)) == (1, 1)
    assert counted(db, acct) == 3 == int(db.scalar(f"SELECT COUNT(*) FROM tenants WHERE account_id = {acct}"))
    assert counted(db, 0) == int(db.scalar("SELECT COUNT(*) FROM tenants"))
