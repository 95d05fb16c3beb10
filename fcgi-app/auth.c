#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>

#include "account_store.h"
#include "apikey.h"
#include "auth.h"
#include "jwt.h"
#include "keycache.h"

static const char *const kind_names[KEY__MAX] = {
	[KEY_GLOBAL] = "global",
	[KEY_ACCOUNT] = "account",
	[KEY_TENANT] = "tenant",
};

enum keycol {
	KC_ID, KC_ACCOUNT_ID, KC_ACCOUNT, KC_KIND, KC_TENANT, KC_PERMS,
	KC_HASH, KC_EXPIRED, KC_REVOKED, KC_STALE, KC_EXPIRES, KC_DISABLED,
	KC_VALID_UPTO, KC__MAX
};

/* A prefix can in theory be shared, so every candidate's hash is compared. */
static const char sql_key_lookup[] =
    "SELECT k.id, k.account_id, a.name, k.kind, k.tenant_pk, k.permissions, "
    "k.hash, (k.expires_at IS NOT NULL AND k.expires_at <= UTC_TIMESTAMP()), "
    "(k.revoked_at IS NOT NULL), "
    "(k.last_used_at IS NULL OR "
    " k.last_used_at < UTC_TIMESTAMP() - INTERVAL 1 MINUTE), "
    "UNIX_TIMESTAMP(k.expires_at), (t.is_active = 0), "
    "UNIX_TIMESTAMP(t.valid_upto) "
    "FROM api_keys k JOIN accounts a ON a.id = k.account_id "
    "LEFT JOIN tenants t ON t.pk = k.tenant_pk "
    "WHERE k.prefix = ?";

/* last_used_at moves at most once a minute, not on every request. */
static const char sql_key_touch[] =
    "UPDATE api_keys SET last_used_at = UTC_TIMESTAMP() WHERE id = ?";

const char *
key_kind_name(enum key_kind k)
{
	return k < KEY__MAX ? kind_names[k] : "";
}

int
key_kind_parse(const char *s, enum key_kind *out)
{
	int	 k;

	for (k = 0; k < KEY__MAX; k++)
		if (strcmp(kind_names[k], s) == 0) {
			*out = (enum key_kind)k;
			return 0;
		}
	return -1;
}

static enum auth_result
fill_from_key(struct db *db, const struct db_row *row, struct principal *p,
    const char **why)
{
	long long	 id;
	int		 stale;

	if (row->v[KC_EXPIRED][0] == '1') {
		*why = "the API key has expired";
		return AUTH_INVALID;
	}
	if (row->v[KC_REVOKED][0] == '1') {
		*why = "the API key has been revoked";
		return AUTH_INVALID;
	}
	if (key_kind_parse(row->v[KC_KIND], &p->kind) == -1) {
		*why = "the API key has an unknown kind";
		return AUTH_INVALID;
	}
	/* A disabled tenant keeps its data but cannot be used (seed 003). */
	if (row->v[KC_DISABLED] != NULL && row->v[KC_DISABLED][0] == '1') {
		*why = "the API key's tenant is disabled";
		return AUTH_INVALID;
	}
	p->via = VIA_KEY;
	p->key_id = id = strtoll(row->v[KC_ID], NULL, 10);
	p->account_id = strtoll(row->v[KC_ACCOUNT_ID], NULL, 10);
	snprintf(p->account, sizeof(p->account), "%s", row->v[KC_ACCOUNT]);
	p->tenant_pk = row->v[KC_TENANT] ? strtoll(row->v[KC_TENANT], NULL, 10) : 0;
	p->tenant_valid_upto = row->v[KC_VALID_UPTO] ?
	    strtoll(row->v[KC_VALID_UPTO], NULL, 10) : 0;
	p->perms = (uint32_t)strtoul(row->v[KC_PERMS], NULL, 10);
	stale = row->v[KC_STALE][0] == '1';
	if (stale) {
		struct db_param	 tp[] = { DB_I64(id) };

		/* Best effort: a failed touch must not fail the request. */
		(void)db_exec(db, sql_key_touch, tp, 1, NULL);
	}
	return AUTH_OK;
}

static enum auth_result
auth_key(struct db *db, const char *presented, struct principal *p,
    const char **why)
{
	unsigned char	 hash[APIKEY_HASH_LEN];
	char		 key[APIKEY_LEN + 1];
	struct db_param	 prm[] = { DB_STRN(key, APIKEY_PREFIX_LEN) };
	struct db_res	*res;
	struct db_row	 row;
	enum auth_result rc = AUTH_INVALID;
	int		 n;

	*why = "the API key is not valid";
	if (apikey_canonical(presented, key) == -1)
		return AUTH_INVALID;
	apikey_hash(key, hash);
	if (keycache_get(hash, time(NULL), p))
		return AUTH_OK;
	if (db_exec(db, sql_key_lookup, prm, 1, &res) != DBE_OK) {
		*why = "the credential store is unavailable";
		return AUTH_UNAVAILABLE;
	}
	while ((n = db_next(res, &row)) == 1) {
		if (row.len[KC_HASH] != APIKEY_HASH_LEN ||
		    CRYPTO_memcmp(row.v[KC_HASH], hash, APIKEY_HASH_LEN) != 0)
			continue;
		rc = fill_from_key(db, &row, p, why);
		if (rc == AUTH_OK)
			keycache_put(hash, p, row.v[KC_EXPIRES] ?
			    (time_t)strtoll(row.v[KC_EXPIRES], NULL, 10) : 0,
			    time(NULL));
		break;
	}
	db_res_free(res);
	return rc;
}

static enum auth_result
auth_jwt(struct db *db, const struct config *cfg, const char *tok,
    struct principal *p, const char **why)
{
	struct jwt_claims	 c;
	long long		 id;

	if (jwt_verify(tok, strlen(tok), cfg->issuers, cfg->nissuers,
	    time(NULL), &c, why) == -1)
		return AUTH_INVALID;
	if ((id = account_ensure(db, c.sub)) < 0) {
		*why = "the credential store is unavailable";
		return AUTH_UNAVAILABLE;
	}
	p->via = VIA_JWT;
	p->kind = KEY_ACCOUNT;
	p->account_id = id;
	snprintf(p->account, sizeof(p->account), "%s", c.sub);
	p->perms = c.perms;
	return AUTH_OK;
}

enum auth_result
auth_resolve(struct db *db, const struct config *cfg, const struct request *r,
    struct principal *p, const char **why)
{
	const char	*a = r->authorization;

	memset(p, 0, sizeof(*p));
	*why = "no credential was presented";
	if (a != NULL && *a != '\0') {
		if (strncasecmp(a, "Bearer ", 7) != 0) {
			*why = "only Bearer credentials are accepted";
			return AUTH_INVALID;
		}
		for (a += 7; *a == ' '; a++)
			;
		if (apikey_tagged(a))
			return auth_key(db, a, p, why);
		return auth_jwt(db, cfg, a, p, why);
	}
	if (r->api_key != NULL && *r->api_key != '\0')
		return auth_key(db, r->api_key, p, why);
	return AUTH_NONE;
}
