#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>
#include <uuid/uuid.h>

#include "audit.h"
#include "connections.h"
#include "keycache.h"
#include "tenant_list.h"
#include "tenant_store.h"

#define CHILDREN_MAX	10000	/* domains or mailboxes in one import */
#define PURGE_BATCH	100

/*
 * The primary connection of c's account: the one accounts names while it
 * is active, else the oldest active one.  So there is exactly one while
 * the account has any, whatever removed the named one (a cascade from
 * another surface's tenant delete included).
 */
#define PRIMARY_OF_C "COALESCE((SELECT p.id FROM accounts a " \
	"JOIN connections p ON p.id = a.primary_connection_id " \
	"WHERE a.id = c.account_id AND p.disconnected_at IS NULL), " \
	"(SELECT f.id FROM connections f WHERE f.account_id = c.account_id " \
	"AND f.disconnected_at IS NULL " \
	"ORDER BY f.connected_at, f.tenant_pk LIMIT 1))"

/* Writes the rule above down, so later readers need not derive it. */
static const char sql_primary_ensure[] =
    "UPDATE accounts a SET a.primary_connection_id = "
    "(SELECT f.id FROM connections f WHERE f.account_id = a.id "
    "AND f.disconnected_at IS NULL "
    "ORDER BY f.connected_at, f.tenant_pk LIMIT 1) "
    "WHERE a.id = ? AND NOT EXISTS (SELECT 1 FROM connections p "
    "WHERE p.id = a.primary_connection_id AND p.disconnected_at IS NULL)";
static const char sql_account_lock[] =
    "SELECT id FROM accounts WHERE id = ? FOR UPDATE";
static const char sql_activate[] =
    "UPDATE accounts SET primary_connection_id = ?, current_tenant_pk = ? "
    "WHERE id = ?";
static const char sql_active_count[] =
    "SELECT COUNT(*) FROM connections WHERE account_id = ? "
    "AND disconnected_at IS NULL";
static const char sql_disconnect[] =
    "UPDATE connections SET disconnected_at = UTC_TIMESTAMP(), "
    "purge_after = UTC_TIMESTAMP() + INTERVAL ? DAY WHERE id = ?";
static const char sql_import_find[] =
    "SELECT c.id, t.guid FROM connections c JOIN tenants t "
    "ON t.pk = c.tenant_pk WHERE c.account_id = ? AND c.ms_tenant_id = ? "
    "FOR UPDATE";
static const char sql_conn_insert[] =
    "INSERT INTO connections (id, account_id, tenant_pk, ms_tenant_id, "
    "label, status, connected_at) VALUES (?, ?, ?, ?, ?, ?, UTC_TIMESTAMP())";
/* connected_at is set before disconnected_at is cleared: SET is ordered. */
static const char sql_conn_update[] =
    "UPDATE connections SET label = COALESCE(?, label), "
    "status = IF(?, ?, status), connected_at = IF(disconnected_at IS NULL, "
    "connected_at, UTC_TIMESTAMP()), disconnected_at = NULL, "
    "purge_after = NULL WHERE id = ?";
static const char sql_counts[] =
    "UPDATE tenants SET "
    "domain_count = (SELECT COUNT(*) FROM m365_domains WHERE tenant_pk = ?), "
    "mailbox_count = (SELECT COUNT(*) FROM m365_mailboxes WHERE tenant_pk = ?) "
    "WHERE pk = ?";
static const char sql_purge_claim[] =
    "SELECT c.id, c.account_id, c.tenant_pk FROM connections c "
    "WHERE c.purge_after <= UTC_TIMESTAMP() AND c.disconnected_at IS NOT NULL "
    "ORDER BY c.purge_after LIMIT 1 FOR UPDATE SKIP LOCKED";

/* A connection found by a mutation, its account locked first. */
#define FIND_COLS "SELECT c.account_id FROM connections c "
#define LOCK_COLS "SELECT c.id, c.tenant_pk, c.ms_tenant_id, " \
	"COALESCE(t.display_name, t.name) FROM connections c " \
	"JOIN tenants t ON t.pk = c.tenant_pk "
#define ACTIVE_SCOPED "AND c.disconnected_at IS NULL " \
	"AND (? = 0 OR c.account_id = ?) " \
	"ORDER BY c.connected_at, c.tenant_pk LIMIT 1"

static const char *const sql_find[CBY__MAX] = {
	[CBY_ID] = FIND_COLS "WHERE c.id = ? " ACTIVE_SCOPED,
	[CBY_MS_TENANT_ID] = FIND_COLS "WHERE c.ms_tenant_id = ? "
	    ACTIVE_SCOPED,
};
static const char *const sql_lock[CBY__MAX] = {
	[CBY_ID] = LOCK_COLS "WHERE c.id = ? " ACTIVE_SCOPED " FOR UPDATE",
	[CBY_MS_TENANT_ID] = LOCK_COLS "WHERE c.ms_tenant_id = ? "
	    ACTIVE_SCOPED " FOR UPDATE",
};

/* The child sets an import replaces, and their limits. */
static const struct child {
	const char	*field;		/* import member */
	size_t		 max;		/* characters of one value */
	const char	*del;
	const char	*ins;
} children[CCHILD__MAX] = {
	[CCHILD_DOMAINS] = { "domains", 253,
	    "DELETE FROM m365_domains WHERE tenant_pk = ?",
	    "INSERT IGNORE INTO m365_domains (tenant_pk, name) VALUES (?, ?)" },
	[CCHILD_MAILBOXES] = { "mailboxes", 254,
	    "DELETE FROM m365_mailboxes WHERE tenant_pk = ?",
	    "INSERT IGNORE INTO m365_mailboxes (tenant_pk, address) "
	    "VALUES (?, ?)" },
};

/* Import members stored in tenant columns. */
static const struct field_map import_fields[] = {
	{ "msTenantId", TC_MS_TENANT_ID },
	{ "tenantName", TC_DISPLAY_NAME },
	{ "tenantDomain", TC_TENANT_DOMAIN },
	{ "defaultDomain", TC_DEFAULT_DOMAIN },
	{ "discoveryCompleted", TC_DISCOVERY_COMPLETED },
	{ "exchangeBootstrapStatus", TC_EXCHANGE_BOOTSTRAP_STATUS },
	{ "smtpAuthOrgEnabled", TC_SMTP_AUTH_ORG_ENABLED },
	{ "consentedAt", TC_CONSENTED_AT },
	{ "lastSyncAt", TC_LAST_SYNC_AT },
	{ "connectedBy", TC_CONNECTED_BY },
};

#define NIMPORT	(sizeof(import_fields) / sizeof(import_fields[0]))

static int
random_b62(char *out, size_t n)
{
	static const char b62[] =
	    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
	unsigned char	 r[32];
	size_t		 i;

	if (n > sizeof(r) || RAND_bytes(r, (int)n) != 1)
		return -1;
	/* 248 = 4 * 62: no bias from the modulo. */
	for (i = 0; i < n; i++) {
		while (r[i] >= 248)
			if (RAND_bytes(&r[i], 1) != 1)
				return -1;
		out[i] = b62[r[i] % 62];
	}
	out[n] = '\0';
	return 0;
}

/* ---------------------------------------------------------------- input */

static int
utf8_len(const char *s)
{
	int	 n = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			n++;
	return n;
}

/* A non-empty string without NULs, of at most max characters. */
static bool
text_ok(json_t *v, size_t max)
{
	const char	*s = json_string_value(v);

	return s != NULL && *s != '\0' && strlen(s) == json_string_length(v) &&
	    (size_t)utf8_len(s) <= max;
}

/* A string member of at most max characters: 1 set, 0 absent, -1 bad. */
static int
own_string(json_t *body, const char *name, size_t max, bool nullable,
    const char **out, json_t *errors)
{
	json_t	*v = json_object_get(body, name);
	char	 msg[80];

	if (v == NULL)
		return 0;
	*out = NULL;
	if (json_is_null(v) && nullable)
		return 1;
	if (!text_ok(v, max)) {
		snprintf(msg, sizeof(msg), "must be a non-empty string of at "
		    "most %zu characters%s", max, nullable ? ", or null" : "");
		field_error(errors, name, msg);
		return -1;
	}
	*out = json_string_value(v);
	return 1;
}

/*
 * An array of non-empty strings.  XML gives "" for an empty wrapper,
 * which stands for the empty set (*out NULL, returns 1).
 */
static int
own_list(json_t *body, const struct child *ch, bool from_xml, json_t **out,
    json_t *errors)
{
	json_t	*v = json_object_get(body, ch->field), *item;
	size_t	 i;
	char	 msg[64];

	*out = NULL;
	if (v == NULL)
		return 0;
	if (from_xml && json_is_string(v) && json_string_length(v) == 0)
		return 1;
	if (!json_is_array(v) || json_array_size(v) > CHILDREN_MAX) {
		snprintf(msg, sizeof(msg), "must be an array of at most %d "
		    "strings", CHILDREN_MAX);
		field_error(errors, ch->field, msg);
		return -1;
	}
	json_array_foreach(v, i, item) {
		if (!text_ok(item, ch->max)) {
			snprintf(msg, sizeof(msg), "must hold non-empty "
			    "strings of at most %zu characters", ch->max);
			field_error(errors, ch->field, msg);
			return -1;
		}
	}
	*out = v;
	return 1;
}

/* A tenant column the import cannot do without, not even as null. */
static void
required(const struct conn_input *in, enum tcol col, const char *name,
    json_t *errors)
{
	if (json_object_get(errors, name) != NULL)
		return;
	if (!in->t.set[col])
		field_error(errors, name, "is required");
	else if (in->t.v[col] == NULL)
		field_error(errors, name, "must not be null");
}

void
connections_input(json_t *body, bool from_xml, struct conn_input *in,
    json_t *errors)
{
	static const char *const own[] = { "label", "status", "domains",
	    "mailboxes" };
	json_t		*cols;
	size_t		 i;

	memset(in, 0, sizeof(*in));
	if (!json_is_object(body)) {
		field_error(errors, "body", "must be an object");
		return;
	}
	/* The tenant columns go through the shared validator. */
	cols = json_copy(body);
	for (i = 0; i < sizeof(own) / sizeof(own[0]); i++)
		json_object_del(cols, own[i]);
	tenant_input_from_json(import_fields, NIMPORT, cols, from_xml, &in->t,
	    errors);
	json_decref(cols);
	required(in, TC_MS_TENANT_ID, "msTenantId", errors);
	required(in, TC_DISPLAY_NAME, "tenantName", errors);
	own_string(body, "label", 200, false, &in->label, errors);
	if (own_string(body, "status", 32, true, &in->status, errors) == 1)
		in->status_set = true;
	for (i = 0; i < CCHILD__MAX; i++)
		if (own_list(body, &children[i], from_xml, &in->child[i],
		    errors) == 1)
			in->child_set[i] = true;
}

/* --------------------------------------------------------------- reading */

enum csql {
	CS_BY_ID,
	CS_BY_MS,
	CS_LIST_CONNECTED,
	CS_LIST_CONSENTED,
	CS__MAX
};

/*
 * Each reading statement, for one account (scoped, so it reads that
 * account's rows by index) or for every account (a global key).  Seed
 * 000, which reads by Microsoft tenant and by consent, shows no primary
 * flag, so its statements do not work it out.
 */
static const struct {
	const char	*where;		/* after the scope */
	const char	*order;
	bool		 primary;	/* work out isPrimary */
} csql_defs[CS__MAX] = {
	[CS_BY_ID] = { "AND c.id = ? ", "", true },
	[CS_BY_MS] = { "AND c.ms_tenant_id = ? ",
	    "ORDER BY c.connected_at, c.tenant_pk LIMIT 1", false },
	[CS_LIST_CONNECTED] = { "", "ORDER BY c.connected_at, c.tenant_pk",
	    true },
	[CS_LIST_CONSENTED] = { "", "ORDER BY t.consented_at DESC, "
	    "c.connected_at DESC, c.tenant_pk DESC", false },
};

/*
 * Built once per process: the tenant columns in enum tcol order, then
 * enum ccol's.  Only identifiers from static text go in.
 */
static const char *
csql(enum csql which, bool scoped)
{
	static char	 sqls[CS__MAX][2][2048];
	char		*s = sqls[which][scoped];

	if (*s == '\0')
		snprintf(s, sizeof(sqls[0][0]), "SELECT %s, c.id, "
		    "c.ms_tenant_id, c.label, c.status, c.connected_at, %s "
		    "FROM connections c JOIN tenants t ON t.pk = c.tenant_pk "
		    "WHERE c.disconnected_at IS NULL %s%s%s",
		    tenant_select_list(), csql_defs[which].primary ?
		    "c.id = " PRIMARY_OF_C : "0",
		    scoped ? "AND c.account_id = ? " : "",
		    csql_defs[which].where, csql_defs[which].order);
	return s;
}

int
connections_get(struct db *db, long long scope, enum cby by, const char *key,
    struct db_row *row, struct db_res **res)
{
	struct db_param	 p[] = { DB_I64(scope), DB_STR(key) };

	return db_one(db, csql(by == CBY_ID ? CS_BY_ID : CS_BY_MS, scope != 0),
	    scope ? p : p + 1, scope ? 2 : 1, row, res);
}

enum db_err
connections_list(struct db *db, long long scope, enum corder order,
    struct db_res **res)
{
	struct db_param	 p[] = { DB_I64(scope) };

	return db_exec(db, csql(order == CORDER_CONSENTED ? CS_LIST_CONSENTED :
	    CS_LIST_CONNECTED, scope != 0), p, scope ? 1 : 0, res);
}

json_t *
connections_row_json(const struct conn_field *map, size_t n,
    const struct db_row *row)
{
	json_t		*o, *v;
	const char	*s;
	size_t		 i;

	if ((o = json_object()) == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		s = row->v[map[i].col];
		if (map[i].col < TC__MAX)
			v = tenant_col_json((enum tcol)map[i].col, row);
		else if (s == NULL)
			v = json_null();
		else if (map[i].type == FT_BOOL)
			v = json_boolean(s[0] == '1');
		else if (map[i].type == FT_TIME)
			v = tenant_col_json_time(s);
		else if (map[i].type == FT_INT)
			v = json_integer(strtoll(s, NULL, 10));
		else
			v = json_stringn(s, row->len[map[i].col]);
		json_object_set_new_nocheck(o, map[i].name, v);
	}
	return o;
}

/* ------------------------------------------------------------- mutations */

struct conn_txn {
	const struct principal	*who;
	long long		 account;
	const struct conn_input	*in;
	enum cby		 by;
	const char		*key;
	long			 retention_days;
	const char		*request_id;
	struct conn_ref		*ref;
	long long		 tenant_pk;
	enum tres		 result;
};

static enum db_err
failed(struct db *db)
{
	enum db_err	 e = db_classify(db_errno(db));

	return e == DBE_OK ? DBE_OTHER : e;
}

static enum db_err
lock_account(struct db *db, long long account)
{
	struct db_param	 p[] = { DB_I64(account) };
	struct db_row	 row;
	struct db_res	*res = NULL;
	int		 rc;

	rc = db_one(db, sql_account_lock, p, 1, &row, &res);
	db_res_free(res);
	return rc == 1 ? DBE_OK : failed(db);
}

/*
 * Finds the active connection t->key names in the principal's scope and
 * locks its account, then the connection.  Accounts are locked before
 * connections everywhere, so concurrent changes queue instead of
 * deadlocking.  TR_NOT_FOUND in t->result when there is none.
 */
static enum db_err
lock_connection(struct db *db, struct conn_txn *t)
{
	long long	 scope = tenants_scope(t->who);
	struct db_param	 p[] = { DB_STR(t->key), DB_I64(scope), DB_I64(scope) };
	struct db_row	 row;
	struct db_res	*res = NULL;
	enum db_err	 e;
	int		 rc;

	t->result = TR_NOT_FOUND;
	if ((rc = db_one(db, sql_find[t->by], p, 3, &row, &res)) != 1) {
		db_res_free(res);
		return rc == 0 ? DBE_OTHER : failed(db);
	}
	t->account = strtoll(row.v[0], NULL, 10);
	db_res_free(res);
	res = NULL;	/* db_one leaves it alone when it fails */
	if ((e = lock_account(db, t->account)) != DBE_OK)
		return e;
	p[1] = p[2] = DB_I64(t->account);
	if ((rc = db_one(db, sql_lock[t->by], p, 3, &row, &res)) != 1) {
		db_res_free(res);
		/* 0: it went away while we waited for the account. */
		return rc == 0 ? DBE_OTHER : failed(db);
	}
	snprintf(t->ref->id, sizeof(t->ref->id), "%s", row.v[0]);
	t->tenant_pk = strtoll(row.v[1], NULL, 10);
	snprintf(t->ref->ms_tenant_id, sizeof(t->ref->ms_tenant_id), "%s",
	    row.v[2]);
	snprintf(t->ref->name, sizeof(t->ref->name), "%s", row.v[3]);
	db_res_free(res);
	t->result = TR_ERROR;
	return DBE_OK;
}

static enum db_err
audit(struct db *db, struct conn_txn *t, const char *action, const char *extra)
{
	char	 detail[256];

	snprintf(detail, sizeof(detail), "{\"msTenantId\":\"%s\"%s}",
	    t->ref->ms_tenant_id, extra ? extra : "");
	return audit_write(db, t->who, &(struct audit_event){
	    .action = action, .target_type = "connection",
	    .target_id = t->ref->id, .request_id = t->request_id,
	    .detail = detail });
}

static enum db_err
primary_ensure(struct db *db, long long account)
{
	struct db_param	 p[] = { DB_I64(account) };

	return db_exec(db, sql_primary_ensure, p, 1, NULL);
}

/* The tenant row and, by cascade, the connection and every child record. */
static enum db_err
delete_tenant(struct db *db, long long account, long long pk)
{
	enum db_err	 e;

	if ((e = tenant_list_removing(db, account, pk)) != DBE_OK)
		return e;
	return tenant_store_delete(db, pk);
}

static void
utc_now(char out[24])
{
	time_t		 t = time(NULL);
	struct tm	 tm;

	gmtime_r(&t, &tm);
	strftime(out, 24, "%Y-%m-%d %H:%M:%S", &tm);
}

/* A new tenant row for the connection: slug and name unique per account. */
static enum db_err
insert_tenant(struct db *db, struct conn_txn *t)
{
	struct tenant_input	 in = t->in->t;
	char			 slug[64], guid[37], short_id[12], now[24];
	uuid_t			 u;
	size_t			 i;
	enum db_err		 e;
	bool			 full;

	if ((e = tenants_license_room(db, &full)) != DBE_OK)
		return e;
	if (full) {
		t->result = TR_LIMIT;
		return DBE_OTHER;
	}
	snprintf(slug, sizeof(slug), "m365-%lld-%s", t->account,
	    t->in->t.v[TC_MS_TENANT_ID]);
	for (i = 0; slug[i] != '\0'; i++)
		if (slug[i] >= 'A' && slug[i] <= 'F')
			slug[i] = (char)(slug[i] - 'A' + 'a');
	in.v[TC_SLUG] = in.v[TC_NAME] = slug;
	in.set[TC_SLUG] = in.set[TC_NAME] = true;
	if (!in.set[TC_CONSENTED_AT]) {
		utc_now(now);
		in.v[TC_CONSENTED_AT] = now;
		in.set[TC_CONSENTED_AT] = true;
	}
	uuid_generate_random(u);
	uuid_unparse_lower(u, guid);
	if (random_b62(short_id, 11) == -1)
		return DBE_OTHER;
	if ((e = tenant_store_insert(db, t->account, &in, guid, short_id,
	    "Completed", &t->tenant_pk)) != DBE_OK)
		return e;
	return tenant_list_added(db, t->account, t->tenant_pk, &in);
}

static enum db_err
update_tenant(struct db *db, struct conn_txn *t, const char *guid)
{
	const struct tenant_input	*in = &t->in->t;
	const char			*v[TC__MAX];
	struct db_row			 row;
	struct db_res			*res = NULL;
	size_t				 i;
	enum db_err			 e;
	int				 rc;

	rc = tenant_store_lock(db, t->account, TKEY_GUID, guid, &row, &res);
	if (rc != 1) {
		db_res_free(res);
		return rc == 0 ? DBE_OTHER : failed(db);
	}
	t->tenant_pk = strtoll(row.v[TC_PK], NULL, 10);
	for (i = 0; i < TC__MAX; i++)
		v[i] = in->set[i] ? in->v[i] : row.v[i];
	e = tenant_store_update(db, t->tenant_pk, v);
	if (e == DBE_OK)
		e = tenant_list_updated(db, t->account, t->tenant_pk,
		    row.v, v);
	db_res_free(res);
	return e;
}

/* Replaces the given child sets; the counts are recounted either way. */
static enum db_err
replace_children(struct db *db, struct conn_txn *t)
{
	struct db_param	 p[3];
	json_t		*item;
	size_t		 c, i;
	enum db_err	 e;

	for (c = 0; c < CCHILD__MAX; c++) {
		if (!t->in->child_set[c])
			continue;
		p[0] = DB_I64(t->tenant_pk);
		if ((e = db_exec(db, children[c].del, p, 1, NULL)) != DBE_OK)
			return e;
		json_array_foreach(t->in->child[c], i, item) {
			p[1] = DB_STR(json_string_value(item));
			e = db_exec(db, children[c].ins, p, 2, NULL);
			if (e != DBE_OK)
				return e;
		}
	}
	p[0] = p[1] = p[2] = DB_I64(t->tenant_pk);
	return db_exec(db, sql_counts, p, 3, NULL);
}

static enum db_err
import_fn(struct db *db, void *arg)
{
	struct conn_txn		*t = arg;
	const struct conn_input	*in = t->in;
	struct conn_ref		*ref = t->ref;
	struct db_param		 p[6];
	struct db_row		 row;
	struct db_res		*res = NULL;
	char			 guid[37];
	enum db_err		 e;
	int			 rc;

	t->result = TR_ERROR;
	ref->created = false;
	/* One import per account at a time: idempotent without races. */
	if ((e = lock_account(db, t->account)) != DBE_OK)
		return e;
	p[0] = DB_I64(t->account);
	p[1] = DB_STR(in->t.v[TC_MS_TENANT_ID]);
	if ((rc = db_one(db, sql_import_find, p, 2, &row, &res)) == -1)
		return failed(db);
	if (rc == 1) {
		snprintf(ref->id, sizeof(ref->id), "%s", row.v[0]);
		snprintf(guid, sizeof(guid), "%s", row.v[1]);
	}
	db_res_free(res);
	if (rc == 1) {
		if ((e = update_tenant(db, t, guid)) != DBE_OK)
			return e;
		p[0] = DB_STR(in->label);
		p[1] = DB_I64(in->status_set);
		p[2] = DB_STR(in->status);
		p[3] = DB_STR(ref->id);
		e = db_exec(db, sql_conn_update, p, 4, NULL);
	} else {
		ref->created = true;
		memcpy(ref->id, "conn_", 5);
		if (random_b62(ref->id + 5, CONN_ID_LEN - 5) == -1)
			return DBE_OTHER;
		if ((e = insert_tenant(db, t)) != DBE_OK)
			return e;
		p[0] = DB_STR(ref->id);
		p[1] = DB_I64(t->account);
		p[2] = DB_I64(t->tenant_pk);
		p[3] = DB_STR(in->t.v[TC_MS_TENANT_ID]);
		p[4] = DB_STR(in->label ? in->label : in->t.v[TC_DISPLAY_NAME]);
		p[5] = DB_STR(in->status);
		e = db_exec(db, sql_conn_insert, p, 6, NULL);
	}
	if (e != DBE_OK || (e = replace_children(db, t)) != DBE_OK ||
	    (e = primary_ensure(db, t->account)) != DBE_OK)
		return e;
	snprintf(ref->ms_tenant_id, sizeof(ref->ms_tenant_id), "%s",
	    in->t.v[TC_MS_TENANT_ID]);
	if ((e = audit(db, t, "connection.import", ref->created ?
	    ",\"result\":\"created\"" : ",\"result\":\"updated\"")) == DBE_OK)
		t->result = TR_OK;
	return e;
}

static enum tres
run(struct db *db, enum db_err (*fn)(struct db *, void *), struct conn_txn *t)
{
	enum db_err	 e;

	e = db_txn(db, fn, t);
	if (e == DBE_OK)
		return TR_OK;
	if (t->result != TR_ERROR && t->result != TR_OK)
		return t->result;
	return tenants_result(e);
}

enum tres
connections_import(struct db *db, const struct principal *who,
    const struct conn_input *in, const char *request_id, struct conn_ref *ref)
{
	struct conn_txn	 t = { .who = who, .account = who->account_id,
	    .in = in, .request_id = request_id, .ref = ref };

	memset(ref, 0, sizeof(*ref));
	return run(db, import_fn, &t);
}

static enum db_err
activate_fn(struct db *db, void *arg)
{
	struct conn_txn	*t = arg;
	struct db_param	 p[3];
	enum db_err	 e;

	if ((e = lock_connection(db, t)) != DBE_OK)
		return e;
	p[0] = DB_STR(t->ref->id);
	p[1] = DB_I64(t->tenant_pk);
	p[2] = DB_I64(t->account);
	if ((e = db_exec(db, sql_activate, p, 3, NULL)) != DBE_OK ||
	    (e = audit(db, t, "connection.activate", NULL)) != DBE_OK)
		return e;
	t->result = TR_OK;
	return DBE_OK;
}

enum tres
connections_activate(struct db *db, const struct principal *who,
    const char *id, const char *request_id, struct conn_ref *ref)
{
	struct conn_txn	 t = { .who = who, .by = CBY_ID, .key = id,
	    .request_id = request_id, .ref = ref };

	memset(ref, 0, sizeof(*ref));
	return run(db, activate_fn, &t);
}

static enum db_err
disconnect_fn(struct db *db, void *arg)
{
	struct conn_txn	*t = arg;
	struct db_param	 p[2];
	struct db_row	 row;
	struct db_res	*res = NULL;
	char		 extra[64];
	enum db_err	 e;
	int		 rc;

	if ((e = lock_connection(db, t)) != DBE_OK)
		return e;
	p[0] = DB_I64(t->account);
	if ((rc = db_one(db, sql_active_count, p, 1, &row, &res)) == 1 &&
	    strtoll(row.v[0], NULL, 10) <= 1)
		t->result = TR_CONFLICT;
	db_res_free(res);
	if (rc != 1)
		return failed(db);
	if (t->result == TR_CONFLICT)
		return DBE_OTHER;
	p[0] = DB_I64(t->retention_days);
	p[1] = DB_STR(t->ref->id);
	if ((e = db_exec(db, sql_disconnect, p, 2, NULL)) != DBE_OK)
		return e;
	if (t->retention_days == 0 &&
	    (e = delete_tenant(db, t->account, t->tenant_pk)) != DBE_OK)
		return e;
	/* Strings only: audit details read back from XML are untyped. */
	snprintf(extra, sizeof(extra), ",\"retentionDays\":\"%ld\"",
	    t->retention_days);
	if ((e = primary_ensure(db, t->account)) != DBE_OK ||
	    (e = audit(db, t, "connection.disconnect", extra)) != DBE_OK)
		return e;
	t->result = TR_OK;
	return DBE_OK;
}

enum tres
connections_disconnect(struct db *db, const struct principal *who,
    const char *id, long retention_days, const char *request_id,
    struct conn_ref *ref)
{
	struct conn_txn	 t = { .who = who, .by = CBY_ID, .key = id,
	    .retention_days = retention_days, .request_id = request_id,
	    .ref = ref };
	enum tres	 r;

	memset(ref, 0, sizeof(*ref));
	if ((r = run(db, disconnect_fn, &t)) == TR_OK && retention_days == 0)
		/* tenant keys went with the tenant */
		db_on_commit(db, keycache_invalidate);
	return r;
}

static enum db_err
purge_tenant_fn(struct db *db, void *arg)
{
	struct conn_txn	*t = arg;
	enum db_err	 e;

	if ((e = lock_connection(db, t)) != DBE_OK ||
	    (e = delete_tenant(db, t->account, t->tenant_pk)) != DBE_OK ||
	    (e = primary_ensure(db, t->account)) != DBE_OK ||
	    (e = audit(db, t, "connection.delete", NULL)) != DBE_OK)
		return e;
	t->result = TR_OK;
	return DBE_OK;
}

enum tres
connections_purge_tenant(struct db *db, const struct principal *who,
    const char *ms_tenant_id, const char *request_id, struct conn_ref *ref)
{
	struct conn_txn	 t = { .who = who, .by = CBY_MS_TENANT_ID,
	    .key = ms_tenant_id, .request_id = request_id, .ref = ref };
	enum tres	 r;

	memset(ref, 0, sizeof(*ref));
	if ((r = run(db, purge_tenant_fn, &t)) == TR_OK)
		db_on_commit(db, keycache_invalidate);
	return r;
}

/* Claims one connection whose retention ended and purges its tenant. */
static enum db_err
purge_one_fn(struct db *db, void *arg)
{
	struct conn_txn		*t = arg;
	struct principal	 system = { .via = VIA_NONE };
	struct db_row		 row;
	struct db_res		*res = NULL;
	enum db_err		 e;
	int			 rc;

	t->result = TR_NOT_FOUND;
	if ((rc = db_one(db, sql_purge_claim, NULL, 0, &row, &res)) != 1) {
		db_res_free(res);
		return rc == 0 ? DBE_OTHER : failed(db);
	}
	snprintf(t->ref->id, sizeof(t->ref->id), "%s", row.v[0]);
	system.account_id = t->account = strtoll(row.v[1], NULL, 10);
	t->tenant_pk = strtoll(row.v[2], NULL, 10);
	db_res_free(res);
	t->who = &system;
	e = delete_tenant(db, t->account, t->tenant_pk);
	if (e == DBE_OK)
		e = audit_write(db, t->who, &(struct audit_event){
		    .action = "connection.purge", .target_type = "connection",
		    .target_id = t->ref->id });
	t->who = NULL;
	if (e == DBE_OK)
		t->result = TR_OK;
	return e;
}

int
connections_purge_due(struct db *db)
{
	struct conn_ref	 ref;
	struct conn_txn	 t = { .ref = &ref };
	int		 n;

	for (n = 0; n < PURGE_BATCH; n++) {
		if (db_txn(db, purge_one_fn, &t) != DBE_OK)
			break;
	}
	if (n > 0)
		keycache_invalidate();
	return t.result == TR_NOT_FOUND || t.result == TR_OK ? n : -1;
}

json_t *
connections_list_json(struct db *db, long long scope, enum corder order,
    const struct conn_field *fields, size_t n, enum tres *r)
{
	struct db_res	*res;
	struct db_row	 row;
	json_t		*list;
	enum db_err	 e;
	int		 rc;

	if ((e = connections_list(db, scope, order, &res)) != DBE_OK) {
		*r = tenants_result(e);
		return NULL;
	}
	list = json_array();
	while ((rc = db_next(res, &row)) == 1)
		json_array_append_new(list, connections_row_json(fields, n,
		    &row));
	db_res_free(res);
	if (rc == -1) {
		json_decref(list);
		*r = TR_ERROR;
		return NULL;
	}
	*r = TR_OK;
	return list;
}
