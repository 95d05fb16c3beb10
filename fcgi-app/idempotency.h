/*
 * Idempotency-Key records: for 24 hours, what the first request with a
 * key in an account answered, and the SHA-256 of that request.  Nothing
 * here knows HTTP: the answer is an opaque text to the store.
 */
#ifndef IDEMPOTENCY_H
#define IDEMPOTENCY_H

#include <stdbool.h>

#include <jansson.h>

#include "db.h"

#define IDEM_KEY_MAX	255

struct idem_key {
	long long	 account;
	const char	*key;
	unsigned char	 hash[32];
};

enum idem_found {
	IDEM_NEW,	/* no live record: the request runs */
	IDEM_REPLAY,	/* *answer is the first answer */
	IDEM_REUSED,	/* the key came with another request */
	IDEM_ERROR,
};

/* Hashes the pieces of a request (NUL-terminated strings, then a body). */
void		 idem_hash(struct idem_key *, const char *const *parts,
		    const char *body, size_t body_len);
/*
 * The record of a key, decoded into *answer (a jansson tree); IDEM_NEW
 * with *expired when a record older than the window is in the way.
 */
enum idem_found	 idem_find(struct db *, const struct idem_key *,
		    json_t **answer, bool *expired);
/*
 * In the transaction of the change: takes the key, removing the expired
 * record first.  A concurrent holder of the key makes this wait until its
 * transaction ends; DBE_DUP when it committed (look again), DBE_RETRY
 * after a deadlock or a wait too long.
 */
enum db_err	 idem_claim(struct db *, const struct idem_key *, bool expired);
/* In the same transaction: the answer a replay gets. */
enum db_err	 idem_store(struct db *, const struct idem_key *,
		    const char *answer, size_t len);

/*
 * Removes records past the window (a key that comes back after it runs
 * again anyway): the rows removed, -1 on error.  The provisioning process
 * calls it with its other purges.
 */
int		 idem_purge_expired(struct db *);

#endif
