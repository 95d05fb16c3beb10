/*
 * The database connection of one process, with its prepared statements.
 *
 * Every statement is a prepared statement.  The first use of a statement
 * text on a connection prepares it and later uses find it again by its
 * text, so each module keeps its SQL beside the code that reads it.  Parameters and result columns travel as strings (MariaDB
 * converts them), which keeps the binding code in one place.
 */
#ifndef DB_H
#define DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DB_COLS_MAX	64
#define DB_PARAMS_MAX	48
#define DB_HOOKS_MAX	4

struct db;
struct db_res;

struct db_params {
	const char	*host;
	unsigned int	 port;
	const char	*socket;
	const char	*user;
	const char	*password;
	const char	*name;
	unsigned int	 connect_timeout;
	unsigned int	 rw_timeout;	/* reads and writes; 0 = 30 s */
};

enum db_ptype {
	DBP_NULL,
	DBP_STR,
	DBP_I64,
};

struct db_param {
	enum db_ptype	 type;
	const char	*s;
	unsigned long	 len;
	long long	 i;
};

#define DB_STR(x)	((struct db_param){ .type = (x) ? DBP_STR : DBP_NULL, \
			    .s = (x), .len = (x) ? strlen(x) : 0 })
#define DB_STRN(x, n)	((struct db_param){ .type = DBP_STR, .s = (x), .len = (n) })
#define DB_I64(x)	((struct db_param){ .type = DBP_I64, .i = (x) })
#define DB_NULLP	((struct db_param){ .type = DBP_NULL })

struct db_row {
	size_t		 n;
	const char	*v[DB_COLS_MAX];	/* NULL for SQL NULL */
	unsigned long	 len[DB_COLS_MAX];
};

/* Errors callers react to. */
enum db_err {
	DBE_OK = 0,
	DBE_DUP,	/* unique key violated (1062) */
	DBE_RETRY,	/* deadlock, lock wait timeout, Galera certification */
	DBE_LOST,	/* connection gone (2006/2013) */
	DBE_REFUSED,	/* read-only, disk or table full, too many connections */
	DBE_OTHER,
};

struct db	*db_new(const struct db_params *);
int		 db_connect(struct db *);
void		 db_free(struct db *);
int		 db_ping(struct db *);

/*
 * Executes sql with params.  A result set is stored client-side and
 * returned in *res (NULL for statements without one); it stays valid
 * until db_res_free or the next db_exec of the same sql.
 * Outside a transaction a lost connection is reconnected and the
 * statement retried once.
 */
enum db_err	 db_exec(struct db *, const char *sql,
		    const struct db_param *, size_t, struct db_res **);
/*
 * The same, but the rows are read from the server as db_next asks for
 * them, for results too large to hold: nothing else may run on the
 * connection until the last row is read or the result freed.
 */
enum db_err	 db_stream(struct db *, const char *sql,
		    const struct db_param *, size_t, struct db_res **);
/* 1 with a row, 0 at the end, -1 on error. */
int		 db_next(struct db_res *, struct db_row *);
/* Back to the first row, so a caller may look at it before handing on. */
void		 db_rewind(struct db_res *);
void		 db_res_free(struct db_res *);
uint64_t	 db_affected(const struct db *);
/*
 * Runs sql, a DELETE of at most batch rows without parameters, until it
 * deletes fewer or has run batches times (short locks beside live
 * requests; the next call goes on): the rows deleted, -1 on error.
 */
int		 db_purge(struct db *, const char *sql, uint64_t batch,
		    int batches);
uint64_t	 db_insert_id(const struct db *);

/* Runs the statement and reads one row; 1 found, 0 none, -1 error. */
int		 db_one(struct db *, const char *sql, const struct db_param *,
		    size_t, struct db_row *, struct db_res **);

/*
 * Runs fn inside one transaction.  Deadlocks and lock timeouts are retried
 * a few times; a lost connection is reconnected and retried once.  fn
 * returns DBE_OK to commit, anything else to roll back; its own result
 * for the caller goes through arg.
 */
enum db_err	 db_txn(struct db *, enum db_err (*fn)(struct db *, void *),
		    void *arg);
/* The pause before retry attempt + 1 of a deadlocked or timed-out change. */
void		 db_backoff(int attempt);

/*
 * A request's transaction around everything a handler does: db_txn
 * inside it is a savepoint, and nothing is committed before db_end.
 * db_end(commit = false) undoes it all (a dry run).  DBE_RETRY from
 * db_end: a deadlock or a lost connection ended the transaction on the
 * way, so nothing of it was kept and the request may run again.
 */
enum db_err	 db_begin(struct db *);
enum db_err	 db_end(struct db *, bool commit);
/* Whether the server ended the request's transaction (see db_end). */
bool		 db_aborted(const struct db *);
/*
 * Runs fn once the request's transaction commits (never if it rolls
 * back), or now outside one: for effects beyond the database, such as
 * telling other processes that keys changed.
 */
void		 db_on_commit(struct db *, void (*fn)(void));

/*
 * Runs a trusted multi-statement script (a migration file shipped with
 * tenantd, never client input) and discards its results.
 */
int		 db_run_script(struct db *, const char *sql, size_t len);

unsigned int	 db_errno(const struct db *);
const char	*db_error(const struct db *);
enum db_err	 db_classify(unsigned int);

#endif
