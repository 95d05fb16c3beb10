#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mysql.h>
#include <errmsg.h>
#include <mysqld_error.h>

#include "db.h"
#include "metrics.h"

/*
 * Prepared statements kept per connection, least recently used out.  Each
 * holds some 20 KB in the worker (its result metadata and buffers, here
 * and in the client library): 128 of them, with 1024-byte buffers, were
 * most of the 4.7 MB a worker grew by over 120 list shapes.  A request
 * uses a few; the benchmark's endpoints some dozens.
 */
#define DB_STMTS_MAX	64
/*
 * Attempts of one transaction.  On Galera two nodes writing one row keep
 * failing each other's certification (1213 on COMMIT) while both write:
 * four attempts 1-8 ms apart lost to such a pair in the cluster test.
 */
#define DB_TXN_RETRIES	8
/*
 * A string column's first buffer: most values fit, a longer one grows it
 * (res_refetch) for good.  Each of the DB_STMTS_MAX cached statements keeps
 * its buffers: at 1024 bytes, 44 tenant columns a statement made the cache
 * of a worker that has seen many list shapes megabytes (worker RSS).
 */
#define DB_COL_INITIAL	128

/* One prepared statement and the buffers its result columns land in. */
struct db_res {
	struct db	*db;
	char		*sql;		/* key: a copy of the statement text */
	uint64_t	 hash;
	uint64_t	 used;		/* db->tick at the last use */
	MYSQL_STMT	*st;
	unsigned int	 ncols;
	MYSQL_BIND	*out;
	char		**bufs;
	unsigned long	*lens;
	my_bool		*nulls;
	my_bool		*errs;
	/*
	 * Date-times and integers are bound typed and formatted here: the
	 * client library's own conversion to strings goes through sprintf
	 * and was an eighth of a tenant list's instructions (callgrind).
	 */
	union typed {
		MYSQL_TIME	 t;
		long long	 i;
	}		*typed;
	unsigned char	*kinds;		/* enum col_kind */
	unsigned char	*decimals;	/* fractional digits of a date-time */
	bool		 stored;	/* a result is open */
	bool		 streamed;	/* ... and read from the server row by row */
};

enum col_kind {
	COL_STRING,
	COL_DATETIME,
	COL_DATE,
	COL_INT,
	COL_UINT,
};

struct db {
	struct db_params p;
	MYSQL		*m;
	struct db_res	 stmts[DB_STMTS_MAX];
	size_t		 nstmts;
	bool		 in_txn;
	bool		 connected;	/* once: a later connect is a reconnect */
	bool		 outer;		/* in a request's transaction (db_begin) */
	bool		 aborted;	/* the server ended it: only a rollback */
	unsigned int	 depth;		/* savepoints of nested db_txn */
	void		(*hooks[DB_HOOKS_MAX])(void);
	size_t		 nhooks;
	uint64_t	 tick;
	unsigned int	 err;
	char		 errmsg[256];
	uint64_t	 affected;
	uint64_t	 insert_id;
};

static void
res_clear(struct db_res *r)
{
	unsigned int	 i;

	if (r->st != NULL)
		mysql_stmt_close(r->st);
	for (i = 0; i < r->ncols; i++)
		free(r->bufs[i]);
	free(r->out);
	free(r->bufs);
	free(r->lens);
	free(r->nulls);
	free(r->errs);
	free(r->typed);
	free(r->kinds);
	free(r->decimals);
	free(r->sql);
	memset(r, 0, sizeof(*r));
}

/* Counted by kind for /metrics, in the order of enum db_err. */
static const enum metric err_metric[] = {
	[DBE_DUP] = MC_DB_ERR_DUP, [DBE_RETRY] = MC_DB_ERR_RETRY,
	[DBE_LOST] = MC_DB_ERR_LOST, [DBE_OTHER] = MC_DB_ERR_OTHER,
};

static void
set_err(struct db *db, unsigned int code, const char *msg)
{
	if (code != 0)
		metrics_count(err_metric[db_classify(code)]);
	db->err = code;
	snprintf(db->errmsg, sizeof(db->errmsg), "%s", msg);
}

static void
disconnect(struct db *db)
{
	size_t	 i;

	for (i = 0; i < db->nstmts; i++)
		res_clear(&db->stmts[i]);
	db->nstmts = 0;
	if (db->m != NULL)
		mysql_close(db->m);
	db->m = NULL;
	db->in_txn = false;
	db->aborted = db->outer;
}

struct db *
db_new(const struct db_params *p)
{
	struct db	*db;

	if ((db = calloc(1, sizeof(*db))) == NULL)
		return NULL;
	db->p = *p;
	return db;
}

int
db_connect(struct db *db)
{
	unsigned int	 timeout = db->p.connect_timeout;
	unsigned int	 rw = db->p.rw_timeout ? db->p.rw_timeout : 30;
	const char	*init = "SET time_zone = '+00:00', sql_mode = "
	    "'STRICT_ALL_TABLES,NO_ZERO_DATE,NO_ZERO_IN_DATE,"
	    "ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'";

	disconnect(db);
	if ((db->m = mysql_init(NULL)) == NULL) {
		set_err(db, CR_OUT_OF_MEMORY, "out of memory");
		return -1;
	}
	mysql_options(db->m, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
	mysql_options(db->m, MYSQL_OPT_READ_TIMEOUT, &rw);
	mysql_options(db->m, MYSQL_OPT_WRITE_TIMEOUT, &rw);
	mysql_options(db->m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	mysql_options(db->m, MYSQL_INIT_COMMAND, init);
	if (mysql_real_connect(db->m,
	    db->p.socket && *db->p.socket ? NULL : db->p.host,
	    db->p.user, db->p.password, db->p.name, db->p.port,
	    db->p.socket && *db->p.socket ? db->p.socket : NULL,
	    CLIENT_FOUND_ROWS) == NULL) {
		set_err(db, mysql_errno(db->m), mysql_error(db->m));
		mysql_close(db->m);
		db->m = NULL;
		return -1;
	}
	if (db->connected)
		metrics_count(MC_DB_RECONNECTS);
	db->connected = true;
	return 0;
}

void
db_free(struct db *db)
{
	if (db == NULL)
		return;
	disconnect(db);
	free(db);
}

int
db_ping(struct db *db)
{
	if (db->m == NULL && db_connect(db) == -1)
		return -1;
	if (mysql_ping(db->m) == 0)
		return 0;
	return db_connect(db);
}

enum db_err
db_classify(unsigned int code)
{
	switch (code) {
	case 0:
		return DBE_OK;
	case ER_DUP_ENTRY:
		return DBE_DUP;
	case ER_LOCK_DEADLOCK:
	case ER_LOCK_WAIT_TIMEOUT:
		return DBE_RETRY;
	case CR_SERVER_GONE_ERROR:
	case CR_SERVER_LOST:
	case CR_CONNECTION_ERROR:
	case CR_CONN_HOST_ERROR:
	case CR_SERVER_LOST_EXTENDED:
	case ER_CONNECTION_KILLED:
	/* Galera: this node is not in the primary component (1047). */
	case ER_UNKNOWN_COM_ERROR:
		return DBE_LOST;
	/* The server is there but refuses for now: nothing to retry at once. */
	case ER_OPTION_PREVENTS_STATEMENT:	/* read_only */
	case ER_READ_ONLY_MODE:
	case ER_RECORD_FILE_FULL:		/* tablespace or disk full */
	case ER_DISK_FULL:
	case ER_CON_COUNT_ERROR:
	case ER_OUT_OF_RESOURCES:
	case ER_SERVER_SHUTDOWN:
		return DBE_REFUSED;
	default:
		return DBE_OTHER;
	}
}

static enum db_err
stmt_err(struct db *db, MYSQL_STMT *st)
{
	enum db_err	 e;

	set_err(db, mysql_stmt_errno(st), mysql_stmt_error(st));
	e = db_classify(db->err);
	if (db->outer && (e == DBE_RETRY || e == DBE_LOST))
		db->aborted = true;
	return e;
}

static enum col_kind
col_kind(const MYSQL_FIELD *f)
{
	switch (f->type) {
	case MYSQL_TYPE_DATETIME:
	case MYSQL_TYPE_TIMESTAMP:
		return COL_DATETIME;
	case MYSQL_TYPE_DATE:
		return COL_DATE;
	case MYSQL_TYPE_TINY:
	case MYSQL_TYPE_SHORT:
	case MYSQL_TYPE_INT24:
	case MYSQL_TYPE_LONG:
	case MYSQL_TYPE_LONGLONG:
		return f->flags & UNSIGNED_FLAG ? COL_UINT : COL_INT;
	default:
		return COL_STRING;
	}
}

/* Column i of f's kind; bufs[i] (cap bytes) holds it as text. */
static void
bind_col(struct db_res *r, unsigned int i, const MYSQL_FIELD *f, size_t cap)
{
	MYSQL_BIND	*b = &r->out[i];

	r->kinds[i] = (unsigned char)col_kind(f);
	r->decimals[i] = (unsigned char)(f->decimals > 6 ? 6 : f->decimals);
	b->length = &r->lens[i];
	b->is_null = &r->nulls[i];
	b->error = &r->errs[i];
	switch (r->kinds[i]) {
	case COL_DATETIME:
	case COL_DATE:
		b->buffer_type = r->kinds[i] == COL_DATE ? MYSQL_TYPE_DATE :
		    MYSQL_TYPE_DATETIME;
		b->buffer = &r->typed[i].t;
		b->buffer_length = sizeof(MYSQL_TIME);
		break;
	case COL_INT:
	case COL_UINT:
		b->buffer_type = MYSQL_TYPE_LONGLONG;
		b->is_unsigned = r->kinds[i] == COL_UINT;
		b->buffer = &r->typed[i].i;
		b->buffer_length = sizeof(long long);
		break;
	default:
		/* The last byte is db_next's NUL: a value of exactly the
		 * buffer's length is not truncated, and must still fit it. */
		b->buffer_type = MYSQL_TYPE_STRING;
		b->buffer = r->bufs[i];
		b->buffer_length = cap - 1;
		break;
	}
}

/*
 * Binds every result column: strings into buffers that grow on demand,
 * date-times and integers typed (formatted by db_next into the same
 * buffers, as the library would have written them).
 */
static int
res_bind_out(struct db_res *r)
{
	MYSQL_RES	*meta;
	MYSQL_FIELD	*f;
	unsigned int	 i;
	size_t		 cap;

	if ((meta = mysql_stmt_result_metadata(r->st)) == NULL)
		return 0;
	r->ncols = mysql_num_fields(meta);
	if (r->ncols > DB_COLS_MAX)
		goto fail;
	r->out = calloc(r->ncols, sizeof(*r->out));
	r->bufs = calloc(r->ncols, sizeof(*r->bufs));
	r->lens = calloc(r->ncols, sizeof(*r->lens));
	r->nulls = calloc(r->ncols, sizeof(*r->nulls));
	r->errs = calloc(r->ncols, sizeof(*r->errs));
	r->typed = calloc(r->ncols, sizeof(*r->typed));
	r->kinds = calloc(r->ncols, sizeof(*r->kinds));
	r->decimals = calloc(r->ncols, sizeof(*r->decimals));
	if (!r->out || !r->bufs || !r->lens || !r->nulls || !r->errs ||
	    !r->typed || !r->kinds || !r->decimals)
		goto fail;
	for (i = 0; i < r->ncols; i++) {
		f = mysql_fetch_field_direct(meta, i);
		cap = f->length < DB_COL_INITIAL ? f->length + 1 : DB_COL_INITIAL;
		if (cap < 32)
			cap = 32;
		if ((r->bufs[i] = malloc(cap)) == NULL)
			goto fail;
		bind_col(r, i, f, cap);
	}
	mysql_free_result(meta);
	return mysql_stmt_bind_result(r->st, r->out) ? -1 : 0;
fail:
	mysql_free_result(meta);
	return -1;
}

/* n as exactly w decimal digits at p. */
static char *
digits(char *p, unsigned long n, int w)
{
	int	 i;

	for (i = w - 1; i >= 0; i--) {
		p[i] = (char)('0' + n % 10);
		n /= 10;
	}
	return p + w;
}

/* A decimal integer into buf, as MariaDB sends it as text; its length. */
static unsigned long
format_int(long long v, bool is_unsigned, char *buf)
{
	unsigned long long u = (unsigned long long)v;
	char		 tmp[24], *q = tmp + sizeof(tmp), *p = buf;

	if (!is_unsigned && v < 0) {
		*p++ = '-';
		u = 0ULL - u;
	}
	do {
		*--q = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	memcpy(p, q, (size_t)(tmp + sizeof(tmp) - q));
	p += tmp + sizeof(tmp) - q;
	*p = '\0';
	return (unsigned long)(p - buf);
}

/*
 * "YYYY-MM-DD", or "YYYY-MM-DD HH:MM:SS[.f…]" with the column's
 * fractional digits, into buf, as MariaDB sends it as text; its length.
 */
static unsigned long
format_time(const MYSQL_TIME *t, bool with_time, unsigned int decimals,
    char *buf)
{
	char	*p = buf;

	p = digits(p, t->year, 4);
	*p++ = '-';
	p = digits(p, t->month, 2);
	*p++ = '-';
	p = digits(p, t->day, 2);
	if (with_time) {
		*p++ = ' ';
		p = digits(p, t->hour, 2);
		*p++ = ':';
		p = digits(p, t->minute, 2);
		*p++ = ':';
		p = digits(p, t->second, 2);
		if (decimals > 0) {
			/* microseconds, cut to the column's digits */
			*p++ = '.';
			p = digits(p, t->second_part, 6) - (6 - decimals);
		}
	}
	*p = '\0';
	return (unsigned long)(p - buf);
}

static unsigned long
format_typed(const struct db_res *r, unsigned int i, char *buf)
{
	if (r->kinds[i] == COL_INT || r->kinds[i] == COL_UINT)
		return format_int(r->typed[i].i, r->kinds[i] == COL_UINT, buf);
	return format_time(&r->typed[i].t, r->kinds[i] == COL_DATETIME,
	    r->decimals[i], buf);
}

static uint64_t
text_hash(const char *s)
{
	uint64_t	 h = 1469598103934665603ULL;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

/*
 * The prepared statement for this text, preparing it on first use.
 * Lookup is by content, so statements built at run time (list queries
 * with their filters) are prepared once per shape, not per request.
 */
static struct db_res *
stmt_get(struct db *db, const char *sql)
{
	struct db_res	*r;
	uint64_t	 h = text_hash(sql);
	size_t		 i;

	for (i = 0; i < db->nstmts; i++)
		if (db->stmts[i].hash == h && db->stmts[i].sql != NULL &&
		    strcmp(db->stmts[i].sql, sql) == 0) {
			db->stmts[i].used = ++db->tick;
			return &db->stmts[i];
		}
	if (db->nstmts < DB_STMTS_MAX)
		r = &db->stmts[db->nstmts++];
	else {
		/*
		 * Full: the least recently used statement goes.  Callers hold
		 * rows of the last few statements only, never of that one.
		 */
		r = &db->stmts[0];
		for (i = 1; i < db->nstmts; i++)
			if (db->stmts[i].used < r->used)
				r = &db->stmts[i];
		res_clear(r);
	}
	memset(r, 0, sizeof(*r));
	r->used = ++db->tick;
	r->db = db;
	r->hash = h;
	if ((r->sql = strdup(sql)) == NULL) {
		set_err(db, CR_OUT_OF_MEMORY, "out of memory");
		return NULL;
	}
	if ((r->st = mysql_stmt_init(db->m)) == NULL) {
		set_err(db, mysql_errno(db->m), mysql_error(db->m));
		res_clear(r);
		return NULL;
	}
	if (mysql_stmt_prepare(r->st, sql, strlen(sql)) != 0) {
		stmt_err(db, r->st);
		res_clear(r);
		return NULL;
	}
	if (res_bind_out(r) == -1) {
		set_err(db, CR_OUT_OF_MEMORY, "cannot bind result columns");
		res_clear(r);
		return NULL;
	}
	return r;
}

static enum db_err
exec_once(struct db *db, const char *sql, const struct db_param *p, size_t np,
    bool stream, struct db_res **res)
{
	MYSQL_BIND	 in[DB_PARAMS_MAX];
	my_bool		 isnull = 1;
	struct db_res	*r;
	size_t		 i;

	/*
	 * After a deadlock or a lost connection the server has ended the
	 * request's transaction: a statement now would run outside it.
	 */
	if (db->aborted)
		return DBE_RETRY;
	if (db->m == NULL && db_connect(db) == -1)
		return db_classify(db->err) == DBE_OTHER ? DBE_LOST :
		    db_classify(db->err);
	if ((r = stmt_get(db, sql)) == NULL)
		return db_classify(db->err);
	if (r->stored) {
		mysql_stmt_free_result(r->st);
		r->stored = false;
		r->streamed = false;
	}
	if (np > DB_PARAMS_MAX || np != mysql_stmt_param_count(r->st)) {
		set_err(db, CR_UNKNOWN_ERROR, "parameter count mismatch");
		return DBE_OTHER;
	}
	memset(in, 0, sizeof(in));
	for (i = 0; i < np; i++) {
		switch (p[i].type) {
		case DBP_NULL:
			in[i].buffer_type = MYSQL_TYPE_NULL;
			in[i].is_null = &isnull;
			break;
		case DBP_STR:
			in[i].buffer_type = MYSQL_TYPE_STRING;
			in[i].buffer = (void *)(uintptr_t)p[i].s;
			in[i].buffer_length = p[i].len;
			in[i].length = (unsigned long *)(uintptr_t)&p[i].len;
			break;
		case DBP_I64:
			in[i].buffer_type = MYSQL_TYPE_LONGLONG;
			in[i].buffer = (void *)(uintptr_t)&p[i].i;
			break;
		}
	}
	if (np > 0 && mysql_stmt_bind_param(r->st, in) != 0)
		return stmt_err(db, r->st);
	if (mysql_stmt_execute(r->st) != 0)
		return stmt_err(db, r->st);
	db->affected = mysql_stmt_affected_rows(r->st);
	db->insert_id = mysql_stmt_insert_id(r->st);
	if (r->ncols > 0) {
		if (!stream && mysql_stmt_store_result(r->st) != 0)
			return stmt_err(db, r->st);
		r->stored = true;
		r->streamed = stream;
	}
	if (res != NULL)
		*res = r->ncols > 0 ? r : NULL;
	set_err(db, 0, "");
	return DBE_OK;
}

static enum db_err
exec_retried(struct db *db, const char *sql, const struct db_param *p,
    size_t np, bool stream, struct db_res **res)
{
	enum db_err	 e;

	if (res != NULL)
		*res = NULL;
	e = exec_once(db, sql, p, np, stream, res);
	if (e == DBE_LOST && !db->in_txn) {
		if (db_connect(db) == -1)
			return DBE_LOST;
		e = exec_once(db, sql, p, np, stream, res);
	}
	return e;
}

enum db_err
db_exec(struct db *db, const char *sql, const struct db_param *p, size_t np,
    struct db_res **res)
{
	return exec_retried(db, sql, p, np, false, res);
}

enum db_err
db_stream(struct db *db, const char *sql, const struct db_param *p,
    size_t np, struct db_res **res)
{
	return exec_retried(db, sql, p, np, true, res);
}

/* A column longer than its buffer: grow the buffer and fetch it again. */
static int
res_refetch(struct db_res *r)
{
	unsigned int	 i;
	char		*nb;

	for (i = 0; i < r->ncols; i++) {
		if (r->kinds[i] != COL_STRING || !r->errs[i] ||
		    r->lens[i] <= r->out[i].buffer_length)
			continue;
		if ((nb = realloc(r->bufs[i], r->lens[i] + 1)) == NULL)
			return -1;
		r->bufs[i] = nb;
		r->out[i].buffer = nb;
		r->out[i].buffer_length = r->lens[i];	/* and the NUL */
		if (mysql_stmt_fetch_column(r->st, &r->out[i], i, 0) != 0)
			return -1;
	}
	return mysql_stmt_bind_result(r->st, r->out) ? -1 : 0;
}

int
db_next(struct db_res *r, struct db_row *row)
{
	unsigned int	 i;
	int		 rc;

	if (r == NULL)
		return 0;
	rc = mysql_stmt_fetch(r->st);
	if (rc == MYSQL_NO_DATA)
		return 0;
	if (rc == MYSQL_DATA_TRUNCATED && res_refetch(r) == -1)
		return -1;
	if (rc != 0 && rc != MYSQL_DATA_TRUNCATED) {
		stmt_err(r->db, r->st);
		return -1;
	}
	row->n = r->ncols;
	for (i = 0; i < r->ncols; i++) {
		if (r->nulls[i]) {
			row->v[i] = NULL;
			row->len[i] = 0;
			continue;
		}
		if (r->kinds[i] != COL_STRING)
			r->lens[i] = format_typed(r, i, r->bufs[i]);
		r->bufs[i][r->lens[i]] = '\0';
		row->v[i] = r->bufs[i];
		row->len[i] = r->lens[i];
	}
	return 1;
}

void
db_rewind(struct db_res *r)
{
	if (r != NULL && r->stored && !r->streamed)
		mysql_stmt_data_seek(r->st, 0);
}

void
db_res_free(struct db_res *r)
{
	if (r == NULL || !r->stored)
		return;
	/* Of a streamed result, the rows not read are read and dropped. */
	mysql_stmt_free_result(r->st);
	r->stored = false;
	r->streamed = false;
}

int
db_one(struct db *db, const char *sql, const struct db_param *p, size_t np,
    struct db_row *row, struct db_res **res)
{
	struct db_res	*r;
	int		 rc;

	if (db_exec(db, sql, p, np, &r) != DBE_OK)
		return -1;
	rc = db_next(r, row);
	if (res != NULL)
		*res = r;
	return rc;
}

uint64_t
db_affected(const struct db *db)
{
	return db->affected;
}

int
db_purge(struct db *db, const char *sql, uint64_t batch, int batches)
{
	int	 n = 0, i;

	for (i = 0; i < batches; i++) {
		if (db_exec(db, sql, NULL, 0, NULL) != DBE_OK)
			return -1;
		n += (int)db->affected;
		if (db->affected < batch)
			break;
	}
	return n;
}

uint64_t
db_insert_id(const struct db *db)
{
	return db->insert_id;
}

unsigned int
db_errno(const struct db *db)
{
	return db->err;
}

const char *
db_error(const struct db *db)
{
	return db->errmsg;
}

static enum db_err
txn_once(struct db *db, enum db_err (*fn)(struct db *, void *), void *arg)
{
	enum db_err	 e;

	if (db->m == NULL && db_connect(db) == -1)
		return DBE_LOST;
	if (mysql_query(db->m, "START TRANSACTION") != 0) {
		set_err(db, mysql_errno(db->m), mysql_error(db->m));
		return db_classify(db->err);
	}
	db->in_txn = true;
	e = fn(db, arg);
	if (e == DBE_OK && mysql_commit(db->m) != 0) {
		set_err(db, mysql_errno(db->m), mysql_error(db->m));
		e = db_classify(db->err);
		if (e == DBE_OK)
			e = DBE_OTHER;
	}
	if (e != DBE_OK && db->m != NULL)
		mysql_rollback(db->m);
	db->in_txn = false;
	return e;
}

/* A number in [0, n) that differs between processes (seeded by the pid). */
static unsigned int
jitter(unsigned int n)
{
	static unsigned int	 x;

	if (x == 0)
		x = (unsigned int)getpid() * 2654435761u | 1;
	x = x * 1103515245u + 12345u;
	return (x >> 8) % n;
}

/* A statement of the client's own (no parameters, no result). */
static enum db_err
query(struct db *db, const char *sql)
{
	enum db_err	 e;

	if (db->aborted)
		return DBE_RETRY;
	if (db->m == NULL)
		return DBE_LOST;
	if (mysql_query(db->m, sql) == 0)
		return DBE_OK;
	set_err(db, mysql_errno(db->m), mysql_error(db->m));
	if ((e = db_classify(db->err)) == DBE_OK)
		e = DBE_OTHER;
	if (db->outer && (e == DBE_RETRY || e == DBE_LOST))
		db->aborted = true;
	return e;
}

/*
 * Inside a request's transaction a db_txn is a savepoint: fn's changes
 * are undone alone when it fails, and kept until the request's commit.
 * A deadlock or a lost connection ends the whole transaction; the caller
 * of db_begin sees it in db_end and may run the request again.
 */
static enum db_err
txn_nested(struct db *db, enum db_err (*fn)(struct db *, void *), void *arg)
{
	char		 sp[32];
	enum db_err	 e;

	snprintf(sp, sizeof(sp), "SAVEPOINT s%u", db->depth + 1);
	if ((e = query(db, sp)) != DBE_OK)
		return e;
	db->depth++;
	e = fn(db, arg);
	db->depth--;
	if (db->aborted)
		return e == DBE_OK || e == DBE_DUP || e == DBE_OTHER ?
		    DBE_RETRY : e;
	snprintf(sp, sizeof(sp), "%s SAVEPOINT s%u", e == DBE_OK ? "RELEASE" :
	    "ROLLBACK TO", db->depth + 1);
	if (query(db, sp) != DBE_OK && e == DBE_OK)
		e = db_classify(db->err) == DBE_OK ? DBE_OTHER :
		    db_classify(db->err);
	return e;
}

enum db_err
db_begin(struct db *db)
{
	enum db_err	 e;

	db->aborted = false;
	db->nhooks = 0;
	db->depth = 0;
	if (db->m == NULL && db_connect(db) == -1)
		return DBE_LOST;
	/* An idle connection the server closed: found here, not halfway. */
	if ((e = query(db, "START TRANSACTION")) == DBE_LOST) {
		if (db_connect(db) == -1)
			return DBE_LOST;
		e = query(db, "START TRANSACTION");
	}
	if (e != DBE_OK)
		return e;
	db->in_txn = db->outer = true;
	return DBE_OK;
}

enum db_err
db_end(struct db *db, bool commit)
{
	enum db_err	 e = DBE_OK;
	size_t		 i;

	if (!db->outer)
		return DBE_OTHER;
	if (db->aborted)
		e = DBE_RETRY;
	else if (commit && db->m != NULL && mysql_commit(db->m) != 0) {
		set_err(db, mysql_errno(db->m), mysql_error(db->m));
		if ((e = db_classify(db->err)) == DBE_OK)
			e = DBE_OTHER;
	} else if (!commit && db->m != NULL)
		mysql_rollback(db->m);
	if (e != DBE_OK && db->m != NULL)
		mysql_rollback(db->m);
	db->in_txn = db->outer = db->aborted = false;
	if (e == DBE_OK && commit)
		for (i = 0; i < db->nhooks; i++)
			db->hooks[i]();
	db->nhooks = 0;
	return e;
}

bool
db_aborted(const struct db *db)
{
	return db->aborted;
}

void
db_on_commit(struct db *db, void (*fn)(void))
{
	size_t	 i;

	if (!db->outer) {
		fn();
		return;
	}
	for (i = 0; i < db->nhooks; i++)
		if (db->hooks[i] == fn)
			return;
	if (db->nhooks < DB_HOOKS_MAX)
		db->hooks[db->nhooks++] = fn;
	else
		fn();	/* too early beats never */
}

void
db_backoff(int attempt)
{
	unsigned int	 span;

	/* From 1 ms, doubling to 64; jitter puts rivals out of step. */
	span = 1000u << (attempt < 6 ? attempt : 6);
	usleep(span / 2 + jitter(span));
}

enum db_err
db_txn(struct db *db, enum db_err (*fn)(struct db *, void *), void *arg)
{
	enum db_err	 e;
	int		 attempt, reconnected = 0;

	if (db->outer)
		return txn_nested(db, fn, arg);
	for (attempt = 0; attempt < DB_TXN_RETRIES; attempt++) {
		e = txn_once(db, fn, arg);
		if (e == DBE_RETRY && attempt + 1 < DB_TXN_RETRIES) {
			metrics_count(db->err == ER_LOCK_WAIT_TIMEOUT ?
			    MC_DB_RETRY_1205 : MC_DB_RETRY_1213);
			db_backoff(attempt);
			continue;
		}
		if (e == DBE_LOST && !reconnected) {
			reconnected = 1;
			if (db_connect(db) == 0)
				continue;
		}
		break;
	}
	return e;
}

int
db_run_script(struct db *db, const char *sql, size_t len)
{
	MYSQL_RES	*r;
	int		 rc = 0, next;

	if (db->m == NULL && db_connect(db) == -1)
		return -1;
	mysql_set_server_option(db->m, MYSQL_OPTION_MULTI_STATEMENTS_ON);
	if (mysql_real_query(db->m, sql, len) != 0)
		rc = -1;
	else
		do {
			if ((r = mysql_store_result(db->m)) != NULL)
				mysql_free_result(r);
			if ((next = mysql_next_result(db->m)) > 0)
				rc = -1;
		} while (next == 0);
	if (rc == -1)
		set_err(db, mysql_errno(db->m), mysql_error(db->m));
	mysql_set_server_option(db->m, MYSQL_OPTION_MULTI_STATEMENTS_OFF);
	return rc;
}
