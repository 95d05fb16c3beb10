#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include <openssl/crypto.h>

#include "keycache.h"

#define KEYCACHE_SLOTS	128	/* direct-mapped by the hash's first bytes */

struct keycache_shared {
	_Atomic uint64_t	 epoch;
};

struct entry {
	unsigned char		 hash[APIKEY_HASH_LEN];
	struct principal	 who;
	time_t			 until;		/* 0 = empty */
};

static struct keycache_shared	*shared;
static long			 ttl;
static uint64_t			 seen;		/* epoch the cache is of */
static struct entry		 slots[KEYCACHE_SLOTS];

struct keycache_shared *
keycache_shared_new(void)
{
	struct keycache_shared	*s;

	s = mmap(NULL, sizeof(*s), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (s == MAP_FAILED)
		return NULL;
	atomic_init(&s->epoch, 0);
	return s;
}

void
keycache_attach(struct keycache_shared *s, long seconds)
{
	shared = s;
	ttl = s != NULL ? seconds : 0;
	seen = s != NULL ? atomic_load(&s->epoch) : 0;
	memset(slots, 0, sizeof(slots));
}

void
keycache_invalidate(void)
{
	memset(slots, 0, sizeof(slots));
	if (shared != NULL)
		seen = atomic_fetch_add(&shared->epoch, 1) + 1;
}

static struct entry *
slot_for(const unsigned char *hash)
{
	return &slots[((unsigned)hash[0] << 8 | hash[1]) % KEYCACHE_SLOTS];
}

int
keycache_get(const unsigned char hash[APIKEY_HASH_LEN], time_t now,
    struct principal *out)
{
	struct entry	*e;
	uint64_t	 epoch;

	if (ttl <= 0)
		return 0;
	if ((epoch = atomic_load(&shared->epoch)) != seen) {
		memset(slots, 0, sizeof(slots));
		seen = epoch;
		return 0;
	}
	e = slot_for(hash);
	if (e->until == 0 || now >= e->until ||
	    CRYPTO_memcmp(e->hash, hash, APIKEY_HASH_LEN) != 0)
		return 0;
	*out = e->who;
	return 1;
}

void
keycache_put(const unsigned char hash[APIKEY_HASH_LEN],
    const struct principal *who, time_t expires, time_t now)
{
	struct entry	*e;

	if (ttl <= 0)
		return;
	e = slot_for(hash);
	memcpy(e->hash, hash, APIKEY_HASH_LEN);
	e->who = *who;
	e->until = now + ttl;
	if (expires > 0 && expires < e->until)
		e->until = expires;
}
