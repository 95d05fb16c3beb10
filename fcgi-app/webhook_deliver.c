#include "autoconf.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "buf.h"
#include "curl_lib.h"
#include "events.h"
#include "logfile.h"
#include "secretbox.h"
#include "webhook_deliver.h"
#include "webhook_store.h"
#include "webhook_url.h"

#define DELIVER_POLL_US		250000
#define FANOUT_BATCH		200
#define RESPONSE_KEEP		255	/* bytes of a receiver's answer kept */

static const char sql_cursor[] =
    "SELECT event_id FROM webhook_cursor WHERE id = 1 FOR UPDATE";
static const char sql_cursor_set[] =
    "UPDATE webhook_cursor SET event_id = ? WHERE id = 1";
static const char sql_subscribers[] =
    "SELECT id, events FROM webhooks WHERE account_id = ? AND is_active = 1";
static const char sql_enqueue[] =
    "INSERT IGNORE INTO webhook_deliveries (webhook_id, event_id, subject) "
    "VALUES (?, ?, ?)";
/* The oldest due delivery with no earlier one of its subject pending. */
static const char sql_claim[] =
    "SELECT d.id, d.webhook_id, d.event_id, d.attempts, w.url, w.secret, "
    "w.guid, w.account_id FROM webhook_deliveries d "
    "JOIN webhooks w ON w.id = d.webhook_id "
    "WHERE d.status = 'pending' AND d.next_attempt_at <= NOW(3) "
    "AND w.is_active = 1 AND NOT EXISTS (SELECT 1 FROM webhook_deliveries e "
    "WHERE e.webhook_id = d.webhook_id AND e.subject = d.subject "
    "AND e.status = 'pending' AND e.event_id < d.event_id) "
    "ORDER BY d.next_attempt_at, d.id LIMIT 1 FOR UPDATE SKIP LOCKED";
static const char sql_lease[] =
    "UPDATE webhook_deliveries SET next_attempt_at = NOW(3) + INTERVAL ? "
    "SECOND WHERE id = ?";
static const char sql_attempt[] =
    "INSERT INTO webhook_attempts (delivery_id, webhook_id, status_code, "
    "error, duration_ms, response) VALUES (?, ?, ?, ?, ?, ?)";
static const char sql_outcome[] =
    "UPDATE webhook_deliveries SET attempts = attempts + 1, "
    "last_status = ?, last_error = ?, status = ?, "
    "next_attempt_at = NOW(3) + INTERVAL ? SECOND, "
    "completed_at = IF(? = 'pending', NULL, NOW(3)) WHERE id = ?";

enum claimcol {
	CL_ID, CL_WEBHOOK, CL_EVENT, CL_ATTEMPTS, CL_URL, CL_SECRET, CL_GUID,
	CL_ACCOUNT, CL__MAX
};

/* Whether type is on a subscription's comma-separated list ("" = all). */
static int
wanted(const char *list, const char *type)
{
	size_t	 l, n = strlen(type);

	if (*list == '\0')
		return 1;
	while (*list != '\0') {
		l = strcspn(list, ",");
		if (l == n && strncmp(list, type, n) == 0)
			return 1;
		list += l + (list[l] == ',');
	}
	return 0;
}

/*
 * Enqueues ev for its account's subscriptions.  *none is an account found
 * to have none earlier in this batch: one transaction reads one snapshot,
 * so asking again would get the same empty answer (a burst of creates in
 * an account without webhooks cost a statement each).
 */
static enum db_err
enqueue(struct db *db, const struct db_row *ev, long long *none)
{
	struct db_param	 p[3], q[] = { DB_STRN(ev->v[EC_ACCOUNT],
	    ev->len[EC_ACCOUNT]) };
	struct db_res	*res;
	struct db_row	 w;
	const char	*type = events_type(ev->v[EC_ACTION]);
	long long	 account = strtoll(ev->v[EC_ACCOUNT], NULL, 10);
	char		 subject[100];
	bool		 any = false;
	enum db_err	 e;

	if (account == *none)
		return DBE_OK;
	/* A tenant by its guid, which outlives its slug; else the target. */
	snprintf(subject, sizeof(subject), "%s:%s", ev->v[EC_TARGET_TYPE],
	    ev->v[EC_TENANT_GUID] ? ev->v[EC_TENANT_GUID] :
	    ev->v[EC_TARGET_ID] ? ev->v[EC_TARGET_ID] : "");
	if ((e = db_exec(db, sql_subscribers, q, 1, &res)) != DBE_OK)
		return e;
	while (e == DBE_OK && db_next(res, &w) == 1) {
		any = true;
		if (!wanted(w.v[1], type))
			continue;
		p[0] = DB_STRN(w.v[0], w.len[0]);
		p[1] = DB_STRN(ev->v[EC_ID], ev->len[EC_ID]);
		p[2] = DB_STRN(subject, strlen(subject));
		e = db_exec(db, sql_enqueue, p, 3, NULL);
	}
	db_res_free(res);
	if (e == DBE_OK && !any)
		*none = account;
	return e;
}

static enum db_err
fanout_fn(struct db *db, void *arg)
{
	struct db_res	*res, *evs;
	struct db_row	 row;
	long long	 cursor, last, none = -1;
	enum db_err	 e;

	(void)arg;
	if (db_one(db, sql_cursor, NULL, 0, &row, &res) != 1) {
		db_res_free(res);
		return DBE_OTHER;
	}
	last = cursor = strtoll(row.v[0], NULL, 10);
	db_res_free(res);
	if ((e = events_list(db, 0, cursor, FANOUT_BATCH, &evs)) != DBE_OK)
		return e;
	while (e == DBE_OK && db_next(evs, &row) == 1) {
		e = enqueue(db, &row, &none);
		last = strtoll(row.v[EC_ID], NULL, 10);
	}
	db_res_free(evs);
	/* Nothing new writes nothing: the idle round is two reads. */
	if (e == DBE_OK && last != cursor) {
		struct db_param p[] = { DB_I64(last) };

		e = db_exec(db, sql_cursor_set, p, 1, NULL);
	}
	return e;
}

struct claim {
	long long	 lease;		/* seconds a claim holds */
	long long	 id, webhook, event, attempts, account;
	char		 url[WEBHOOK_URL_MAX + 1];
	char		 sealed[256];
	char		 guid[37];
	int		 found;
};

static enum db_err
claim_fn(struct db *db, void *arg)
{
	struct claim	*c = arg;
	struct db_res	*res;
	struct db_row	 row;
	int		 rc;

	c->found = 0;
	if ((rc = db_one(db, sql_claim, NULL, 0, &row, &res)) != 1) {
		db_res_free(res);
		return rc == 0 ? DBE_OK : db_classify(db_errno(db));
	}
	c->id = strtoll(row.v[CL_ID], NULL, 10);
	c->webhook = strtoll(row.v[CL_WEBHOOK], NULL, 10);
	c->event = strtoll(row.v[CL_EVENT], NULL, 10);
	c->attempts = strtoll(row.v[CL_ATTEMPTS], NULL, 10);
	c->account = strtoll(row.v[CL_ACCOUNT], NULL, 10);
	snprintf(c->url, sizeof(c->url), "%s", row.v[CL_URL]);
	snprintf(c->sealed, sizeof(c->sealed), "%s", row.v[CL_SECRET]);
	snprintf(c->guid, sizeof(c->guid), "%s", row.v[CL_GUID]);
	db_res_free(res);
	c->found = 1;
	{
		/* Another node leaves it alone while this one tries. */
		struct db_param p[] = { DB_I64(c->lease), DB_I64(c->id) };

		return db_exec(db, sql_lease, p, 2, NULL);
	}
}

/* What one attempt came to. */
struct attempt {
	long		 status;	/* HTTP status, 0 for none */
	char		 error[256];
	char		 response[RESPONSE_KEEP + 1];
	size_t		 rlen;
	long long	 ms;
};

/* Keeps a printable prefix of the answer; the rest is read and dropped. */
static size_t
on_body(char *p, size_t size, size_t n, void *arg)
{
	struct attempt	*a = arg;
	size_t		 i;

	for (i = 0; i < size * n && a->rlen < RESPONSE_KEEP; i++)
		a->response[a->rlen++] = p[i] >= 0x20 && p[i] < 0x7f ? p[i] : '?';
	a->response[a->rlen] = '\0';
	return size * n;
}

/* "v1," and the base64 HMAC-SHA256 of "id.timestamp.body". */
static int
sign(const char *secret, const char *id, long long ts, const char *body,
    char *out, size_t outlen)
{
	unsigned char	 key[64], mac[EVP_MAX_MD_SIZE];
	unsigned int	 maclen;
	const char	*b64 = secret + 6;
	size_t		 len = strlen(b64);
	int		 klen, rc = -1;
	char		*msg;

	if (strncmp(secret, "whsec_", 6) != 0 || len > 88 ||
	    (klen = EVP_DecodeBlock(key, (const unsigned char *)b64,
	    (int)len)) < 0)
		return -1;
	/* EVP_DecodeBlock counts the bytes padding stands for. */
	while (len > 0 && b64[len - 1] == '=') {
		klen--;
		len--;
	}
	if (asprintf(&msg, "%s.%lld.%s", id, ts, body) == -1)
		goto done;
	if (HMAC(EVP_sha256(), key, klen, (unsigned char *)msg, strlen(msg),
	    mac, &maclen) != NULL && outlen >= 3 + 4 * ((maclen + 2) / 3) + 1) {
		memcpy(out, "v1,", 3);
		EVP_EncodeBlock((unsigned char *)out + 3, mac, (int)maclen);
		rc = 0;
	}
	free(msg);
done:
	OPENSSL_cleanse(key, sizeof(key));
	return rc;
}

static long long
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* POSTs body to the claimed subscription; fills a. */
static void
post(const struct config *cfg, const struct claim *c, const char *secret,
    const char *body, struct attempt *a)
{
	struct webhook_target t;
	struct curl_slist *hdrs = NULL, *pin = NULL;
	CURL		*h;
	CURLcode	 rc;
	const char	*why;
	char		 addr[64], line[256], sig[128], id[32], probe[16];
	long long	 ts = (long long)time(NULL), t0 = now_ms();

	snprintf(id, sizeof(id), "evt_%lld", c->event);
	if ((why = webhook_url_check(c->url, cfg, &t)) != NULL) {
		snprintf(a->error, sizeof(a->error), "the URL %s", why);
		return;
	}
	if (webhook_url_resolve(&t, cfg, addr, sizeof(addr), a->error,
	    sizeof(a->error)) == -1)
		return;
	if (sign(secret, id, ts, body, sig, sizeof(sig)) == -1) {
		snprintf(a->error, sizeof(a->error), "cannot sign");
		return;
	}
	if ((h = curl_lib.easy_init()) == NULL) {
		snprintf(a->error, sizeof(a->error), "out of memory");
		return;
	}
	/* Connect to the address just checked, not one a second lookup finds. */
	if (inet_pton(AF_INET, t.host, probe) != 1 &&
	    inet_pton(AF_INET6, t.host, probe) != 1) {
		snprintf(line, sizeof(line), strchr(addr, ':') ? "%s:%u:[%s]" :
		    "%s:%u:%s", t.host, t.port, addr);
		pin = curl_lib.slist_append(NULL, line);
	}
	hdrs = curl_lib.slist_append(hdrs, "Content-Type: application/json");
	snprintf(line, sizeof(line), "webhook-id: %s", id);
	hdrs = curl_lib.slist_append(hdrs, line);
	snprintf(line, sizeof(line), "webhook-timestamp: %lld", ts);
	hdrs = curl_lib.slist_append(hdrs, line);
	snprintf(line, sizeof(line), "webhook-signature: %s", sig);
	hdrs = curl_lib.slist_append(hdrs, line);
	curl_lib.easy_setopt(h, CURLOPT_URL, c->url);
	curl_lib.easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_lib.easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_lib.easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_lib.easy_setopt(h, CURLOPT_CONNECTTIMEOUT, cfg->webhooks_connect_timeout);
	curl_lib.easy_setopt(h, CURLOPT_TIMEOUT, cfg->webhooks_timeout);
	curl_lib.easy_setopt(h, CURLOPT_USERAGENT, "tenantd-webhooks/" PACKAGE_VERSION);
	curl_lib.easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_lib.easy_setopt(h, CURLOPT_RESOLVE, pin);
	curl_lib.easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_lib.easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_lib.easy_setopt(h, CURLOPT_WRITEDATA, a);
	if ((rc = curl_lib.easy_perform(h)) != CURLE_OK)
		snprintf(a->error, sizeof(a->error), "%s", curl_lib.easy_strerror(rc));
	else {
		curl_lib.easy_getinfo(h, CURLINFO_RESPONSE_CODE, &a->status);
		if (a->status < 200 || a->status > 299)
			snprintf(a->error, sizeof(a->error), "the receiver "
			    "answered %ld", a->status);
	}
	a->ms = now_ms() - t0;
	curl_lib.easy_cleanup(h);
	curl_lib.slist_free_all(hdrs);
	curl_lib.slist_free_all(pin);
}

struct outcome_txn {
	const struct claim	*c;
	const struct attempt	*a;
	const char		*status;
	long long		 delay;
};

static enum db_err
outcome_fn(struct db *db, void *arg)
{
	struct outcome_txn	*t = arg;
	const struct attempt	*a = t->a;
	struct db_param		 p[] = { DB_I64(t->c->id), DB_I64(t->c->webhook),
	    a->status ? DB_I64(a->status) : DB_NULLP,
	    a->error[0] ? DB_STRN(a->error, strlen(a->error)) : DB_NULLP,
	    DB_I64(a->ms),
	    a->rlen ? DB_STRN(a->response, a->rlen) : DB_NULLP };
	struct db_param		 q[] = { p[2], p[3], DB_STR(t->status),
	    DB_I64(t->delay), DB_STR(t->status), DB_I64(t->c->id) };
	enum db_err		 e;

	if ((e = db_exec(db, sql_attempt, p, 6, NULL)) != DBE_OK)
		return e;
	return db_exec(db, sql_outcome, q, 6, NULL);
}

/* Seconds before attempt n + 1: base, 2 base, 4 base, ... up to max. */
static long long
backoff(const struct config *cfg, long long n)
{
	long long	 d = cfg->webhooks_retry_base;

	while (--n > 0 && d < cfg->webhooks_retry_max)
		d *= 2;
	return d < cfg->webhooks_retry_max ? d : cfg->webhooks_retry_max;
}

static int
dump_to(const char *p, size_t n, void *arg)
{
	return buf_append(arg, p, n);
}

/*
 * The event's payload as JSON text into body: 0, or -1 when it is gone.
 * (json_dumps would hand back a block of the process's jansson allocator.)
 */
static int
payload(struct db *db, const struct claim *c, struct buf *body)
{
	struct db_res	*res;
	struct db_row	 row;
	json_t		*ev = NULL;
	int		 rc = -1;

	if (events_get(db, c->account, c->event, &row, &res) == 1 &&
	    (ev = events_json(&row)) != NULL &&
	    json_dump_callback(ev, dump_to, body, JSON_COMPACT) == 0 &&
	    body->data != NULL)
		rc = 0;
	json_decref(ev);
	db_res_free(res);
	return rc;
}

static int
deliver(struct db *db, const struct config *cfg, const struct claim *c)
{
	struct attempt	 a;
	struct outcome_txn t = { c, &a, "pending", 0 };
	struct buf	 body = { 0 };
	char		 secret[WEBHOOK_SECRET_LEN + 16];
	size_t		 n;

	memset(&a, 0, sizeof(a));
	if (payload(db, c, &body) == -1)
		snprintf(a.error, sizeof(a.error), "the event is gone");
	else if (secretbox_open(c->sealed, strlen(c->sealed), c->guid, secret,
	    sizeof(secret), &n) == -1)
		snprintf(a.error, sizeof(a.error), "the signing secret does not "
		    "open (secrets key missing?)");
	else {
		post(cfg, c, secret, body.data, &a);
		OPENSSL_cleanse(secret, sizeof(secret));
	}
	buf_free(&body);
	if (a.error[0] == '\0')
		t.status = "succeeded";
	else if (c->attempts + 1 >= cfg->webhooks_max_attempts)
		t.status = "failed";
	else
		t.delay = backoff(cfg, c->attempts + 1);
	return db_txn(db, outcome_fn, &t) == DBE_OK ? 1 : -1;
}

int
webhook_deliver_once(struct db *db, const struct config *cfg)
{
	struct claim	 c = { .lease = cfg->webhooks_connect_timeout +
	    cfg->webhooks_timeout + 30 };

	if (db_txn(db, fanout_fn, NULL) != DBE_OK ||
	    db_txn(db, claim_fn, &c) != DBE_OK)
		return -1;
	return c.found ? deliver(db, cfg, &c) : 0;
}

int
webhook_deliver_run(const struct config *cfg, volatile sig_atomic_t *stop)
{
	struct db	*db;
	char		 err[256];

	if (curl_lib_load(err, sizeof(err)) == -1) {
		fprintf(stderr, "tenantd: webhooks: cannot load libcurl: %s\n",
		    err);
		return 1;
	}
	db = db_new(&(struct db_params){ .host = cfg->db_host,
	    .port = (unsigned)cfg->db_port, .socket = cfg->db_socket,
	    .user = cfg->db_user, .password = cfg->db_password,
	    .name = cfg->db_name,
	    .connect_timeout = (unsigned)cfg->db_connect_timeout });
	if (db == NULL)
		return 1;
	while (!*stop) {
		if (logfile_reopen_due())
			logfile_reopen();
		if (webhook_deliver_once(db, cfg) != 1)
			usleep(DELIVER_POLL_US);
	}
	db_free(db);
	curl_lib.global_cleanup();
	return 0;
}
